# kill-fio.sh: SIGKILL ftl-ublk in the middle of a fio verify run on the raw device, then
# `ftl-ublk recover`. The kernel holds the device's I/O while no daemon runs and re-issues the
# requests the dead one held; fio's write phase continues, and its verify phase reads back every
# block it wrote. Under load the blocks acknowledged-but-unflushed at the kill are usually
# overtaken by the next batch anyway, so a second kill comes when the device is idle right after
# a flush and three 4 KiB direct writes: only the crash journal carries those across (the same
# run without replaying it fails here). Then a kill during a verify-only pass, a clean
# del + add that still verifies, and the fallback without recovery: a kill, `del` of the
# dead device, `add` on the image, which replays the journal. Last, with --queues 2 and one fio
# job per vCPU: a kill under load, and an idle kill with unflushed writes from both queues.
# The image has two shards (`--shards 2`), each with its own crash journal; the idle kills'
# blocks straddle a 128 KiB stripe boundary, so both shards' journals carry some of them.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/kill.img
MB=${KILL_FIO_MB:-96}
ftl_add --image "$IMG" --size "${KILL_FIO_SIZE:-512M}" --shards 2 || abort "ftl-ublk add"
pass "add -> $DEV"
job="--name=kv --filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --rw=randwrite \
  --bssplit=4k/40:8k/10:16k/20:64k/15:128k/15 --size=${MB}M --offset=0 --verify=crc32c \
  --verify_fatal=1 --randseed=4321 --group_reporting"
# counter KEY: the daemon's stats counter KEY (0 if unreadable).
counter() {
  local n
  n=$(stats_json "$DEV_ID" | json_field "$1")
  case $n in ''|*[!0-9]*) n=0 ;; esac
  echo "$n"
}
# kill_and_recover N KEY: waits until stats counter KEY (4 KiB blocks) has grown by N, SIGKILLs
# the daemon, checks the device stays, and recovers it.
kill_and_recover() {
  local want i=0 n pid out rc
  want=$(( $(counter "$2") + $1 ))
  while [ $i -lt 600 ]; do
    n=$(counter "$2")
    [ "$n" -ge "$want" ] && break
    sleep 0.2; i=$((i + 1))
  done
  pid=$(daemon_pid "$DEV_ID")
  [ -n "$pid" ] || { fail "no daemon pid"; return 1; }
  info "SIGKILL daemon $pid at $2=$n"
  kill -KILL "$pid"
  sleep 1
  [ -b "$DEV" ] && pass "$DEV kept after SIGKILL ($2=$n)" || { fail "$DEV vanished after SIGKILL"; return 1; }
  out=$($FTL recover "$DEV_ID" 2>/tmp/recover.err); rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$DEV" ]; then pass "recover $DEV_ID"
  else fail "recover $DEV_ID exited $rc: $(tail -3 /tmp/recover.err)"; return 1; fi
  js=$(stats_json "$DEV_ID")
  info "replayed: $(printf '%s' "$js" | json_field journal_replayed_writes) writes, $(printf '%s' "$js" | json_field journal_skipped_writes) already on flash"
}
runfio_bg() { fio "$@" --output=/tmp/fio.out >/dev/null 2>/tmp/fio.err & fio_pid=$!; }
fio_ok() {  # fio_ok "what": waits for the background fio and checks it
  if wait $fio_pid && ! grep -q 'err= *[1-9]' /tmp/fio.out; then
    pass "$1"; grep -E 'IOPS=|err=' /tmp/fio.out | head -3 | sed 's/^/    /'
  else
    fail "$1"; tail -20 /tmp/fio.out /tmp/fio.err | sed 's/^/    | /'
  fi
}
# 1. Kill in the write phase (about a third of the region written), verify at the end.
runfio_bg $job --do_verify=1
kill_and_recover $((MB * 256 / 3)) host_sectors_written
fio_ok "fio randwrite+verify ${MB}M across a daemon SIGKILL + recover: err=0, every block verifies"
# 2. Idle kill: flushed, then three blocks acknowledged and not flushed. MB * 256 is a whole
# number of 32-block stripes: blocks TAIL, TAIL + 1 are in one shard, TAIL + 2 on in the other.
TAIL=$((MB * 256 + 30))
# fsync on the device node sends a FLUSH (BLKFLSBUF would not).
check "flush the device (fsync)" dd if=/dev/zero of="$DEV" bs=4k seek=$TAIL count=0 conv=notrunc,fsync
head -c 12288 /dev/urandom >/tmp/tail.bin
check "3 direct 4 KiB writes after the flush" dd if=/tmp/tail.bin of="$DEV" bs=4k seek=$TAIL count=3 oflag=direct
before=$(counter journal_replayed_writes)
kill_and_recover 0 host_sectors_written
rw=$(counter journal_replayed_writes)
dd if="$DEV" of=/tmp/tail.back bs=4k skip=$TAIL count=3 iflag=direct 2>/dev/null
if cmp -s /tmp/tail.bin /tmp/tail.back; then pass "acknowledged, unflushed writes survive the daemon crash ($rw replayed from the journal)"
else fail "acknowledged, unflushed writes lost in the daemon crash ($rw replayed, $before before)"; fi
# 3. Kill during a verify-only pass (reads), which must still complete cleanly.
runfio_bg $job --verify_only
kill_and_recover $((MB * 256 / 2)) host_sectors_read
fio_ok "fio verify-only pass across a second SIGKILL + recover"
# 4. Everything was acknowledged; a clean del flushes it; the image alone verifies.
check "del $DEV_ID (clean)" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
if ftl_add --image "$IMG"; then
  pass "re-add on the image -> $DEV"
  job=$(printf '%s' "$job" | sed "s|--filename=[^ ]*|--filename=$DEV|")
  runfio_bg $job --verify_only
  fio_ok "verify-only pass after del + re-add"
