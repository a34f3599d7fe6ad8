# powercut-boot1.sh (first of two boots, run by scripts/vm-test.sh with VM_DISK and
# VM_KILL_MARK=POWERCUT-NOW): the NAND image lives on ext4 on the extra virtio disk /dev/vda; a
# file system on the zcftl device gets a synced tree, then unsynced writes run while the host
# SIGKILLs qemu: a power cut of the whole machine (the guest's page cache is lost too).
. /lib/vm-lib.sh
require_ftl
[ -b /dev/vda ] || abort "no /dev/vda (run with VM_DISK)"
check "mkfs.ext4 /dev/vda" mkfs.ext4 -q -F /dev/vda || abort "mkfs /dev/vda"
mkdir -p /persist /mnt/p
check "mount /dev/vda" mount -t ext4 /dev/vda /persist || abort "mount /dev/vda"
ftl_add --image /persist/zcftl.img --size "${POWERCUT_SIZE:-256M}" || abort "ftl-ublk add"
pass "add --image /persist/zcftl.img -> $DEV"
check "mkfs.ext4 $DEV" mkfs.ext4 -q -F "$DEV" || abort "mkfs.ext4"
check "mount $DEV" mount -t ext4 "$DEV" /mnt/p || abort "mount"
make_tree /mnt/p/synced 30
dd if=/dev/urandom of=/mnt/p/synced/big bs=1M count=8 2>/dev/null
manifest /mnt/p/synced /persist/synced.sha
sync   # ext4 -> FLUSH to zcftl -> FTL flush + image fsync -> FLUSH to vda
check "synced tree readable" verify_manifest /mnt/p/synced /persist/synced.sha
sync
# Unsynced activity at the moment of the cut.
( i=0; while :; do dd if=/dev/urandom of=/mnt/p/unsynced-$i bs=64k count=16 2>/dev/null; i=$((i + 1)); done ) &
sleep 2
echo "POWERCUT-NOW $(date +%s)"
sleep 120
fail "still running 120 s after POWERCUT-NOW: the host did not cut the power"
finish
