# crash.sh: the daemon dies (SIGKILL: like its panic path, the process is gone without a
# flush) under a mounted ext4. Files synced before the crash must survive: the device goes
# away, `list` shows it dead, `del` cleans up, `add` on the image rebuilds the FTL from flash,
# ext4 replays its journal, synced checksums match, e2fsck is clean.
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
manifest /mnt/c/synced /tmp/crash.sha
check "synced tree readable" verify_manifest /mnt/c/synced /tmp/crash.sha
# Unsynced writes in flight when the daemon dies.
make_tree /mnt/c/unsynced 20
pid=$(daemon_pid "$DEV_ID")
[ -n "$pid" ] || abort "no daemon pid"
info "SIGKILL daemon $pid"
kill -KILL "$pid"
if wait_gone "$DEV" 60; then pass "$DEV removed after the daemon died"; else fail "$DEV still present 60 s after SIGKILL"; fi
umount -l /mnt/c 2>/dev/null
l=$($FTL list 2>&1); info "list after crash: $(echo $l)"
check "del $DEV_ID after crash" $FTL del "$DEV_ID"
sleep 1
ftl_add --image "$IMG" || abort "add on the crashed image"
pass "add on the crashed image -> $DEV"
check "mount after crash (journal replay)" mount -t ext4 "$DEV" /mnt/c || abort "mount after crash failed"
check "synced files intact after crash" verify_manifest /mnt/c/synced /tmp/crash.sha
check "umount" umount /mnt/c
check "e2fsck -fn clean after journal replay" e2fsck -fn "$DEV"
js=$(stats_json "$DEV_ID"); info "stats after rebuild: $js"
$FTL del "$DEV_ID" >/dev/null 2>&1
finish
