# powercut-boot2.sh (second boot, same VM_DISK): after the power cut, `add` on the image
# rebuilds the FTL from flash; ext4 replays its journal; every file synced before the cut is
# intact; e2fsck is clean.
. /lib/vm-lib.sh
require_ftl
mkdir -p /persist /mnt/p
check "mount /dev/vda after the power cut" mount -t ext4 /dev/vda /persist || abort "mount /dev/vda"
[ -f /persist/synced.sha ] || abort "no manifest from boot 1 on /dev/vda"
[ -f /persist/zcftl.img ] || abort "no image from boot 1 on /dev/vda"
t0=$(date +%s)
ftl_add --image /persist/zcftl.img || abort "add on the image after the power cut"
pass "add after the power cut -> $DEV ($(( $(date +%s) - t0 )) s)"
check "mount after the power cut (journal replay)" mount -t ext4 "$DEV" /mnt/p || abort "mount after power cut"
check "synced files intact after the power cut" verify_manifest /mnt/p/synced /persist/synced.sha
info "unsynced files that survived: $(ls /mnt/p | grep -c unsynced)"
check "umount" umount /mnt/p
check "e2fsck -fn clean after journal replay" e2fsck -fn "$DEV"
js=$(stats_json "$DEV_ID"); info "stats after rebuild: $js"
check "del $DEV_ID" $FTL del "$DEV_ID"
umount /persist
finish
