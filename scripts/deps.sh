#!/usr/bin/env bash
# Installs what building the workspace needs on a fresh Debian machine (idempotent):
# libclang-dev for libublk's bindgen step, rustfmt and clippy for the checks.
set -euo pipefail
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: libclang-dev is missing; run as root or: apt-get install libclang-dev" >&2
    exit 1
  fi
  echo "deps.sh: installing libclang-dev (libublk's build runs bindgen)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
