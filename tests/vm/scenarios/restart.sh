# restart.sh: state survives a daemon restart: SIGTERM flushes, saves and deletes the device;
# `add` on the same image shows the same file system. Second cycle through `ftl-ublk del`.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/restart.img

ftl_add --image "$IMG" --size "${RESTART_SIZE:-256M}" || abort "ftl-ublk add"
pass "add -> $DEV"
check "mkfs.ext4" mkfs.ext4 -q -F "$DEV" || abort "mkfs.ext4 failed"
mkdir -p /mnt/r
check "mount" mount -t ext4 "$DEV" /mnt/r || abort "mount failed"
make_tree /mnt/r/tree "${RESTART_FILES:-40}"
dd if=/dev/urandom of=/mnt/r/tree/big bs=1M count=8 2>/dev/null
manifest /mnt/r/tree /tmp/restart.sha
check "umount" umount /mnt/r
if $FTL list 2>/dev/null | grep -qw -e "ublkb$DEV_ID" -e "ublkc$DEV_ID" -e "id[:= ]*$DEV_ID"; then pass "list shows device $DEV_ID"; else fail "list does not show device $DEV_ID: $($FTL list 2>&1 | head -3)"; fi

# Cycle 1: SIGTERM to the daemon.
pid=$(daemon_pid "$DEV_ID")
if [ -z "$pid" ]; then abort "no ftl-ublk daemon process found for $DEV"; fi
info "daemon pid $pid: $(tr '\0' ' ' </proc/$pid/cmdline)"
kill -TERM "$pid"
if wait_gone "$DEV" 60; then pass "SIGTERM: $DEV deleted"; else fail "SIGTERM: $DEV still present after 60 s"; fi
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then fail "daemon $pid still running 30 s after SIGTERM"; else pass "daemon exited after SIGTERM"; fi
wait_gone "/dev/ublkc$DEV_ID" 10 || fail "/dev/ublkc$DEV_ID still present"

ftl_add --image "$IMG" || abort "add again on the same image after SIGTERM"
pass "add again after SIGTERM -> $DEV"
check "e2fsck -fn clean after SIGTERM restart" e2fsck -fn "$DEV"
check "mount after restart" mount -t ext4 "$DEV" /mnt/r || abort "mount after restart failed"
check "checksums after SIGTERM restart" verify_manifest /mnt/r/tree /tmp/restart.sha
# Change things, then cycle 2 through `del`.
rm -rf /mnt/r/tree/d2; make_tree /mnt/r/tree/new 10
manifest /mnt/r/tree /tmp/restart2.sha
check "umount (2)" umount /mnt/r
check "del $DEV_ID" $FTL del "$DEV_ID"
wait_gone "$DEV" 60 || fail "$DEV still present 60 s after del"
ftl_add --image "$IMG" || abort "add again on the same image after del"
pass "add again after del -> $DEV"
check "e2fsck -fn clean after del restart" e2fsck -fn "$DEV"
check "mount after del restart" mount -t ext4 "$DEV" /mnt/r && \
  check "checksums after del restart" verify_manifest /mnt/r/tree /tmp/restart2.sha
umount /mnt/r 2>/dev/null
$FTL del "$DEV_ID" >/dev/null 2>&1
finish
