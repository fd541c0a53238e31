#!/usr/bin/env bash
# Makes sure the virtualenv of the independent C2SP implementations from
# PyPI (aics-witness 0.1.0, aics-tlog 0.2.1) exists, and prints its path.
# Shared by the witness and cluster suites. Needs Python >= 3.12 (aics-witness
# requires it) and PyPI. Default place: $CARGO_TARGET_DIR or ./target, under
# aics-venv (reused when present); override with SECTWIN_AICS_VENV.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
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

if [ ! -x "$VENV/bin/aics-witness" ] || [ ! -x "$VENV/bin/aics-tlog" ]; then
    PY=$(find_python) || { echo "tests-interop: no Python >= 3.12 found" >&2; exit 1; }
    "$PY" -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2
fi
echo "$VENV"
