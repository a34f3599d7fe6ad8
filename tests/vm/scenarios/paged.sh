# paged.sh: a demand-paged map under a real kernel. `add --map-budget 128K` on a 512M image
# caches a few thousand of its ~110 000 map entries, so most requests miss and dirty
# translation pages are written back under pressure all the time. fio randwrite+verify across
# a SIGKILL of the daemon and `recover` (which must reuse the budget), a verify-only pass; then
# ext4 with a file tree over the whole device, del + add with the budget: e2fsck is clean and
# the tree reads back; the stats (since the recover) show the cache paging.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/paged.img
MB=${PAGED_MB:-96}
BUDGET=${PAGED_BUDGET:-128K}
ftl_add --image "$IMG" --size 512M --map-budget "$BUDGET" || abort "ftl-ublk add --map-budget $BUDGET"
pass "add --map-budget $BUDGET -> $DEV"
stat_of() { stats_json "$DEV_ID" | json_field "$1"; }
entries=$(stat_of map_cache_entries)
case $entries in ''|*[!0-9]*|0) abort "no map cache (map_cache_entries '$entries')" ;; esac
pass "the map is demand-paged: $entries cache entries for $(( $(cat /sys/block/ublkb$DEV_ID/size) / 8 )) LBAs"

job="--name=pv --filename=$DEV --ioengine=io_uring --direct=1 --iodepth=32 --rw=randwrite \
  --bssplit=4k/40:8k/10:16k/20:64k/15:128k/15 --size=${MB}M --offset=0 --verify=crc32c \
  --verify_fatal=1 --randseed=777 --group_reporting"
fio_ok() {  # fio_ok "what": waits for the background fio and checks it
  if wait "$fio_pid" && ! grep -q 'err= *[1-9]' /tmp/fio.out; then
    pass "$1"; grep -E 'IOPS=|err=' /tmp/fio.out | head -3 | sed 's/^/    /'
  else
    fail "$1"; tail -20 /tmp/fio.out /tmp/fio.err | sed 's/^/    | /'
  fi
}
fio $job --do_verify=1 --output=/tmp/fio.out >/dev/null 2>/tmp/fio.err &
fio_pid=$!
# SIGKILL once a third of the region is written, then recover.
want=$((MB * 256 / 3)); i=0
while [ $i -lt 900 ]; do
  n=$(stat_of host_sectors_written); case $n in ''|*[!0-9]*) n=0 ;; esac
  [ "$n" -ge "$want" ] && break
  sleep 0.2; i=$((i + 1))
done
pid=$(daemon_pid "$DEV_ID")
[ -n "$pid" ] || abort "no daemon pid"
kill -KILL "$pid"; sleep 1
out=$($FTL recover "$DEV_ID" 2>/tmp/recover.err); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$DEV" ]; then pass "SIGKILL at $n sectors written, then recover $DEV_ID"
else abort "recover $DEV_ID exited $rc: $(tail -3 /tmp/recover.err)"; fi
again=$(stat_of map_cache_entries)
if [ "$again" = "$entries" ]; then pass "recover kept the map budget ($again entries)"
else fail "recover changed the map cache from $entries to '$again' entries"; fi
fio_ok "fio randwrite+verify ${MB}M across the kill: err=0, every block verifies"
fio $job --verify_only --output=/tmp/fio.out >/dev/null 2>/tmp/fio.err &
fio_pid=$!
fio_ok "verify-only pass"

# Then ext4 over the whole device, a file tree, and a restart.
mkdir -p /mnt/p
check "mkfs.ext4" mkfs.ext4 -q -F "$DEV"
check "mount" mount "$DEV" /mnt/p
make_tree /mnt/p/tree 200
manifest /mnt/p/tree /tmp/manifest
check "sync" sync
check "umount" umount /mnt/p
check "e2fsck clean" e2fsck -fn "$DEV"
misses=$(stat_of map_cache_misses); wb=$(stat_of map_pressure_write_backs)
case "$misses$wb" in *[!0-9]*|'') fail "map cache stats unreadable: misses '$misses' write-backs '$wb'" ;;
  *) if [ "$misses" -gt 1000 ] && [ "$wb" -gt 10 ]; then
       pass "the cache paged: $misses misses, $wb pressure write-backs, hit rate $(stat_of map_cache_hit_rate)"
     else fail "too little paging to mean much: $misses misses, $wb pressure write-backs"; fi ;;
esac
check "del $DEV_ID" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
ftl_add --image "$IMG" --map-budget "$BUDGET" || abort "re-add with --map-budget"
pass "re-add with --map-budget -> $DEV"
check "e2fsck clean after re-add" e2fsck -fn "$DEV"
check "mount after re-add" mount "$DEV" /mnt/p
if verify_manifest /mnt/p/tree /tmp/manifest; then pass "file tree intact after re-add"
else fail "file tree differs after re-add"; fi
check "umount" umount /mnt/p
check "del $DEV_ID" $FTL del "$DEV_ID"
finish
