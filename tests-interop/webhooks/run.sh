#!/usr/bin/env bash
# Cross-check of the notify crate's Standard Webhooks signatures with an
# independent verifier: the PyPI package standardwebhooks (the spec authors'
# reference library).
#
# 1. Runs the notify test `delivers_a_signed_standard_webhook` with
#    SECTWIN_WEBHOOK_CAPTURE set: a real Notifier POSTs a signed delivery to a
#    real HTTP receiver, and the test writes what arrived ({secret, headers,
#    body}) to a JSON file.
# 2. verify.py checks it with standardwebhooks.Webhook(secret).verify(body,
#    headers), checks that a tampered body and a wrong secret are refused, and
#    exits non-zero on any failure.
#
# Needs Python >= 3.9 and PyPI; installs into a virtualenv (default:
# target/webhooks-venv, reused).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${SECTWIN_WEBHOOKS_VENV:-$TARGET/webhooks-venv}
PINS=(standardwebhooks==1.1.0)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi
CAPTURE=$TARGET/webhook-capture.json
rm -f "$CAPTURE"
# The test binary the test stage built, run from its package's directory.
NOTIFY_IT=$(cd "$ROOT" && bash tests-interop/test-binary.sh notify it)
(cd "$ROOT/crates/notify" && SECTWIN_WEBHOOK_CAPTURE=$CAPTURE "$NOTIFY_IT" --exact webhooks::delivers_a_signed_standard_webhook)
if [ ! -s "$CAPTURE" ]; then
    echo "no capture written to $CAPTURE" >&2
    exit 1
fi
exec "$VENV/bin/python" "$ROOT/tests-interop/webhooks/verify.py" "$CAPTURE"
