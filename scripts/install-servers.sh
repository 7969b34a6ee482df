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
install_pds
install_languagetool
