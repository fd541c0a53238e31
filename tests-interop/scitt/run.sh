#!/usr/bin/env bash
# Interop of sectwin's SCITT service with an independent implementation: the
# PyPI package scitt-cose 0.5.0 (COSE_Sign1, RFC 9162 Merkle proofs and COSE
# receipt verification written from scratch over cbor2 + cryptography).
#
#   (a) statements signed by scitt-cose (EdDSA and ES256) are registered
#       through our SCRAPI POST /entries;
#   (b) scitt-cose verifies the receipts we return (and rejects them for a
#       tampered statement or the wrong service key);
#   (c) scitt-cose verifies statements signed by our `scitt` crate.
#
# The test is crates/http-api/tests/it/scrapi_interop.rs. Needs Python >= 3.9
# and PyPI; installs into a virtualenv (default: target/scitt-venv, reused).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${SECTWIN_SCITT_VENV:-${CARGO_TARGET_DIR:-$ROOT/target}/scitt-venv}
PINS=(scitt-cose==0.5.0 cbor2==6.2.1 cryptography==50.0.2)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import scitt_cose' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi
export SECTWIN_SCITT_PYTHON=$VENV/bin/python
export SECTWIN_SCITT_PEER=$ROOT/tests-interop/scitt/scitt_peer.py
cd "$ROOT"
# The test binary the test stage built, run from its package's directory.
HTTP_API_IT=$(bash tests-interop/test-binary.sh http-api it)
cd crates/http-api && exec "$HTTP_API_IT" scrapi_interop:: --ignored
