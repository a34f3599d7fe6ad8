#!/usr/bin/env bash
# tests/vm/build.sh: builds `ftl-ublk` as a static binary for the test guest (which has no glibc)
# in its own target dir (target/vm) so it does not thrash the normal build. Cargo's output goes
# to stderr; the binary's path is the only line on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=x86_64-unknown-linux-gnu
if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  # Only matters on a non-x86_64 or non-gnu host toolchain.
  rustup target add "$target" >&2 || { echo "tests/vm/build.sh: error: rust target $target not installed" >&2; exit 1; }
fi
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release -p ublk-target --target "$target" --target-dir target/vm >&2 \
  || { echo "tests/vm/build.sh: error: cargo build of ftl-ublk failed (libublk needs libclang-dev: run tests/vm/setup.sh)" >&2; exit 1; }
bin=$root/target/vm/$target/release/ftl-ublk
[[ -x $bin ]] || { echo "tests/vm/build.sh: error: $bin was not produced" >&2; exit 1; }
if command -v readelf >/dev/null && readelf -d "$bin" 2>/dev/null | grep -q "(NEEDED)"; then
  echo "tests/vm/build.sh: error: $bin is dynamically linked; the guest needs a static binary" >&2; exit 1
fi
echo "$bin"
