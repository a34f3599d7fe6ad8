# fio.sh: data integrity under fio (io_uring, O_DIRECT, QD32, 4K-128K mix, crc32c) with a
# separate verify pass, a trim job, then the zero-copy accounting in stats; then the same image
# with --queues 2: one fio job per vCPU, so both queues serve at once, write and verify a second
# region; both regions verify after del + add. The image has two shards (`--shards 2`: two FTLs,
# 128 KiB stripes), so requests of up to 128K split across them and the trim spans both.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/fio.img
MB=${FIO_MB:-64}          # region written with verify data
TRIM_MB=${FIO_TRIM_MB:-16} # region written then trimmed, right after it

ftl_add --image "$IMG" --size "${FIO_SIZE:-512M}" --zero-copy auto --shards 2 || abort "ftl-ublk add"
pass "add -> $DEV"
shards=$(stats_json "$DEV_ID" | json_field shards)
[ "$shards" = 2 ] && pass "the device has 2 shards" || fail "shards is '$shards', expected 2"
common="--filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --group_reporting"
wjob="--name=wverify $common --rw=randwrite --bssplit=4k/30:8k/10:16k/20:32k/10:64k/15:128k/15 \
  --size=${MB}M --offset=0 --verify=crc32c --verify_fatal=1 --randseed=1234"
runfio() {  # runfio "what" args...
  local what=$1; shift
  if fio "$@" --output=/tmp/fio.out >/dev/null 2>/tmp/fio.err && ! grep -q 'err= *[1-9]' /tmp/fio.out; then
    pass "$what"; grep -E 'IOPS=|err=' /tmp/fio.out | head -4 | sed 's/^/    /'
  else
    fail "$what"; tail -20 /tmp/fio.out /tmp/fio.err | sed 's/^/    | /'
  fi
}
# 1. random write with verify headers (and fio's own read-back verify at the end of the job)
runfio "fio randwrite ${MB}M bssplit 4k-128k QD32 io_uring direct, verify=crc32c" $wjob --do_verify=1
# 2. a separate verify-only pass over the same blocks
runfio "fio separate verify pass (verify_only)" $wjob --verify_only
# 3. trim: write a region, trim it with fio, check it reads as zeros, and the verified region survived
runfio "fio sequential fill of trim region" --name=fill $common --rw=write --bs=128k \
  --offset=${MB}M --size=${TRIM_MB}M
runfio "fio randtrim ${TRIM_MB}M" --name=trim --filename="$DEV" --ioengine=io_uring --direct=1 --iodepth=16 \
  --rw=randtrim --bs=64k --offset=${MB}M --size=${TRIM_MB}M
dd if="$DEV" of=/tmp/trimmed.bin bs=1M skip="$MB" count="$TRIM_MB" iflag=direct 2>/dev/null
got=$(stat -c %s /tmp/trimmed.bin 2>/dev/null || echo 0)
nz=$(tr -d '\000' </tmp/trimmed.bin | wc -c); rm -f /tmp/trimmed.bin
if [ "$got" -ne $((TRIM_MB * 1048576)) ]; then fail "read back only $got bytes of the trimmed region"
elif [ "$nz" -eq 0 ]; then pass "trimmed region reads back as zeros"; else fail "trimmed region has $nz non-zero bytes"; fi
runfio "verify pass after trim (untrimmed data intact)" $wjob --verify_only
# 4. zero-copy accounting
js=$(stats_json "$DEV_ID")
info "stats: $js"
mode=$(printf '%s' "$js" | json_field zero_copy_mode)
memcpy=$(printf '%s' "$js" | json_field user_copy_bytes_memcpy)
hsw=$(printf '%s' "$js" | json_field host_sectors_written)
wa=$(printf '%s' "$js" | json_field write_amplification)
[ -n "$js" ] && pass "stats --json" || fail "stats $DEV_ID --json printed nothing"
if [ "$mode" = user-copy ]; then pass "zero_copy_mode=user-copy (kernel $(uname -r) offers USER_COPY)"
else fail "zero_copy_mode is '$mode', expected user-copy with --zero-copy auto on kernel $(uname -r)"; fi
if [ "$mode" = user-copy ]; then
  if [ "$memcpy" = 0 ]; then pass "user_copy_bytes_memcpy == 0 in user-copy mode"
  else fail "user_copy_bytes_memcpy is '$memcpy' in user-copy mode (expected 0)"; fi
fi
case $hsw in ''|*[!0-9]*) fail "host_sectors_written '$hsw' is not a number" ;;
  0) fail "host_sectors_written is 0 after ${MB}M of writes" ;;
  *) pass "host_sectors_written=$hsw" ;; esac
[ -n "$wa" ] && pass "write_amplification=$wa" || fail "write_amplification missing"
# 5. the data survives del + add on the same image, added back with two queues
check "del $DEV_ID" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
if ftl_add --image "$IMG" --queues 2; then
  pass "re-add on the same image with --queues 2 -> $DEV"
  common="--filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --group_reporting"
  wjob="--name=wverify $common --rw=randwrite --bssplit=4k/30:8k/10:16k/20:32k/10:64k/15:128k/15 \
  --size=${MB}M --offset=0 --verify=crc32c --verify_fatal=1 --randseed=1234"
  runfio "verify pass after del + re-add (2 queues)" $wjob --verify_only
  # 6. both queues at once: one fio job per vCPU, pinned (each CPU submits to its own queue),
  # each writing then verifying its half of a fresh region after the trimmed one
  Q2_AT=$((MB + TRIM_MB)) HALF=$((MB / 2))
  qjob="--name=q2verify $common --rw=randwrite --bssplit=4k/30:8k/10:16k/20:32k/10:64k/15:128k/15 \
  --size=${HALF}M --offset=${Q2_AT}M --offset_increment=${HALF}M $(per_cpu_jobs) \
  --verify=crc32c --verify_fatal=1 --randseed=5678"
  runfio "2 queues: fio randwrite ${MB}M, one job per vCPU (QD32 each), verify=crc32c" $qjob --do_verify=1
  runfio "2 queues: separate verify pass" $qjob --verify_only
  runfio "2 queues: the region written through one queue still verifies" $wjob --verify_only
  every_queue_served "$DEV_ID" 2 "2 queues"
  memcpy=$(stats_json "$DEV_ID" | json_field user_copy_bytes_memcpy)
  if [ "$memcpy" = 0 ]; then pass "2 queues: user_copy_bytes_memcpy == 0"
  else fail "2 queues: user_copy_bytes_memcpy is '$memcpy' (expected 0)"; fi
  check "del $DEV_ID (2 queues)" $FTL del "$DEV_ID"
  wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
else
  fail "re-add on the same image with --queues 2"
fi
# 7. what both queues wrote survives del + add (one queue again)
if ftl_add --image "$IMG"; then
  pass "re-add on the same image (1 queue) -> $DEV"
  wjob=$(printf '%s' "$wjob" | sed "s|--filename=[^ ]*|--filename=$DEV|")
  qjob=$(printf '%s' "$qjob" | sed "s|--filename=[^ ]*|--filename=$DEV|")
  runfio "verify pass after del + re-add" $wjob --verify_only
  runfio "the 2-queue region verifies after del + re-add" $qjob --verify_only
  $FTL del "$DEV_ID" >/dev/null 2>&1
else
  fail "re-add on the same image"
fi
finish
