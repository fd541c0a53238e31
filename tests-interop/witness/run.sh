#!/usr/bin/env bash
# Interop tests of sectwin's C2SP tlog-witness (server core, HTTP router and
# client) against an independent implementation: the Python packages
# aics-witness 0.1.0 and aics-tlog 0.2.1 from PyPI (witness server, witness
# client "feeder", log/tree/checkpoint/cosignature library and verifier CLI).
#
#   (a) our WitnessClient gets and verifies cosignatures from `aics-witness serve`
#       (crates/witness/tests/it/interop.rs);
#   (b) their log + WitnessClient submit to our http-api router and verify our
#       cosignatures; a fork is refused with 422 (crates/http-api/src/witness.rs);
#   (c) their `aics-tlog verify-checkpoint` accepts a checkpoint our witness
#       cosigned, and rejects it tampered (crates/witness/tests/it/interop.rs).
#
# Needs Python >= 3.12 (aics-witness requires it) and PyPI. Installs into the
# virtualenv tests-interop/aics-venv.sh keeps (SECTWIN_AICS_VENV overrides).
# Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$(bash "$ROOT/tests-interop/aics-venv.sh")

export SECTWIN_AICS_VENV=$VENV
export SECTWIN_AICS_DRIVER=$ROOT/tests-interop/witness/aics_log.py
cd "$ROOT"
# The test binaries the test stage built (not built again with other
# features), run from their package's directory as cargo test runs them.
WITNESS_IT=$(bash tests-interop/test-binary.sh witness it)
HTTP_API_LIB=$(bash tests-interop/test-binary.sh http-api http_api)
(cd crates/witness && "$WITNESS_IT" interop:: --ignored)
(cd crates/http-api && "$HTTP_API_LIB" witness::tests::interop --ignored)
