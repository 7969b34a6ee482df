#!/usr/bin/env bash
# Installs Bluesky's reference PDS (@atproto/pds) and a local PLC directory (@did-plc/server)
# for the `servers` test tier, from deploy/pds/package-lock.json, into
#   ${ALERTCAST_CACHE_DIR:-$HOME/.cache/alertcast}/pds
# (outside the clone, so a second run is warm). Idempotent: skipped when the installed tree
# was made from the same lockfile with the same Node major version.
#
# Why not a plain `npm ci`: npm 11 does not run install scripts of dependencies until they
# are approved, and better-sqlite3's prebuilt download cannot be fetched here anyway. So the
# tree is installed with --ignore-scripts and better-sqlite3 is compiled from source with the
# node-gyp that npm bundles, against the machine's own Node headers (gcc and make needed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/deploy/pds"
CACHE="${ALERTCAST_CACHE_DIR:-$HOME/.cache/alertcast}"
DEST="$CACHE/pds"

command -v node >/dev/null || { echo "install-pds: node is required (Node 20 or newer)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-pds: npm is required" >&2; exit 1; }
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "install-pds: Node $(node --version) is too old: @atproto/pds 0.4.217 needs Node 20 or newer" >&2
  exit 1
fi

STAMP_WANTED="$(cat "$SRC/package-lock.json" | sha256sum | cut -c1-16)-node$NODE_MAJOR"
STAMP_FILE="$DEST/.alertcast-installed"

installed() {
  [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$STAMP_WANTED" ] &&
    [ -f "$DEST/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]
}

if installed; then
  echo "install-pds: already installed in $DEST"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/pds.lock"
flock 9  # another test run may be installing at the same time
if installed; then
  echo "install-pds: already installed in $DEST"
  exit 0
fi

started=$(date +%s)
echo "install-pds: installing @atproto/pds into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"

cd "$DEST"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# node-gyp wants the Node headers; Debian's nodejs ships them under /usr/include/node.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
echo "install-pds: compiling better-sqlite3 from source (about a minute)"
(cd node_modules/better-sqlite3 && npm run build-release --loglevel=error >"$DEST/better-sqlite3-build.log" 2>&1) || {
  echo "install-pds: building better-sqlite3 failed; see $DEST/better-sqlite3-build.log" >&2
  tail -20 "$DEST/better-sqlite3-build.log" >&2
  exit 1
}
node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
node -e "require('@atproto/pds'); require('@did-plc/server')"

echo "$STAMP_WANTED" >"$STAMP_FILE"
echo "install-pds: done in $(($(date +%s) - started)) s"
