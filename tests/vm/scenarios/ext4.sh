# ext4.sh: ext4 on a zcftl device: mkfs, a tree of files with known checksums, clean fsck,
# checksums intact after remount; fstrim; stats readable.
. /lib/vm-lib.sh
require_ftl
IMG=/tmp/ext4.img
SIZE=${EXT4_SIZE:-512M}

ftl_add --image "$IMG" --size "$SIZE" || abort "ftl-ublk add --image $IMG --size $SIZE"
pass "add --image $IMG --size $SIZE -> $DEV"
info "device size: $(blockdev --getsize64 "$DEV") bytes, logical block $(blockdev --getss "$DEV")"
check "mkfs.ext4 $DEV" mkfs.ext4 -q -F "$DEV" || abort "mkfs.ext4 failed"
mkdir -p /mnt/t
check "mount" mount -t ext4 "$DEV" /mnt/t || abort "mount failed"
make_tree /mnt/t/tree "${EXT4_FILES:-60}"
dd if=/dev/urandom of=/mnt/t/tree/big bs=1M count="${EXT4_BIG_MB:-32}" 2>/dev/null
manifest /mnt/t/tree /tmp/ext4.sha
info "$(wc -l </tmp/ext4.sha) files, $(du -sk /mnt/t/tree | cut -f1) KiB"
check "checksums before umount" verify_manifest /mnt/t/tree /tmp/ext4.sha
check "umount" umount /mnt/t || abort "umount failed"
check "e2fsck -fn clean" e2fsck -fn "$DEV"
check "mount again" mount -t ext4 "$DEV" /mnt/t || abort "second mount failed"
check "checksums after remount" verify_manifest /mnt/t/tree /tmp/ext4.sha
# Delete half the tree and trim: exercises DISCARD through the file system.
rm -rf /mnt/t/tree/d1 /mnt/t/tree/d3 /mnt/t/tree/big
manifest /mnt/t/tree /tmp/ext4-2.sha
check "fstrim" fstrim /mnt/t
check "umount after fstrim" umount /mnt/t
check "e2fsck -fn clean after fstrim" e2fsck -fn "$DEV"
check "mount after fstrim" mount -t ext4 "$DEV" /mnt/t && check "checksums after fstrim + remount" verify_manifest /mnt/t/tree /tmp/ext4-2.sha
umount /mnt/t 2>/dev/null
js=$(stats_json "$DEV_ID")
if [ -n "$js" ]; then pass "stats --json"; info "stats: $js"; else fail "stats $DEV_ID --json printed nothing"; fi
check "del $DEV_ID" $FTL del "$DEV_ID"
if wait_gone "$DEV" 30; then pass "$DEV gone after del"; else fail "$DEV still present 30 s after del"; fi
finish
