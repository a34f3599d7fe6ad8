# gc.sh: garbage collection under the real kernel: a small device overwritten several times
# with fio random writes (crc32c verify), so the FTL must relocate and erase; data verified
# in the same run, after a separate pass, and after del + re-add on the same image.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/gc.img
ftl_add --image "$IMG" --size "${GC_SIZE:-64M}" || abort "ftl-ublk add --size ${GC_SIZE:-64M}"
pass "add --size ${GC_SIZE:-64M} -> $DEV"
bytes=$(blockdev --getsize64 "$DEV"); mb=$((bytes / 1048576 - 1))
info "device $bytes bytes; verified region ${mb}M, overwritten ${GC_LOOPS:-2} times"
job="--name=gc --filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --rw=randwrite
  --bssplit=4k/50:16k/25:64k/25 --size=${mb}M --verify=crc32c --verify_fatal=1 --randseed=77"
# Overwrite the whole device GC_LOOPS times (no verify), then a final write pass with verify.
if fio $job --loops="${GC_LOOPS:-2}" --do_verify=0 --verify=0 --randseed=5 --output=/tmp/gc0.out >/dev/null 2>&1; then
  pass "fio overwrite x${GC_LOOPS:-2}"; else fail "fio overwrite"; tail -15 /tmp/gc0.out | sed 's/^/    | /'; fi
if fio $job --do_verify=1 --output=/tmp/gc1.out >/dev/null 2>&1; then pass "fio randwrite + verify after GC"
else fail "fio randwrite + verify after GC"; tail -15 /tmp/gc1.out | sed 's/^/    | /'; fi
if fio $job --verify_only --output=/tmp/gc2.out >/dev/null 2>&1; then pass "separate verify pass"
else fail "separate verify pass"; tail -15 /tmp/gc2.out | sed 's/^/    | /'; fi
js=$(stats_json "$DEV_ID"); info "stats: $js"
gcr=$(printf '%s' "$js" | json_field gc_runs); wa=$(printf '%s' "$js" | json_field write_amplification)
errs=$(printf '%s' "$js" | json_field request_errors)
case $gcr in ''|0|*[!0-9]*) fail "gc_runs is '$gcr': garbage collection never ran" ;; *) pass "gc_runs=$gcr, write_amplification=$wa" ;; esac
[ "$errs" = 0 ] && pass "request_errors=0" || fail "request_errors=$errs"
check "del $DEV_ID" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present after del"
ftl_add --image "$IMG" || abort "re-add on the same image"
pass "re-add -> $DEV"
job="--name=gc --filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --rw=randwrite
  --bssplit=4k/50:16k/25:64k/25 --size=${mb}M --verify=crc32c --verify_fatal=1 --randseed=77"
if fio $job --verify_only --output=/tmp/gc3.out >/dev/null 2>&1; then pass "verify after del + re-add"
else fail "verify after del + re-add"; tail -15 /tmp/gc3.out | sed 's/^/    | /'; fi
$FTL del "$DEV_ID" >/dev/null 2>&1
finish
