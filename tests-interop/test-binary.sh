#!/usr/bin/env bash
# Prints the path of a workspace test executable, built exactly as the
# README's test command builds it (`cargo test --workspace`, same features,
# same profile), so that an interop suite runs the binary the test stage
# already built instead of building it again with other features.
#
#   tests-interop/test-binary.sh PACKAGE TARGET     (TARGET: `it`, or the lib's name)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGE=$1
TARGET=$2
cd "$ROOT"
cargo test --workspace --profile "${SECTWIN_CARGO_PROFILE:-release}" --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
package, target = sys.argv[1], sys.argv[2]
found = []
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    pid = m["package_id"]
    name = pid.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
    if "#" in pid and "@" in pid.split("#")[1]:
        name = pid.split("#")[1].split("@")[0]
    if name == package and m["target"]["name"] == target:
        found.append(m["executable"])
if len(found) != 1:
    sys.exit(f"test-binary: expected one test executable {target} of {package}, found {found}")
print(found[0])
' "$PACKAGE" "$TARGET"
