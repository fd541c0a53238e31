#!/usr/bin/env bash
# Cross-check of `sectwin cvss` (crates/vuln/src/cvss.rs) with an independent
# implementation: the PyPI package cvss 3.6 (Red Hat's; v3 in exact decimal
# arithmetic, v4 a port of FIRST's reference calculator).
#
# cross_check.py generates a deterministic set of vectors (fixed seed; v3.1
# base-only, with temporal, with environmental incl. modified metrics, v3.0,
# and v4.0 with and without threat and environmental metrics), scores them
# with `sectwin cvss --json -` and with the Python package, compares every
# score and severity, prints "agreed N of N vectors (v3.0: a, v3.1: b,
# v4.0: c)" and exits non-zero on any disagreement (showing the first few).
#
# Needs Python >= 3.9 and PyPI; installs into a virtualenv (default:
# target/cvss-venv, reused). SECTWIN_BIN selects the binary (default: build
# and use target/release/sectwin, which .ci/test has built already).
# SECTWIN_CVSS_VECTORS overrides the number of vectors (default 120000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${SECTWIN_CVSS_VENV:-$TARGET/cvss-venv}
PINS=(cvss==3.6)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import cvss' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
fi
if [ -z "${SECTWIN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet --bin sectwin)
    SECTWIN_BIN=$TARGET/release/sectwin
fi
exec "$VENV/bin/python" "$ROOT/tests-interop/cvss/cross_check.py" \
    --sectwin "$SECTWIN_BIN" --count "${SECTWIN_CVSS_VECTORS:-120000}"
