# smoke.sh: the guest harness itself works: ublk driver, ext4, mkfs/fsck, fio, io_uring,
# tmpfs mounts. Needs no ftl-ublk.
. /lib/vm-lib.sh

check "ublk_drv loaded" grep -q '^ublk_drv ' /proc/modules
check "/dev/ublk-control exists" test -c /dev/ublk-control
check "ext4 registered" grep -qw ext4 /proc/filesystems
check "tmpfs on /tmp /run /dev/shm" sh -c 'for d in /tmp /run /dev/shm; do grep -q " $d tmpfs " /proc/mounts || exit 1; done'

# mkfs.ext4 on a loop device backed by a file in /tmp, mount, write, fsck.
truncate -s 64M /tmp/smoke.img
LOOP=$(losetup -f --show /tmp/smoke.img 2>/dev/null || losetup -f)
[ -b "$LOOP" ] || abort "no loop device"
losetup "$LOOP" /tmp/smoke.img 2>/dev/null
check "mkfs.ext4 on loop" mkfs.ext4 -q -F "$LOOP"
mkdir -p /mnt/s
check "mount ext4" mount -t ext4 "$LOOP" /mnt/s || abort "mount failed"
make_tree /mnt/s/tree 20
manifest /mnt/s/tree /tmp/smoke.sha
check "umount" umount /mnt/s
check "e2fsck -fn clean" e2fsck -fn "$LOOP"
check "remount" mount -t ext4 "$LOOP" /mnt/s || abort "remount failed"
check "checksums after remount" verify_manifest /mnt/s/tree /tmp/smoke.sha
umount /mnt/s; losetup -d "$LOOP"

# fio with io_uring + O_DIRECT + crc32c verify on a ramdisk (brd), like the real scenarios.
if [ -b /dev/ram0 ] || modprobe brd 2>/dev/null; then :; fi
if [ -b /dev/ram0 ]; then
  check "fio io_uring direct verify on /dev/ram0" fio --name=smoke --filename=/dev/ram0 --ioengine=io_uring \
    --direct=1 --rw=randwrite --bs=4k --iodepth=16 --size=16M --verify=crc32c --do_verify=1 --output-format=terse
else
  fail "no /dev/ram0 for the fio check"
fi
if [ -x /bin/ftl-ublk ]; then info "ftl-ublk present: $(ftl-ublk --version 2>&1 | head -1)"; fi
finish
