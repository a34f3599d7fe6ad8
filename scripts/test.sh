#!/usr/bin/env bash
# The README's test command: every check CI runs, in order, on a fresh machine.
#   ./scripts/test.sh          everything
#   ZCFTL_SKIP_VM=1 ...        skip the real-kernel VM scenarios
#   PROPTEST_CASES=10000 ...   deeper model-based testing (default 1000)
#   CRASH_CASES=2000 ...       more random power-cut cases (default 200)
#   FUZZ_SECONDS=300 ...       longer fuzzing per target (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s\n' "$*"; }

step "build dependencies"
./scripts/deps.sh

step "format"
cargo fmt --all -- --check

step "ftl-core builds no_std (no default features)"
cargo build -p ftl-core --no-default-features

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
cargo test --workspace

step "firmware example"
cargo run -q -p ftl-core --example firmware

step "fuzz smoke (each cargo-fuzz target briefly, corpus and regressions replayed)"
./scripts/fuzz-smoke.sh

step "real-kernel VM scenarios"
./scripts/vm-test.sh
