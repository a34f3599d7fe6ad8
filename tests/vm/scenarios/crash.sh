# crash.sh: the daemon dies (SIGKILL, like its panic path: no flush, no cleanup) under a mounted
# ext4 with direct writes in flight. With user recovery the kernel keeps /dev/ublkbN and holds
# its I/O; `ftl-ublk recover` starts a successor that replays the crash journal in /dev/shm and
# takes the requests over. ext4 never notices: the writer finishes without an error, files
# synced before the crash and files written across it read back from the device (caches
# dropped), e2fsck is clean, and a clean del leaves no journal behind.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/crash.img
ftl_add --image "$IMG" --size "${CRASH_SIZE:-256M}" || abort "ftl-ublk add"
pass "add -> $DEV"
check "mkfs.ext4" mkfs.ext4 -q -F "$DEV" || abort "mkfs.ext4 failed"
mkdir -p /mnt/c
check "mount" mount -t ext4 "$DEV" /mnt/c || abort "mount failed"
make_tree /mnt/c/synced 30
dd if=/dev/urandom of=/mnt/c/synced/big bs=1M count=8 2>/dev/null
sync
manifest /mnt/c/synced /tmp/synced.sha
# The writer: O_DIRECT writes reach the device at once, so requests are in flight at the kill.
(
  mkdir -p /mnt/c/across
  i=0
  while [ $i -lt 24 ]; do
    head -c 1048576 /dev/urandom >/tmp/chunk
    dd if=/tmp/chunk of=/mnt/c/across/f$i bs=64k oflag=direct 2>/dev/null || exit 1
    i=$((i + 1))
  done
  make_tree /mnt/c/across/tree 20
  sync
) &
writer=$!
sleep "${CRASH_KILL_AFTER:-3}"
pid=$(daemon_pid "$DEV_ID")
[ -n "$pid" ] || abort "no daemon pid"
info "SIGKILL daemon $pid while the writer runs"
kill -KILL "$pid"
sleep 2
if [ -b "$DEV" ]; then pass "$DEV kept by the kernel after the daemon died"; else abort "$DEV vanished after SIGKILL (no user recovery?)"; fi
l=$($FTL list 2>&1); info "list: $(echo $l)"
case $l in *"daemon dead"*) pass "list says the daemon is dead and how to recover" ;;
  *) fail "list does not report the dead daemon: $l" ;; esac
out=$($FTL recover "$DEV_ID" 2>/tmp/recover.err); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$DEV" ]; then pass "recover $DEV_ID -> $out"
else fail "recover $DEV_ID exited $rc, printed '$out'"; sed 's/^/    | /' /tmp/recover.err; abort "no recovery"; fi
if wait $writer; then pass "the writer finished across the crash without an error"
else fail "the writer failed (exit $?)"; fi
manifest /mnt/c/across /tmp/across.sha
sync
echo 3 >/proc/sys/vm/drop_caches
check "synced files intact (read from the device)" verify_manifest /mnt/c/synced /tmp/synced.sha
check "files written across the crash intact" verify_manifest /mnt/c/across /tmp/across.sha
check "umount" umount /mnt/c
check "e2fsck -fn clean after the daemon crash" e2fsck -fn "$DEV"
js=$(stats_json "$DEV_ID"); info "stats after recovery: $js"
rw=$(printf '%s' "$js" | json_field journal_replayed_writes)
info "journal replay: $rw writes, $(printf '%s' "$js" | json_field journal_replayed_trims) trims"
check "del $DEV_ID (clean)" $FTL del "$DEV_ID"
left=$(ls /dev/shm/zcftl 2>/dev/null | wc -l)
if [ "$left" -eq 0 ]; then pass "a clean del leaves no crash journal"; else fail "$left journal file(s) left in /dev/shm/zcftl"; fi
ftl_add --image "$IMG" || abort "add on the image after the clean del"
check "mount after del + add" mount -t ext4 "$DEV" /mnt/c
check "synced files intact after del + add" verify_manifest /mnt/c/synced /tmp/synced.sha
check "files written across the crash intact after del + add" verify_manifest /mnt/c/across /tmp/across.sha
umount /mnt/c
$FTL del "$DEV_ID" >/dev/null 2>&1
finish
