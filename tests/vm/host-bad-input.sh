#!/usr/bin/env bash
# tests/vm/host-bad-input.sh [FTL_UBLK_BINARY]: bad-input checks for `ftl-ublk`, run on the HOST
# (whose kernel has no ublk driver). Every bad `add` must exit non-zero with exactly one line
# on stderr, print no device on stdout, and leave the image file byte-for-byte unchanged.
# Whether the binary checks its input before or after the driver is its own business.
# Output: PASS/FAIL lines like the guest scenarios, then SCENARIO-RESULT; exit 0 iff no FAIL.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SCEN=host-bad-input
bin=${1:-${FTL_UBLK:-}}
if [[ -z $bin ]]; then bin=$("$here/build.sh") || { echo "FAIL $SCEN: build ftl-ublk"; exit 1; }; fi
[[ -x $bin ]] || { echo "FAIL $SCEN: $bin is not executable"; exit 1; }
passes=0 fails=0
pass() { passes=$((passes + 1)); echo "PASS $SCEN: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL $SCEN: $*"; }
info() { echo "---- $SCEN: $*"; }
t=$(mktemp -d "${TMPDIR:-/tmp}/zcftl-bad.XXXXXX"); trap 'rm -rf "$t"' EXIT

# run_ftl ARGS...: runs the binary (30 s limit); sets RC, OUT (stdout), ERR (stderr).
run_ftl() {
  timeout 30 "$bin" "$@" >"$t/out" 2>"$t/err"; RC=$?
  OUT=$(cat "$t/out"); ERR=$(cat "$t/err")
}
# expect_one_line_error WHAT [REGEX]: asserts the last run_ftl failed cleanly.
expect_one_line_error() {
  local what=$1 re=${2:-} n
  n=$(grep -c . "$t/err")
  if [[ $RC -eq 124 ]]; then fail "$what: hung (killed after 30 s)"; return 1; fi
  if [[ $RC -eq 0 ]]; then fail "$what: exited 0 (stdout: ${OUT:0:200})"; return 1; fi
  if [[ $RC -gt 128 ]] || grep -q 'panicked' "$t/err"; then fail "$what: crashed (exit $RC): $(head -3 "$t/err")"; return 1; fi
  if [[ $n -ne 1 ]]; then fail "$what: exit $RC but $n stderr lines, expected 1:"; sed 's/^/    | /' "$t/err" | head -10; return 1; fi
  if [[ -n $OUT ]]; then fail "$what: printed on stdout: ${OUT:0:200}"; return 1; fi
  if [[ -n $re ]] && ! grep -Eqi -- "$re" "$t/err"; then fail "$what: error does not match /$re/: $ERR"; return 1; fi
  pass "$what: exit $RC, one line: $ERR"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
expect_unchanged() {  # expect_unchanged FILE SHA WHAT
  if [[ -f $1 && $(sha "$1") == "$2" ]]; then pass "$3: $(basename "$1") unchanged"; else fail "$3: $(basename "$1") was modified or removed"; fi
}

info "binary $bin"
no_driver=
if [[ -e /dev/ublk-control ]]; then
  info "this host HAS /dev/ublk-control: skipping the missing-driver checks"
else
  no_driver=1
fi

# A valid image, made by `format` (needs no driver).
run_ftl format --image "$t/good.img" --size 64M
if [[ $RC -eq 0 && -s $t/good.img ]]; then
  pass "format --image good.img --size 64M works without the driver"
else
  fail "format --image good.img --size 64M (exit $RC): $ERR"
  head -c 64M /dev/urandom >"$t/good.img"   # keep going with some file
fi

if [[ -n $no_driver ]]; then
  s=$(sha "$t/good.img")
  run_ftl add --image "$t/good.img"
  expect_one_line_error "add on a host without ublk_drv" 'ublk_drv|ublk driver|ublk-control|ublk module'
  expect_unchanged "$t/good.img" "$s" "add without driver"
  run_ftl add --image "$t/new.img" --size 64M
  expect_one_line_error "add of a new image without ublk_drv" 'ublk'
  [[ -e $t/new.img ]] && info "note: the failed add left a new image file behind ($(stat -c %s "$t/new.img") bytes)"
  run_ftl add --null
  expect_one_line_error "add --null without ublk_drv" 'ublk'
fi

# Corrupt images: random bytes, a valid image with a garbled start, a truncated one, an empty file.
head -c 4M /dev/urandom >"$t/random.img"
cp "$t/good.img" "$t/garbled.img"; dd if=/dev/urandom of="$t/garbled.img" bs=4k count=2 conv=notrunc status=none
head -c $(( $(stat -c %s "$t/good.img") / 2 )) "$t/good.img" >"$t/truncated.img"
: >"$t/empty.img"
for f in random garbled truncated empty; do
  s=$(sha "$t/$f.img")
  run_ftl add --image "$t/$f.img"
  expect_one_line_error "add --image <$f file>"
  expect_unchanged "$t/$f.img" "$s" "add --image <$f file>"
done
# An image that exists, given a --size it does not have.
s=$(sha "$t/good.img")
run_ftl add --image "$t/good.img" --size 128M
expect_one_line_error "add --image good.img --size 128M (size mismatch)"
expect_unchanged "$t/good.img" "$s" "add with mismatched --size"

# Impossible sizes.
run_ftl add --image "$t/tiny.img" --size 1K
expect_one_line_error "add --size 1K"
[[ -e $t/tiny.img ]] && info "note: add --size 1K left tiny.img behind"
run_ftl format --image "$t/tiny2.img" --size 1K
expect_one_line_error "format --size 1K"
run_ftl format --image "$t/bad-size.img" --size 12Q
expect_one_line_error "format --size 12Q (bad unit)"
run_ftl format --image "$t/odd.img" --size 64M --shards 3
expect_one_line_error "format --shards 3 (64 blocks do not split in 3)"
[[ -e $t/odd.img ]] && fail "format --shards 3 left odd.img behind"
run_ftl add --image "$t/good.img" --map-budget lots
expect_one_line_error "add --map-budget lots (not a size)"
expect_unchanged "$t/good.img" "$s" "add with --map-budget lots"
run_ftl add --null --map-budget 1M
expect_one_line_error "add --null --map-budget 1M (no map to budget)"

# Devices that do not exist.
run_ftl del 4242
expect_one_line_error "del 4242 (no such device)"
run_ftl stats 4242 --json
expect_one_line_error "stats 4242 --json (no such device)"
run_ftl recover 4242
expect_one_line_error "recover 4242 (no such device)"

if [[ $fails -eq 0 && $passes -gt 0 ]]; then echo "SCENARIO-RESULT $SCEN: ok ($passes checks passed)"; exit 0; fi
echo "SCENARIO-RESULT $SCEN: failed ($passes passed, $fails failed)"; exit 1
