#!/usr/bin/env bash
# DataTrails (Jitsuin Archivist) drop-in: the official Python SDK
# (`datatrails-archivist`, pinned below, used unchanged) against a real
# `sectwin serve`. Creates stakeholders and API credentials with the CLI,
# runs scenarios.py (assets, events, filters, paging, counts, blobs, public
# assets, access policies, tokens, error cases, two IoT scenarios), then
# checks over /api/v1 that what the SDK created is in the twins, marked as
# signed by the service on the stakeholder's behalf, with receipts.
#
# Needs Python >= 3.9 and PyPI; installs into a virtualenv (default:
# target/archivist-venv, reused). Uses the release binary (built if needed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${SECTWIN_ARCHIVIST_VENV:-$TARGET/archivist-venv}
PINS=(datatrails-archivist==0.35.0)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import archivist' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi
cd "$ROOT"
BIN=${SECTWIN_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --profile "${SECTWIN_CARGO_PROFILE:-release}" -p sectwin --quiet
    BIN=$TARGET/${SECTWIN_CARGO_PROFILE:-release}/sectwin
fi
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
DATA=$WORK/data
"$BIN" serve --data "$DATA" --listen 127.0.0.1:0 --checkpoint-interval-ms 100 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 300); do
    if grep -q "serving on http://" "$WORK/serve.out"; then break; fi
    sleep 0.1
done
URL=$(grep -o "http://[0-9.:]*" "$WORK/serve.out" | head -1)
[ -n "$URL" ] || { cat "$WORK/serve.out" "$WORK/serve.err"; echo "server did not start"; exit 1; }
echo "sectwin serve at $URL"

register() { # id name roles...
    local id=$1 name=$2; shift 2
    "$BIN" key generate --alg eddsa --out "$WORK/$id.key" >"$WORK/$id.pub"
    local roles=()
    for r in "$@"; do roles+=(--role "$r"); done
    "$BIN" stakeholder register --server "$URL" --authority-key "$DATA/authority.key" \
        --id "$id" --name "$name" "${roles[@]}" --key "$WORK/$id.pub" >/dev/null
}
credential() { # stakeholder -> "client_id client_secret"
    local out
    out=$("$BIN" credential create --data "$DATA" --stakeholder "$1")
    echo "$(echo "$out" | sed -n 's/^client_id: *//p') $(echo "$out" | sed -n 's/^client_secret: *//p')"
}
register facilities.example "Facilities Co" manufacturer owner operator
register chargeco.example "ChargeCo" manufacturer owner operator
register maint.example "Maint Services" maintainer
read -r FAC_ID FAC_SECRET <<<"$(credential facilities.example)"
read -r CHG_ID CHG_SECRET <<<"$(credential chargeco.example)"
read -r MNT_ID MNT_SECRET <<<"$(credential maint.example)"
# The server reloads the credentials file when it changes (polled every
# second): wait until the last credential created is accepted.
ready=
for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$MNT_ID:$MNT_SECRET" \
        -d grant_type=client_credentials "$URL/oauth/token" || true)
    if [ "$code" = 200 ]; then ready=1; break; fi
    sleep 0.1
done
[ -n "$ready" ] || { echo "the server did not load the new credentials within 10 s"; exit 1; }
export SECTWIN_URL=$URL FAC_ID FAC_SECRET CHG_ID CHG_SECRET MNT_ID MNT_SECRET
"$VENV/bin/python" "$ROOT/tests-interop/archivist/scenarios.py"
