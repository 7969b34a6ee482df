#!/usr/bin/env bash
# Installs the real servers the `servers` test tier runs, once, into a cache OUTSIDE the clone
# (so a second run is warm and nothing big lands in the repository).
# Idempotent and non-interactive: each part is skipped when its result is already there.
# Each server has its own function below; add new servers as new functions, called at the end.
set -euo pipefail

CACHE_DIR=${ALERTCAST_CACHE_DIR:-$HOME/.cache/alertcast}

# --- Matrix: Synapse (the reference homeserver; Tchap is Matrix) ---------------------------------
# A virtualenv of its own: Synapse pins many libraries (Twisted, ...) that must not meet the
# project's. tests/servers/synapse.py runs "$CACHE_DIR/synapse-venv/bin/python -m synapse.app.homeserver".
SYNAPSE_VERSION=1.163.2
install_synapse() {
    local venv="$CACHE_DIR/synapse-venv"
    local python=${SYNAPSE_PYTHON:-python3}
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import synapse, sys; sys.exit(synapse.__version__ != '$SYNAPSE_VERSION')" 2>/dev/null; then
        echo "install-servers: synapse $SYNAPSE_VERSION present: $venv"
        return 0
    fi
    echo "install-servers: installing matrix-synapse==$SYNAPSE_VERSION into $venv"
    rm -rf "$venv.partial"
    mkdir -p "$CACHE_DIR"
    "$python" -m venv "$venv.partial"
    "$venv.partial/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
    # Built beside, then moved: an interrupted install never looks like a finished one.
    rm -rf "$venv"
    mv "$venv.partial" "$venv"
    # A moved venv keeps its old path in scripts' shebangs; we only ever run bin/python -m ...,
    # whose sys.prefix follows the interpreter, so the move is harmless.
    echo "install-servers: installed synapse $("$venv/bin/python" -c 'import synapse; print(synapse.__version__)')"
}
# --- end Matrix ----------------------------------------------------------------------------------

# E-mail needs no install here: aiosmtpd is a pip dev dependency of the project (pyproject.toml),
# and the test certificate is made at test time with openssl.

# --- IMAP: Debian's dovecot-imapd (replies to our alert e-mails, alertcast/channels/email_replies.py) ----
# A system package (apt-get, as root or through sudo), but never run as a system service: the
# tests start /usr/sbin/dovecot (as the current user; as root, as the dovecot user) from a private config folder on a free port
# (tests/servers/dovecot.py). A Debian postinst may start the service where invoke-rc.d allows;
# containers usually forbid it (policy-rc.d), and the tests never use port 143 anyway.
DOVECOT=/usr/sbin/dovecot
install_dovecot() {
    if [ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/imap ]; then
        echo "install-servers: dovecot present: $("$DOVECOT" --version 2>/dev/null || echo "$DOVECOT")"
        return 0
    fi
    local run=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            echo "install-servers: need root (or sudo) to apt-get install dovecot-imapd" >&2
            exit 1
        }
        run=(sudo -n)
    fi
    echo "install-servers: installing Debian's dovecot-imapd with apt-get"
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dovecot-imapd
    echo "install-servers: installed dovecot $("$DOVECOT" --version)"
}
# --- end IMAP ------------------------------------------------------------------------------------

# --- Bluesky: the reference PDS + a local PLC (npm, into $CACHE_DIR/pds) --------------------------
install_pds() { "$(dirname "${BASH_SOURCE[0]}")/install-pds.sh"; }

# --- Grammar: LanguageTool (jars from Maven Central, like the broker's) ----------------------------
# alertcast/languagetool.py fetches deploy/languagetool/pom.xml's jars into
# "$CACHE_DIR/languagetool-<version>/libs" once (skipped when present); tests start the server.
install_languagetool() {
    local root python
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    python=${ALERTCAST_PYTHON:-$root/.venv/bin/python}
    ALERTCAST_CACHE_DIR="$CACHE_DIR" "$python" -c '
from alertcast import languagetool
from alertcast.settings import get_settings
libs = languagetool.install(get_settings().cache_dir, lambda line: print("install-servers:", line))
print("install-servers: LanguageTool", languagetool.LANGUAGETOOL_VERSION, "present:", libs)'
}

install_synapse
install_dovecot
install_pds
install_languagetool
