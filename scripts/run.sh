#!/usr/bin/env bash
# The README's main command: build ftl-ublk and expose a zcftl block device.
#   sudo ./scripts/run.sh [ftl-ublk add options]     e.g. --image /tmp/z.img --size 1G
# Needs root and the kernel's ublk driver (modprobe ublk_drv). Without a ublk driver (like the
# development machines), `./scripts/vm-test.sh ext4` runs the same binary in a qemu guest that has one.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --release -p ublk-target
exec ./target/release/ftl-ublk add "$@"
