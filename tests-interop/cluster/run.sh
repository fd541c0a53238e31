#!/usr/bin/env bash
# Three `sectwin serve` nodes on one PostgreSQL schema, under SIGKILLs of the
# sequencer and a SIGSTOP past its lease, with the history then checked by an
# independent C2SP verifier: `aics-tlog` 0.2.1 from PyPI (verify-checkpoint,
# verify-consistency and verify-inclusion over each node's tiles), beside the
# project's own checks (crates/sectwin/tests/it/cluster.rs).
#
# Needs Python >= 3.12 (aics-tlog requires it), PyPI, and the PostgreSQL
# server the tests use (SECTWIN_TEST_DATABASE, default the local one). Shares
# the witness suite's virtualenv (same pins): $CARGO_TARGET_DIR or ./target,
# under aics-venv; override with SECTWIN_AICS_VENV. Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${SECTWIN_AICS_VENV:-${CARGO_TARGET_DIR:-$ROOT/target}/aics-venv}
PINS=(aics-witness==0.1.0 aics-tlog==0.2.1 cryptography==50.0.2)

find_python() {
    local c
    for c in python3.13 python3.12 python3 /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/aics-tlog" ]; then
    PY=$(find_python) || { echo "tests-interop/cluster: no Python >= 3.12 found" >&2; exit 1; }
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi

export SECTWIN_AICS_VENV=$VENV
cd "$ROOT"
# The test binary the test stage built, run from its package's directory.
SECTWIN_IT=$(bash tests-interop/test-binary.sh sectwin it)
(cd crates/sectwin && "$SECTWIN_IT" cluster:: --ignored --nocapture)
