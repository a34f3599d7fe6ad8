# bench.sh: 4K random read/write IOPS at QD32, zcftl devices vs `ftl-ublk add --null`, same boot,
# runs alternating. Prints
#   BENCH zcftl_randread_iops=A null_randread_iops=B ratio=A/B
#   BENCH zcftl_randwrite_iops=A null_randwrite_iops=B ratio=A/B
# (one fio job at QD32 on one-queue devices), then the queues: one fio job per vCPU, pinned, QD
# 32/vCPUs each, on devices with 1 and 2 queues (`add --queues 2`, the null target too; two more
# zcftl images, so that both get the same writes and neither collects more garbage):
#   BENCH queues_randread zcftl_q1_iops=A zcftl_q2_iops=B null_q1_iops=C null_q2_iops=D
#         zcftl_q2_over_q1=B/A null_q2_over_q1=D/C ratio_q1=A/C ratio_q2=B/D ...
# (medians of BENCH_RUNS runs). TCG numbers are only meaningful side by side.
# A time budget (BENCH_BUDGET seconds, default 400, half per direction) stops the runs early on a
# loaded host: at least one run each, and the BENCH lines say how many (runs=K). A benchmark that
# outgrows the boot's timeout would otherwise fail the suite for the host's load, not zcftl.
. /lib/vm-lib.sh
require_ftl
RUNS=${BENCH_RUNS:-3}
BUDGET=${BENCH_BUDGET:-400}
SECS=${BENCH_SECS:-5}
MB=${BENCH_MB:-128}
NCPU=$(nproc)
JOBS=$(per_cpu_jobs)
QD_PER=$((32 / NCPU))

