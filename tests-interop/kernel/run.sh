#!/usr/bin/env bash
# Issue 14, item 2: precision and recall of `sectwin vuln match` for Linux
# kernel releases against the Linux CNA's records of a CVE dump, measured
# against an independent truth (truth.py, written from the kernel CNA's
# conventions, not from sectwin's matcher). Prints a table per release and
# fails if precision or recall is below 0.95.
#
# SECTWIN_BIN selects the binary (default: build with SECTWIN_CARGO_PROFILE,
# default release); SECTWIN_CVE_DUMP the dump (default: the vendored subset,
# testdata/cve/vulnrichment-subset.jsonl.gz, which holds every one of the
# 3,660 Linux CNA records of the 2024-10-24 vulnrichment snapshot, so the
# figures are those of the full dump; see testdata/README.md). Extra
# arguments are kernel releases (default: 6.1.80 5.15.100 6.1.90 5.10.200
# 6.6.30 4.19.300).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${SECTWIN_CARGO_PROFILE:-release}
DUMP=${SECTWIN_CVE_DUMP:-$ROOT/testdata/cve/vulnrichment-subset.jsonl.gz}
if [ ! -f "$DUMP" ]; then
    echo "kernel: the CVE dump $DUMP is missing; set SECTWIN_CVE_DUMP to a vulnrichment JSON-lines dump" >&2
    exit 1
fi
if [ -z "${SECTWIN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --profile "$PROFILE" --quiet --bin sectwin)
    SECTWIN_BIN=$TARGET/$PROFILE/sectwin
fi
exec python3 "$ROOT/tests-interop/kernel/measure.py" "$SECTWIN_BIN" "$DUMP" "$@"
