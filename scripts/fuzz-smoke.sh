#!/usr/bin/env bash
# Smoke-runs every cargo-fuzz target in fuzz/ for a short, bounded time and
# replays the checked-in corpus with `cargo test`, on the stable toolchain.
#
#   scripts/fuzz-smoke.sh              # FUZZ_SECONDS=20 per target
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh mount_garbage
#
# Installs cargo-fuzz if it is missing. libFuzzer needs a C++ compiler
# (Debian: g++). cargo-fuzz passes nightly-only flags (-Zsanitizer=...), so
# the stable compiler is told to accept them with RUSTC_BOOTSTRAP=1.
#
# New inputs found go to a scratch directory, not to the checked-in corpus;
# a crash leaves its input in fuzz/artifacts/<target>/ and fails the run.
# Prints one line `fuzz: N passed, M failed` (N + M = targets run + the
# corpus replay) and exits non-zero if anything failed.
set -uo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(mount_garbage image_header cli_parse cli_text journal_file power_cut_ops)
fi
export RUSTC_BOOTSTRAP=1

if ! command -v c++ >/dev/null 2>&1; then
    echo "fuzz-smoke: libFuzzer needs a C++ compiler (Debian: apt-get install g++)"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked || {
        echo "fuzz: 0 passed, 1 failed"
        exit 1
    }
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0

if cargo fuzz build; then
    for t in "${targets[@]}"; do
        echo "fuzz-smoke: $t for ${seconds}s"
        mkdir -p "$scratch/$t" "corpus/$t"
        # The scratch corpus comes first: libFuzzer adds new inputs there
        # and only reads the checked-in one.
        if cargo fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
            -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len=4096 -len_control=0 -print_final_stats=1 \
            >"$scratch/$t.log" 2>&1; then
            passed=$((passed + 1))
            grep -E '^stat::number_of_executed_units' "$scratch/$t.log" |
                sed "s/^/fuzz-smoke: $t /"
        else
            failed=$((failed + 1))
            echo "fuzz-smoke: $t FAILED; last lines of its log:"
            tail -n 40 "$scratch/$t.log"
        fi
    done
else
    echo "fuzz-smoke: cargo fuzz build failed"
    failed=$((failed + ${#targets[@]}))
fi

echo "fuzz-smoke: replaying the corpus (cargo test)"
if cargo test; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