# The three images live in /tmp (guest RAM) and end up fully allocated: GC and wear leveling
# cycle through every block. A full /tmp kills the daemons (SIGBUS on the image mapping) and
# hangs fio, so make room first, or say why not.
mib() { case $1 in *G) echo $(( ${1%G} * 1024 )) ;; *M) echo "${1%M}" ;; *) echo $(( $1 >> 20 )) ;; esac; }
need=$(( 3 * $(mib "${BENCH_SIZE:-512M}") + 64 ))
mem=$(( $(sed -n 's/MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024 ))
[ $((need + 768)) -le "$mem" ] ||
  abort "the three images need $need MiB of /tmp and the guest has $mem MiB of RAM: give it $((need + 768)) MiB or more (VM_MEM)"
mount -o remount,size=${need}m /tmp || abort "cannot grow /tmp to $need MiB"
info "/tmp: $(df -m /tmp | awk 'NR == 2 { print $2 " MiB" }') for the images; guest RAM $mem MiB"

ftl_add --null --size "${BENCH_NULL_SIZE:-512M}" || abort "ftl-ublk add --null"
N1=$DEV; pass "add --null -> $N1"
ftl_add --null --size "${BENCH_NULL_SIZE:-512M}" --queues 2 || abort "ftl-ublk add --null --queues 2"
N2=$DEV; N2_ID=$DEV_ID; pass "add --null --queues 2 -> $N2"
ftl_add --image /tmp/bench.img --size "${BENCH_SIZE:-512M}" || abort "ftl-ublk add (zcftl)"
Z=$DEV; Z_ID=$DEV_ID; pass "add zcftl -> $Z"
ftl_add --image /tmp/bench-q1.img --size "${BENCH_SIZE:-512M}" || abort "ftl-ublk add (zcftl, second image)"
Z1=$DEV; pass "add zcftl (second image) -> $Z1"
ftl_add --image /tmp/bench-q2.img --size "${BENCH_SIZE:-512M}" --queues 2 || abort "ftl-ublk add --queues 2 (zcftl)"
Z2=$DEV; Z2_ID=$DEV_ID; pass "add zcftl --queues 2 -> $Z2"
# Fill the benchmarked region so reads hit mapped data, not the zero page.
for d in "$Z" "$Z1" "$Z2"; do
  if fio --name=fill --filename="$d" --ioengine=io_uring --direct=1 --iodepth=16 --rw=write --bs=128k \
       --size=${MB}M --output=/tmp/fill.out >/dev/null 2>&1; then pass "prefill ${MB}M of $d"; else fail "prefill $d"; fi
done
info "guest memory after the prefill: $(free -m | awk '/^Mem:/ { print $3 " MiB used, " $7 " MiB available" }')"

iops() {  # iops DEV rw [fio options] -> prints IOPS (integer) or nothing
  local f dev=$1 rw=$2
  shift 2
  fio --name=b --filename="$dev" --ioengine=io_uring --direct=1 --rw="$rw" --bs=4k \
    --size=${MB}M --time_based --runtime="$SECS" --ramp_time=1 --norandommap --randrepeat=0 \
    --group_reporting "$@" --output-format=terse --terse-version=3 >/tmp/b.out 2>/tmp/b.err || { tail -3 /tmp/b.err >&2; return 1; }
  case $rw in randread) f=8 ;; *) f=49 ;; esac
  awk -F';' -v f=$f '{ printf "%d\n", $f }' /tmp/b.out | tail -1
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b }'; }

for rw in randread randwrite; do
  zs="" ns="" z1s="" z2s="" n1s="" n2s=""
  i=1
  t0=$(date +%s)
  while [ $i -le "$RUNS" ]; do
    if [ $i -gt 1 ] && [ $(($(date +%s) - t0)) -ge $((BUDGET / 2)) ]; then
      info "$rw: time budget ($((BUDGET / 2)) s) spent after $((i - 1)) runs; the medians are of those"
      break
    fi
    z=$(iops "$Z" $rw --iodepth=32); n=$(iops "$N1" $rw --iodepth=32)
    z1=$(iops "$Z1" $rw --iodepth=$QD_PER $JOBS); n1=$(iops "$N1" $rw --iodepth=$QD_PER $JOBS)
    z2=$(iops "$Z2" $rw --iodepth=$QD_PER $JOBS); n2=$(iops "$N2" $rw --iodepth=$QD_PER $JOBS)
    info "$rw run $i: 1 job QD32: zcftl=$z null=$n; $NCPU jobs QD$QD_PER: zcftl 1q=$z1 2q=$z2, null 1q=$n1 2q=$n2"
    zs="$zs $z" ns="$ns $n" z1s="$z1s $z1" z2s="$z2s $z2" n1s="$n1s $n1" n2s="$n2s $n2"
    i=$((i + 1))
  done
  done_runs=$((i - 1))
  zm=$(echo $zs | median); nm=$(echo $ns | median)
  if [ -n "$zm" ] && [ -n "$nm" ] && [ "$nm" -gt 0 ] && [ "$zm" -gt 0 ]; then
    r=$(ratio "$zm" "$nm")
    echo "BENCH zcftl_${rw}_iops=$zm null_${rw}_iops=$nm ratio=$r runs=$done_runs secs=$SECS"
    pass "$rw benchmark ran ($done_runs runs each)"
    if [ -n "${BENCH_MIN_RATIO:-}" ]; then
      if awk -v r="$r" -v m="$BENCH_MIN_RATIO" 'BEGIN { exit !(r >= m) }'; then pass "$rw ratio $r >= $BENCH_MIN_RATIO"
      else fail "$rw ratio $r < $BENCH_MIN_RATIO"; fi
    fi
  else
    fail "$rw benchmark: no IOPS (zcftl:$zs null:$ns)"
  fi
  z1=$(echo $z1s | median); z2=$(echo $z2s | median); n1=$(echo $n1s | median); n2=$(echo $n2s | median)
  if [ -n "$(ratio "$z1" "$n1")" ] && [ -n "$(ratio "$z2" "$n2")" ]; then
    echo "BENCH queues_${rw} zcftl_q1_iops=$z1 zcftl_q2_iops=$z2 null_q1_iops=$n1 null_q2_iops=$n2" \
      "zcftl_q2_over_q1=$(ratio "$z2" "$z1") null_q2_over_q1=$(ratio "$n2" "$n1")" \
      "ratio_q1=$(ratio "$z1" "$n1") ratio_q2=$(ratio "$z2" "$n2") jobs=$NCPU iodepth=$QD_PER runs=$done_runs secs=$SECS"
    pass "$rw queues benchmark ran ($done_runs runs each)"
  else
    fail "$rw queues benchmark: no IOPS (zcftl 1q:$z1s 2q:$z2s null 1q:$n1s 2q:$n2s)"
  fi
done
every_queue_served "$Z2_ID" 2 "zcftl --queues 2"
every_queue_served "$N2_ID" 2 "null --queues 2"
js=$(stats_json "$Z_ID"); info "zcftl stats after bench: $js"
js=$(stats_json "$Z2_ID"); info "zcftl --queues 2 stats after bench: $js"
_cleanup_all
finish