else
  abort "re-add on the image"
fi
# 5. The fallback without recovery: the daemon dies with three unflushed blocks, the dead
# device is deleted, and `add` on the image replays the journal into the fresh device.
check "flush the device (fsync)" dd if=/dev/zero of="$DEV" bs=4k seek=$TAIL count=0 conv=notrunc,fsync
head -c 12288 /dev/urandom >/tmp/tail2.bin
check "3 more direct 4 KiB writes after the flush" dd if=/tmp/tail2.bin of="$DEV" bs=4k seek=$TAIL count=3 oflag=direct
pid=$(daemon_pid "$DEV_ID")
kill -KILL "$pid"
sleep 1
check "del the device of the dead daemon" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
if ftl_add --image "$IMG"; then
  pass "add on the image after the crash and del -> $DEV"
  rw=$(counter journal_replayed_writes)
  dd if="$DEV" of=/tmp/tail2.back bs=4k skip=$TAIL count=3 iflag=direct 2>/dev/null
  if cmp -s /tmp/tail2.bin /tmp/tail2.back; then pass "unflushed writes survive crash + del + add ($rw replayed by add)"
  else fail "unflushed writes lost across crash + del + add ($rw replayed)"; fi
  check "del $DEV_ID" $FTL del "$DEV_ID"
  wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
else
  fail "add on the image after the crash and del"
fi
# 6. Two queues: the kills again with one fio job per vCPU, each pinned to its CPU, so both
# queues hold requests when the daemon dies; `recover` restarts both (the device file says
# --queues 2) and the kernel re-issues what each held.
if ftl_add --image "$IMG" --queues 2; then
  pass "add on the image with --queues 2 -> $DEV"
  HALF=$((MB / 2))
  job2="--name=kv2 --filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --rw=randwrite \
  --bssplit=4k/40:8k/10:16k/20:64k/15:128k/15 --size=${HALF}M --offset=0 --offset_increment=${HALF}M \
  $(per_cpu_jobs) --verify=crc32c --verify_fatal=1 --randseed=8765 --group_reporting"
  runfio_bg $job2 --do_verify=1
  kill_and_recover $((MB * 256 / 3)) host_sectors_written
  fio_ok "2 queues: fio randwrite+verify ${MB}M, one job per vCPU, across a daemon SIGKILL + recover"
  every_queue_served "$DEV_ID" 2 "2 queues, after recover"
  # Idle kill: flushed, then three unflushed blocks through each CPU's queue.
  check "2 queues: flush the device (fsync)" dd if=/dev/zero of="$DEV" bs=4k seek=$TAIL count=0 conv=notrunc,fsync
  head -c 24576 /dev/urandom >/tmp/tail3.bin
  set -- $(queue_requests "$DEV_ID"); q0=${1:-0} q1=${2:-0}
  check "3 direct 4 KiB writes from CPU 0" taskset -c 0 dd if=/tmp/tail3.bin of="$DEV" bs=4k seek=$TAIL count=3 oflag=direct
  check "3 direct 4 KiB writes from CPU 1" taskset -c 1 dd if=/tmp/tail3.bin of="$DEV" bs=4k skip=3 seek=$((TAIL + 3)) count=3 oflag=direct
  set -- $(queue_requests "$DEV_ID")
  if [ $((${1:-0} - q0)) -ge 3 ] && [ $((${2:-0} - q1)) -ge 3 ]; then pass "the writes from CPU 0 and CPU 1 went through queues 0 and 1 ($q0 $q1 -> $1 $2)"
  else fail "the writes from CPU 0 and CPU 1 did not reach both queues (queue_requests $q0 $q1 -> ${1:-} ${2:-})"; fi
  kill_and_recover 0 host_sectors_written
  rw=$(counter journal_replayed_writes)
  dd if="$DEV" of=/tmp/tail3.back bs=4k skip=$TAIL count=6 iflag=direct 2>/dev/null
  if cmp -s /tmp/tail3.bin /tmp/tail3.back; then pass "2 queues: acknowledged, unflushed writes of both queues survive the daemon crash ($rw replayed)"
  else fail "2 queues: acknowledged, unflushed writes lost in the daemon crash ($rw replayed)"; fi
  runfio_bg $job2 --verify_only
  fio_ok "2 queues: verify-only pass after the second kill"
  $FTL del "$DEV_ID" >/dev/null 2>&1
else
  fail "add on the image with --queues 2"
fi
finish
