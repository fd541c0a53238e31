#!/usr/bin/env bash
# The device verifier as a device links it: crates/ota-verify-ffi built on its
# own as a no_std static library (a dependency that pulled in std would clash
# with its panic handler and fail this build), linked into a C program with
# gcc, and run on an update and a rollback that the Rust tests produce.
# Prints the stripped program's size (issue 18's figure).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CARGO_TARGET_DIR="$target/ota-ffi" cargo build --quiet --release --locked \
  --manifest-path crates/ota-verify-ffi/Cargo.toml
lib="$target/ota-ffi/release/libota_verify_ffi.a"
gcc -Os -ffunction-sections -fdata-sections -Wall -Werror \
  -Icrates/ota-verify-ffi/c -o "$work/ota-check" crates/ota-verify-ffi/c/ota_check.c \
  "$lib" -Wl,--gc-sections -s
OTA_FIXTURE_OUT="$work/fx" cargo test --quiet --profile "${SECTWIN_CARGO_PROFILE:-ci}" \
  -p ota-verify --test it exports_an_update_and_a_rollback_for_the_c_abi_check >/dev/null
fx="$work/fx"
expect() { # want-status command...
  local want=$1; shift
  set +e; "$@" 2>"$work/err"; local got=$?; set -e
  if [ "$got" != "$want" ]; then
    echo "FAIL: $* exited $got, expected $want: $(cat "$work/err")" >&2; exit 1
  fi
  echo "ok ($got): $(cat "$work/err")"
}
expect 0 "$work/ota-check" "$fx/fixed.bin" "$fx/bundle-fixed.json" "$fx/state.json" "$work/new-state.json"
cmp "$work/new-state.json" "$fx/expected-state.json"
echo "ok: the C program's new state is byte for byte the Rust verifier's"
expect 21 "$work/ota-check" "$fx/vulnerable.bin" "$fx/bundle-rollback.json" "$work/new-state.json"
expect 19 "$work/ota-check" "$fx/vulnerable.bin" "$fx/bundle-fixed.json" "$fx/state.json"
echo "program linking only the verifier (gcc -Os, stripped): $(stat -c %s "$work/ota-check") bytes"
echo "static library: $(stat -c %s "$lib") bytes"
