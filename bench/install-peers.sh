#!/usr/bin/env bash
# Installs the peers that `sectwin-bench` compares sectwin with, into
# target/peers/bin (found there by the benchmark). Not needed by the tests.
#
#   siglog 0.1.0 (crates.io): a Tessera-compatible log server in Rust.
#
# Building siglog takes a while (~30 min on 2 cores); it is done once.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${SECTWIN_PEERS:-$ROOT/target/peers}
if [ ! -x "$PEERS/bin/siglog" ]; then
    cargo install siglog --version 0.1.0 --locked --root "$PEERS" \
        --target-dir "$ROOT/target/peers-build"
fi
echo "peers installed in $PEERS/bin"
