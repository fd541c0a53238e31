#!/usr/bin/env bash
# Three `sectwin serve` nodes on one PostgreSQL schema, under SIGKILLs of the
# sequencer and a SIGSTOP past its lease, with the history then checked by an
# independent C2SP verifier: `aics-tlog` 0.2.1 from PyPI (verify-checkpoint,
# verify-consistency and verify-inclusion over each node's tiles), beside the
# project's own checks (crates/sectwin/tests/it/cluster.rs).
#
# Needs Python >= 3.12 (aics-tlog requires it), PyPI, and the PostgreSQL
# server the tests use (SECTWIN_TEST_DATABASE, default the local one). Shares
# the witness suite's virtualenv (tests-interop/aics-venv.sh). Exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$(bash "$ROOT/tests-interop/aics-venv.sh")

export SECTWIN_AICS_VENV=$VENV
cd "$ROOT"
# The test binary the test stage built, run from its package's directory.
SECTWIN_IT=$(bash tests-interop/test-binary.sh sectwin it)
(cd crates/sectwin && "$SECTWIN_IT" cluster:: --ignored --nocapture)
