# bad-input.sh: bad input to `ftl-ublk add` WITH the ublk driver present (the host-side checks
# in tests/vm/host-bad-input.sh mostly stop at "no driver"): corrupt images, size mismatch,
# impossible sizes, a map budget too small or unreadable, an image already in use, an id already
# in use, `recover` of a live or a missing device. Each must fail with one
# line on stderr, leave the image unchanged, leave no device behind, and not disturb a live one.
. /lib/vm-lib.sh
require_ftl
T=/tmp/bad; mkdir -p $T

# bad_add WHAT FILE-or-"" ARGS...: `add ARGS` must fail: non-zero, one stderr line, no stdout,
# FILE unchanged (when given), no new /dev/ublkb* node.
bad_add() {
  local what=$1 file=$2 before after sum="" rc n
  shift 2
  [ -n "$file" ] && sum=$(sha256sum "$file" | cut -d' ' -f1)
  before=$(ls /dev/ublkb* 2>/dev/null | tr '\n' ' ')
  timeout 60 $FTL add "$@" >$T/out 2>$T/err; rc=$?
  n=$(grep -c . $T/err)
  after=$(ls /dev/ublkb* 2>/dev/null | tr '\n' ' ')
  if [ $rc -eq 0 ]; then fail "$what: add succeeded: $(cat $T/out)"
    d=$(grep -o '/dev/ublkb[0-9]*' $T/out | head -1); [ -n "$d" ] && $FTL del "${d#/dev/ublkb}" >/dev/null 2>&1
  elif [ $rc -eq 124 ] || [ $rc -gt 128 ]; then fail "$what: hung or crashed (exit $rc): $(head -3 $T/err)"
  elif [ "$n" -ne 1 ]; then fail "$what: exit $rc but $n stderr lines:"; sed 's/^/    | /' $T/err | head -8
  elif [ -s $T/out ]; then fail "$what: printed on stdout: $(head -c 200 $T/out)"
  else pass "$what: exit $rc: $(cat $T/err)"; fi
  if [ -n "$file" ]; then
    if [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ]; then pass "$what: $(basename "$file") unchanged"
    else fail "$what: $(basename "$file") was modified or removed"; fi
  fi
  sleep 0.5; after=$(ls /dev/ublkb* 2>/dev/null | tr '\n' ' ')
  [ "$before" = "$after" ] || fail "$what: block devices changed from '$before' to '$after'"
}

check "format good.img 64M" $FTL format --image $T/good.img --size 64M || abort "format failed"
head -c 4194304 /dev/urandom >$T/random.img
cp $T/good.img $T/garbled.img; dd if=/dev/urandom of=$T/garbled.img bs=4k count=2 conv=notrunc 2>/dev/null
head -c $(( $(stat -c %s $T/good.img) / 2 )) $T/good.img >$T/truncated.img
: >$T/empty.img
for f in random garbled truncated empty; do bad_add "add --image <$f file>" $T/$f.img --image $T/$f.img; done
bad_add "add --size 128M on a 64M image" $T/good.img --image $T/good.img --size 128M
bad_add "add --size 1K" "" --image $T/tiny.img --size 1K
bad_add "add --map-budget 1K (below the smallest that works)" $T/good.img --image $T/good.img --map-budget 1K
bad_add "add --map-budget lots" $T/good.img --image $T/good.img --map-budget lots
bad_add "add --null --map-budget 1M" "" --null --map-budget 1M
bad_add "add --shards 2 on an image made with 1" $T/good.img --image $T/good.img --shards 2
bad_add "add --shards 3 (64 blocks do not split in 3)" "" --image $T/odd.img --size 64M --shards 3
[ -e $T/odd.img ] && fail "add --shards 3 left odd.img behind"
[ -e $T/tiny.img ] && info "note: add --size 1K left tiny.img behind"

# A live device, then adds that must fail without disturbing it.
ftl_add --image $T/good.img || abort "add of the good image"
pass "add good.img -> $DEV"
LIVE=$DEV LIVE_ID=$DEV_ID
dd if=/dev/urandom of=$T/pattern bs=1M count=4 2>/dev/null
dd if=$T/pattern of=$LIVE bs=1M oflag=direct 2>/dev/null
bad_add "add of an image already in use" "" --image $T/good.img
check "format refuses the image in use" sh -c "! $FTL format --image $T/good.img --size 64M 2>/dev/null"
$FTL format --image $T/other.img --size 64M >/dev/null 2>&1
bad_add "add --id $LIVE_ID (id in use)" $T/other.img --image $T/other.img --id "$LIVE_ID"
# recover: a device whose daemon lives, and one that does not exist.
for r in "$LIVE_ID" 4242; do
  timeout 60 $FTL recover "$r" >$T/out 2>$T/err; rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && [ "$(grep -c . $T/err)" -eq 1 ] && [ ! -s $T/out ]; then
    pass "recover $r refused: $(cat $T/err)"
  else fail "recover $r: exit $rc, stdout '$(head -c 100 $T/out)', stderr $(grep -c . $T/err) lines"; fi
done
check "live device unharmed (data intact)" sh -c "dd if=$LIVE bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - $T/pattern"
check "live device still listed" sh -c "$FTL list | grep -q ublkb$LIVE_ID"
check "del $LIVE_ID" $FTL del "$LIVE_ID"
wait_gone "$LIVE" 30 || fail "$LIVE still present after del"
leftover=$(ls /dev/ublkb* /dev/ublkc* 2>/dev/null | tr '\n' ' ')
[ -z "$leftover" ] && pass "no ublk devices left" || fail "ublk devices left behind: $leftover"
finish
