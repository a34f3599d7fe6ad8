# full-fs.sh: the file system holding the image fills up under a live device. The image is a
# sparse file mapped into the daemon; a store into a page the file system cannot allocate raises
# SIGBUS, so the daemon cannot go on. It must say why in its log and stop without deleting the
# device (the kernel holds its I/O, as after any daemon crash). After space is freed,
# `ftl-ublk recover` brings the device back: data flushed before the stop and data acknowledged
# but not flushed read back intact, and the writer that was held completes.
. /lib/vm-lib.sh
require_ftl
FS=/tmp/small
LOG=/run/zcftl/ftl-ublk.log
FS_MB=${FULLFS_MB:-40}
mkdir -p $FS
mount -t tmpfs -o size=${FS_MB}m small $FS || abort "mount a ${FS_MB} MiB tmpfs"
ftl_add --image $FS/full.img --size 64M || abort "ftl-ublk add on a ${FS_MB} MiB file system"
pass "add a 64M image on a ${FS_MB} MiB file system -> $DEV"
if grep -q "may still allocate" "$LOG"; then pass "the log warns that the file system is short of space"
else fail "no warning about free space in the log"; fi

bytes=$(( $(cat /sys/block/ublkb$DEV_ID/size) * 512 ))
mb=$(( bytes >> 20 ))
[ $mb -ge 24 ] || abort "device of $mb MiB: too small for this test"
dd if=/dev/urandom of=/tmp/flushed.bin bs=1M count=8 2>/dev/null
dd if=/dev/urandom of=/tmp/unflushed.bin bs=1M count=1 2>/dev/null
dd if=/dev/urandom of=/tmp/rest.bin bs=1M count=$((mb - 10)) 2>/dev/null
check "8 MiB written and flushed" dd if=/tmp/flushed.bin of="$DEV" bs=1M oflag=direct conv=fsync
check "1 MiB written, not flushed" dd if=/tmp/unflushed.bin of="$DEV" bs=1M seek=8 oflag=direct
pid=$(daemon_pid "$DEV_ID")
# The rest of the device, then a flush: the image outgrows the file system on the way.
dd if=/tmp/rest.bin of="$DEV" bs=1M seek=10 oflag=direct conv=fsync 2>/tmp/rest.err &
writer=$!
i=0
while [ -d /proc/$pid ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
[ -d /proc/$pid ] && abort "the daemon still runs after 120 s with $(df -m $FS | awk 'NR == 2 { print $4 }') MiB free"
info "file system: $(df -m $FS | awk 'NR == 2 { print $3 " MiB used of " $2 }')"
if grep -q "SIGBUS on the NAND image $FS/full.img: its file system is most likely full" "$LOG"; then
  pass "the daemon's last word names the full file system: $(grep -o 'FATAL.*full' "$LOG" | tail -1)"
else
  fail "the daemon died without saying why"
fi
if [ -b "$DEV" ]; then pass "$DEV kept by the kernel"; else abort "$DEV vanished with its daemon"; fi
if [ -d /proc/$writer ]; then pass "the writer is held, not failed"
else wait $writer; fail "the writer ended (status $?) before recovery: $(cat /tmp/rest.err)"; fi

check "free space (grow the file system to 128 MiB)" mount -o remount,size=128m $FS
out=$($FTL recover "$DEV_ID" 2>/tmp/recover.err); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$DEV" ]; then pass "recover $DEV_ID"
else abort "recover $DEV_ID exited $rc: $(tail -3 /tmp/recover.err)"; fi
if wait $writer; then pass "the held writer completed after recovery"
else fail "the held writer failed after recovery: $(cat /tmp/rest.err)"; fi

# readback FILE OFFSET_MB WHAT: the device's bytes at OFFSET_MB equal FILE.
readback() {
  dd if="$DEV" of=/tmp/back.bin bs=1M skip="$2" count=$(( $(stat -c %s "$1") >> 20 )) iflag=direct 2>/dev/null
  if cmp -s "$1" /tmp/back.bin; then pass "$3 read back intact"; else fail "$3 differs after recovery"; fi
}
readback /tmp/flushed.bin 0 "data flushed before the stop"
readback /tmp/unflushed.bin 8 "data acknowledged, not flushed, before the stop"
readback /tmp/rest.bin 10 "the held writer's data"
check "del $DEV_ID" $FTL del "$DEV_ID"
wait_gone "$DEV" 30 || fail "$DEV still present 30 s after del"
finish
