#!/usr/bin/env bash
# The dashboard's end-to-end test (dashboard.test.js), after the unit tests of
# its in-page signer (sign.test.js): Debian's Chromium,
# driven by playwright-core with axe-core, both pinned in package-lock.json
# and installed here with `npm ci`, against the sectwin binary the build
# stage made ($SECTWIN_BIN). Installs Chromium with apt-get when it is
# missing (idempotent: nothing is done when /usr/bin/chromium exists).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
cd "$HERE"
# npm ci only when the lock changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --silent
fi
# The in-page signer and CBOR encoder, in Node (byte for byte against $SECTWIN_BIN).
node --test sign.test.js
exec node dashboard.test.js
