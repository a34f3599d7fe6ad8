# bench.sh: 4K random read/write IOPS at QD32, zcftl device vs `ftl-ublk add --null`, same boot,
# runs alternating. Prints
#   BENCH zcftl_randread_iops=A null_randread_iops=B ratio=A/B
#   BENCH zcftl_randwrite_iops=A null_randwrite_iops=B ratio=A/B
# (medians of BENCH_RUNS runs). TCG numbers are only meaningful side by side.
. /lib/vm-lib.sh
require_ftl
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-5}
MB=${BENCH_MB:-128}

ftl_add --null --size "${BENCH_NULL_SIZE:-512M}" || abort "ftl-ublk add --null"
NULL_DEV=$DEV; pass "add --null -> $NULL_DEV"
ftl_add --image /tmp/bench.img --size "${BENCH_SIZE:-512M}" || abort "ftl-ublk add (zcftl)"
Z_DEV=$DEV; Z_ID=$DEV_ID; pass "add zcftl -> $Z_DEV"
# Fill the benchmarked region so reads hit mapped data, not the zero page.
if fio --name=fill --filename="$Z_DEV" --ioengine=io_uring --direct=1 --iodepth=16 --rw=write --bs=128k \
     --size=${MB}M --output=/tmp/fill.out >/dev/null 2>&1; then pass "prefill ${MB}M"; else fail "prefill"; fi

iops() {  # iops DEV rw -> prints IOPS (integer) or nothing
  local f
  fio --name=b --filename="$1" --ioengine=io_uring --direct=1 --iodepth=32 --rw="$2" --bs=4k \
    --size=${MB}M --time_based --runtime="$SECS" --ramp_time=1 --norandommap --randrepeat=0 \
    --output-format=terse --terse-version=3 >/tmp/b.out 2>/tmp/b.err || { tail -3 /tmp/b.err >&2; return 1; }
  case $2 in randread) f=8 ;; *) f=49 ;; esac
  awk -F';' -v f=$f '{ printf "%d\n", $f }' /tmp/b.out | tail -1
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

for rw in randread randwrite; do
  zs=""; ns=""
  i=1
  while [ $i -le "$RUNS" ]; do
    z=$(iops "$Z_DEV" $rw); n=$(iops "$NULL_DEV" $rw)
    info "$rw run $i: zcftl=$z null=$n"
    zs="$zs $z"; ns="$ns $n"
    i=$((i + 1))
  done
  zm=$(echo $zs | median); nm=$(echo $ns | median)
  if [ -n "$zm" ] && [ -n "$nm" ] && [ "$nm" -gt 0 ] && [ "$zm" -gt 0 ]; then
    ratio=$(awk -v a="$zm" -v b="$nm" 'BEGIN { printf "%.3f", a / b }')
    echo "BENCH zcftl_${rw}_iops=$zm null_${rw}_iops=$nm ratio=$ratio runs=$RUNS secs=$SECS"
    pass "$rw benchmark ran ($RUNS runs each)"
    if [ -n "${BENCH_MIN_RATIO:-}" ]; then
      if awk -v r="$ratio" -v m="$BENCH_MIN_RATIO" 'BEGIN { exit !(r >= m) }'; then pass "$rw ratio $ratio >= $BENCH_MIN_RATIO"
      else fail "$rw ratio $ratio < $BENCH_MIN_RATIO"; fi
    fi
  else
    fail "$rw benchmark: no IOPS (zcftl:$zs null:$ns)"
  fi
done
js=$(stats_json "$Z_ID"); info "zcftl stats after bench: $js"
_cleanup_all
finish
