#!/usr/bin/env bash
# Installs what the `browser` test tier needs, once, on a fresh CI machine or a laptop:
#   - Debian's chromium (driven by Python Playwright with executable_path=/usr/bin/chromium;
#     `playwright install` is never used: its browser downloads fail on our CI machines);
#   - axe-core from the npm registry, into a cache folder outside the clone, so a second run
#     is warm and the tests download nothing.
# Idempotent and non-interactive: each step is skipped when its result is already there.
# Python Playwright itself is a pip dev dependency (pyproject.toml), not installed here.
set -euo pipefail

AXE_VERSION=4.14.1                    # npm's axe-core; the tests read node_modules/axe-core/axe.min.js
CACHE_DIR=${ALERTCAST_CACHE_DIR:-$HOME/.cache/alertcast}
NPM_DIR="$CACHE_DIR/npm"
CHROMIUM=/usr/bin/chromium

as_root() {  # apt-get needs root: run directly as root, else through sudo when there is one
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo -n "$@"
    else
        echo "install-browser: need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    echo "install-browser: installing Debian's chromium with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
    echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null)"
fi

AXE_DIR="$NPM_DIR/node_modules/axe-core"
axe_version() { node -p "require('$AXE_DIR/package.json').version" 2>/dev/null || true; }
if [ -f "$AXE_DIR/axe.min.js" ] && [ "$(axe_version)" = "$AXE_VERSION" ]; then
    echo "install-browser: axe-core $AXE_VERSION present: $AXE_DIR/axe.min.js"
else
    command -v npm >/dev/null || {
        echo "install-browser: installing npm with apt-get"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
    }
    echo "install-browser: installing axe-core@$AXE_VERSION into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    npm install --prefix "$NPM_DIR" --no-audit --no-fund --no-save --loglevel=error "axe-core@$AXE_VERSION"
    [ "$(axe_version)" = "$AXE_VERSION" ] && [ -f "$AXE_DIR/axe.min.js" ] || {
        echo "install-browser: axe-core $AXE_VERSION not in $AXE_DIR after npm install" >&2
        exit 1
    }
    echo "install-browser: installed axe-core $AXE_VERSION: $AXE_DIR/axe.min.js"
fi
