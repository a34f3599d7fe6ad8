#!/usr/bin/env bash
# tests/vm/run-in-vm.sh GUEST_SCRIPT [FILE...]
#
# Boots a throwaway qemu guest (TCG; this host's KVM cannot run a stock kernel) with a Debian
# kernel that has ublk_drv, runs GUEST_SCRIPT in it as root under busybox sh, prints the guest's
# console output live, and exits with the script's exit status.
#
# Guest environment: busybox (as /bbin), plus mke2fs/mkfs.ext4/e2fsck/tune2fs/dumpe2fs/debugfs,
# fio, coreutils md5sum/sha256sum, util-linux blkdiscard/fstrim/losetup with their shared
# libraries; modules ublk_drv, ext4, loop, brd, virtio_blk (+ dependencies) already loaded;
# tmpfs on /tmp, /run, /dev/shm; devpts; each FILE is copied into /bin (ELF files stripped of
# debug info). PATH=/bin:/sbin:/bbin. Scenario helpers in tests/vm/lib.sh are at /lib/vm-lib.sh.
# Quirk: Debian's static busybox sh runs its own applets before searching PATH, so `mke2fs`,
# `sha256sum`, `md5sum`, `losetup`, `fstrim`, `blkdiscard` are busybox's unless called by path
# (/bin/mke2fs); `mkfs.ext4`, `e2fsck`, `fio` and the FILEs are the real ones.
#
# Boots and retries: the init prints a start marker (ZCFTL-VM-START, through the kernel log)
# right before it execs GUEST_SCRIPT. A boot whose console never shows it died before the script
# started (a kernel panic while booting, as TCG does now and then, or a hang): it is booted
# again, up to 3 boots in all. A boot that showed the marker is never retried, whatever happens
# after it: its outcome is the result.
#
# Environment:
#   VM_DISK=FILE     attach FILE as an extra raw virtio disk (/dev/vda): survives the boot
#   VM_DISK_NEW=SIZE (re)create VM_DISK as an empty sparse file of SIZE before every boot, so a
#                    retried boot never sees a disk an earlier boot may have touched
#   VM_MEM=MB        guest memory (default 2048)          VM_SMP=N   vCPUs (default 2)
#   VM_TIMEOUT=S     kill the guest after S seconds, per boot (default 600; exit status 124)
#   VM_WATCHDOG_MARGIN=S  the guest prints its diagnostics S seconds before that (default 60)
#   VM_BOOT_TIMEOUT=S  a boot without the start marker after S s is killed and retried (default 120)
#   VM_KILL_MARK=TEXT  power cut: SIGKILL qemu VM_KILL_AFTER (default 0) seconds after the
#                    console shows TEXT; exit status 98 unless the script had already ended
#   VM_ENV="A=1 B=2" variables exported to GUEST_SCRIPT
#   VM_LOG=FILE      also keep the console output (CR-stripped) in FILE, every boot's, each
#                    retried one under a "==== tests/vm/run-in-vm.sh: boot N of 3 ..." line
#   VM_BOOT_REPORT=FILE  one line per boot: "died N <reason>" (before the start marker; the
#                    reason is one console line, e.g. the panic line) or "started N", then
#                    "crashed N <reason>" if that boot died without reporting the script's status
#   VM_APPEND=...    kernel command line instead of "quiet" (e.g. "loglevel=7" to debug boot)
#   VM_QUIET=1       do not echo the console live (it is still printed if the guest fails)
#   VM_DIE_BEFORE_START=N  testing the retries: the first N boots panic before init
#                    (rdinit=/nonexistent: "VFS: Unable to mount root fs"); N >= 3: never starts
#   VM_DIE_AFTER_START=N   testing the retries: the first N boots panic right after printing the
#                    start marker (sysrq c); such a boot must not be retried (exit status 126)
#   ZCFTL_VM_CACHE   cache dir of tests/vm/setup.sh (default /var/cache/zcftl-vm)
# Exit status: the script's, or 124 on timeout, 125 on a harness error, 126 if the guest died
# without reporting (kernel panic, qemu failure): after its script started, or in all 3 boots
# before it (then stderr says "the guest never started").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VMC=${ZCFTL_VM_CACHE:-/var/cache/zcftl-vm}
die() { echo "tests/vm/run-in-vm.sh: error: $*" >&2; exit 125; }

[[ $# -ge 1 ]] || die "usage: run-in-vm.sh GUEST_SCRIPT [FILE...]"
script=$1; shift
[[ -f $script ]] || die "guest script $script not found"
for f in "$@"; do [[ -f $f ]] || die "file $f not found"; done

"$here/setup.sh" || die "setup.sh failed"
mod=$(cat "$VMC/kernel/moddir"); kver=$(cat "$VMC/kernel/kver")
[[ -f $mod/modules.dep ]] || die "no modules.dep in $mod (delete $VMC and rerun setup.sh)"

w=$(mktemp -d "${TMPDIR:-/tmp}/zcftl-vm.XXXXXX")
qpid=
cleanup() { [[ -n $qpid ]] && kill "$qpid" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
r=$w/root
mkdir -p "$r"/{bin,sbin,bbin,etc,proc,sys,dev,tmp,run,mnt,root,lib/modules,usr/lib,var/tmp}

# --- kernel modules: the wanted ones and everything modules.dep says they need, deps first ---
# ext4 finds crc32c through the crypto API (request_module), which modules.dep does not show:
# 6.12 has crc32c_generic/crc32c-intel, 7.x crc32c-cryptoapi. Absent ones are skipped.
want=(crypto/crc32c_generic arch/x86/crypto/crc32c-intel crypto/crc32c-cryptoapi lib/libcrc32c
      drivers/block/ublk_drv drivers/block/virtio_blk drivers/block/loop drivers/block/brd fs/ext4/ext4)
declare -A seen=()
order=()
add_mod() {  # add_mod kernel/path/x.ko.xz
  local m=$1 line deps d i
  [[ -n ${seen[$m]:-} ]] && return 0
  seen[$m]=1
  line=$(grep -m1 "^$m:" "$mod/modules.dep" || true)
  deps=${line#*:}
  # modules.dep lists the full closure; loading it back to front satisfies every dependency.
  read -r -a d <<<"$deps"
  for ((i=${#d[@]}-1; i>=0; i--)); do add_mod "${d[i]}"; done
  order+=("$m")
}
for m in "${want[@]}"; do
  f=$(cd "$mod" && ls kernel/"$m".ko* 2>/dev/null | head -1 || true)
  if [[ -z $f ]]; then
    [[ $m == drivers/block/ublk_drv ]] && die "kernel $kver has no ublk_drv module"
    continue   # built in (or absent: brd/loop are optional)
  fi
  add_mod "$f"
done
: >"$r/etc/modules.load"
for m in "${order[@]}"; do
  b=$(basename "$m"); b=${b%%.ko*}
  case $m in
    *.xz) xz -dc "$mod/$m" >"$r/lib/modules/$b.ko" ;;
    *.zst) zstd -qdc "$mod/$m" >"$r/lib/modules/$b.ko" ;;
    *.gz) gzip -dc "$mod/$m" >"$r/lib/modules/$b.ko" ;;
    *) cp "$mod/$m" "$r/lib/modules/$b.ko" ;;
  esac
  case $b in
    brd) echo "$b rd_nr=2 rd_size=262144" >>"$r/etc/modules.load" ;;  # 2 x 256 MiB, allocated lazily
    *) echo "$b" >>"$r/etc/modules.load" ;;
  esac
done

# --- user space ---
cp /bin/busybox "$r/bbin/busybox"
copy_elf() {  # copy_elf SRC DESTDIR: the binary plus the shared libraries ldd names
  local src=$1 dst=$2/$(basename "$1") l
  cp -L "$src" "$dst"; chmod +x "$dst"
  if [[ -z ${VM_NOSTRIP:-} ]] && head -c4 "$dst" | grep -q ELF && command -v strip >/dev/null; then
    strip --strip-debug "$dst" 2>/dev/null || true
  fi
  for l in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' || true); do
    [[ -e $r$l ]] && continue
    mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"
  done
}
tools=(mke2fs e2fsck tune2fs dumpe2fs debugfs fio md5sum sha256sum blkdiscard fstrim losetup)
for t in "${tools[@]}"; do
  p=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v "$t" || true)
  [[ -n $p ]] || { [[ $t == mke2fs || $t == e2fsck || $t == fio ]] && die "$t not installed (run setup.sh)"; continue; }
  copy_elf "$p" "$r/bin"
done
ln -s mke2fs "$r/bin/mkfs.ext4"; ln -s e2fsck "$r/bin/fsck.ext4"
for f in "$@"; do copy_elf "$f" "$r/bin"; done
# libc's NSS / locale bits are not needed; mke2fs wants /etc/mtab and a mke2fs.conf.
[[ -f /etc/mke2fs.conf ]] && cp /etc/mke2fs.conf "$r/etc/"
ln -s /proc/mounts "$r/etc/mtab"
echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"; echo 'root:x:0:' >"$r/etc/group"
[[ -f $here/lib.sh ]] && cp "$here/lib.sh" "$r/lib/vm-lib.sh"
cp "$script" "$r/guest.sh"
: >"$r/etc/guest.env"
n=$(basename "$script"); printf 'export SCEN=%q\n' "${n%.sh}" >>"$r/etc/guest.env"
for kv in ${VM_ENV:-}; do printf 'export %q\n' "$kv" >>"$r/etc/guest.env"; done
# The guest's own watchdog fires this long before the host kills the boot, and prints what a
# hung scenario is waiting on (see /init), so a timeout names its cause.
wd=$(( ${VM_TIMEOUT:-600} - ${VM_WATCHDOG_MARGIN:-60} )); (( wd < 30 )) && wd=30
printf 'ZCFTL_WATCHDOG=%d\n' "$wd" >"$r/etc/watchdog"

cat >"$r/init" <<'INIT'
#!/bbin/busybox sh
/bbin/busybox --install -s /bbin
ln -s /bbin/busybox /bin/sh; ln -s /bbin/busybox /bin/busybox
export PATH=/bin:/sbin:/bbin HOME=/root TERM=dumb
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmp /tmp; mount -t tmpfs -o mode=755 run /run; mount -t tmpfs -o mode=1777 shm /dev/shm
ln -s /proc/self/fd /dev/fd 2>/dev/null; ln -s /proc/self/fd/0 /dev/stdin 2>/dev/null
ln -s /proc/self/fd/1 /dev/stdout 2>/dev/null; ln -s /proc/self/fd/2 /dev/stderr 2>/dev/null
hostname zcftl-vm
while read -r m args; do insmod /lib/modules/$m.ko $args || echo "ZCFTL-VM: insmod $m failed"; done </etc/modules.load
cd /root
nk=$(dmesg | wc -l)
# The start marker, the last thing before the scenario runs: the host retries a boot only if
# it is absent (the guest died before the script started). It goes through the kernel log
# (KERN_CRIT, shown under "quiet"), which a panic flushes to the console, so a script that
# started is never mistaken for one that did not, even if the kernel dies a moment later.
start="ZCFTL-VM-START kernel=$(uname -r) cpus=$(nproc) mem_kb=$(sed -n 's/MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
crash=; grep -qw zcftl.die_after_start /proc/cmdline && crash=1
# Watchdog: if the scenario still runs shortly before the host's timeout, print the daemons'
# logs, every task's state and kernel stack, and the kernel log, then let the host kill us.
. /etc/watchdog
( sleep "$ZCFTL_WATCHDOG"
  echo "ZCFTL-VM-WATCHDOG: scenario still running after $ZCFTL_WATCHDOG s; diagnostics follow"
  for f in /run/zcftl/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 60 "$f"; }; done
  for f in /run/zcftl/*.json; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; echo; }; done
  for d in /proc/[0-9]*; do
    c=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null); [ -n "$c" ] || continue
    for t in "$d"/task/*; do
      echo "--- task ${t##*/} of ${d##*/} [$c] state=$(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
      cat "$t/stack" 2>/dev/null | head -20
    done
  done
  echo "--- file systems and memory"; df -k /tmp /run /dev/shm; free -k
  for f in /sys/block/ublkb*/inflight; do [ -f "$f" ] && echo "--- $f: $(cat "$f")"; done
  echo "--- dmesg (tail)"; dmesg | tail -n 60
  echo "ZCFTL-VM-WATCHDOG: end" ) </dev/null &
wdpid=$!
( echo "<2>$start" >/dev/kmsg 2>/dev/null || echo "$start"
  if [ -n "$crash" ]; then  # VM_DIE_AFTER_START: a death after the start (must NOT be retried)
    echo "ZCFTL-VM: zcftl.die_after_start: crashing the kernel after the start marker"; sleep 1
    echo c >/proc/sysrq-trigger
  fi
  . /etc/guest.env; exec sh /guest.sh ) </dev/null
rc=$?
kill $wdpid 2>/dev/null
if [ $rc -ne 0 ]; then echo "--- ZCFTL-VM: guest script failed (status $rc); last kernel messages:"; dmesg | tail -n +$((nk + 1)) | tail -60; fi
sync
echo "ZCFTL-VM-EXIT=$rc"
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1 >"$w/initrd.gz") || die "building the initramfs failed"

disk=()
[[ -n ${VM_DISK_NEW:-} && -z ${VM_DISK:-} ]] && die "VM_DISK_NEW needs VM_DISK"
if [[ -n ${VM_DISK:-} ]]; then
  [[ -n ${VM_DISK_NEW:-} || -f $VM_DISK ]] || die "VM_DISK $VM_DISK not found"
  disk=(-drive "file=$VM_DISK,if=virtio,format=raw,cache=writeback")
fi
log=$w/console.log
if [[ -n ${VM_QUIET:-} ]]; then out=/dev/null; else out=/dev/stdout; fi
boot_timeout=${VM_BOOT_TIMEOUT:-120}
max_boots=3
[[ -n ${VM_BOOT_REPORT:-} ]] && : >"$VM_BOOT_REPORT"

# started: did the scenario script start in this boot? The init's start marker says so; its
# exit line or a check line (printed only by the script) would too, were the marker garbled.
started() { grep -aqE 'ZCFTL-VM-START|ZCFTL-VM-EXIT=|^(PASS|FAIL) ' "$log"; }
# death_reason: one line from the console of a boot that died (the panic line if any).
death_reason() {
  local p rip
  p=$(grep -a -m1 'Kernel panic - not syncing' "$log" | sed 's/^\[ *[0-9.]*\] //')
  rip=$(grep -a -m1 -o 'RIP: 0010:[^ ]*' "$log" | sed 's/^RIP: 0010://')  # kernel code only
  if [[ -n $p ]]; then
    [[ -n $rip ]] && p+=" (RIP $rip)"
  elif [[ -n $hung ]]; then p="no start marker after ${boot_timeout} s (VM_BOOT_TIMEOUT): boot hung"
  elif [[ $qrc == 124 || $qrc == 137 ]]; then p="timed out after ${VM_TIMEOUT:-600} s without a start marker"
  else
    p="qemu exited with status $qrc; last console line: $(grep -a . "$log" | tail -1 | sed 's/^\[ *[0-9.]*\] //')"
  fi
  printf '%s\n' "${p:0:200}"
}

# boot N: one boot; its console in $log. Sets qrc (qemu's status), hung, killed.
boot() {
  local nb=$1 append="console=ttyS0 ${VM_APPEND:-quiet} panic=-1 oops=panic"
  # Fault injection for testing the retries (see the header): a missing rdinit makes the
  # kernel panic after unpacking the initramfs, before init: "VFS: Unable to mount root fs".
  (( nb <= ${VM_DIE_BEFORE_START:-0} )) && append+=" rdinit=/nonexistent"
  (( nb <= ${VM_DIE_AFTER_START:-0} )) && append+=" zcftl.die_after_start"
  if [[ -n ${VM_DISK_NEW:-} ]]; then rm -f "$VM_DISK"; truncate -s "$VM_DISK_NEW" "$VM_DISK" || die "cannot create $VM_DISK"; fi
  rm -f "$w/qrc" "$w/qemu.pid"; : >"$log"
  hung= killed=
  { timeout --kill-after=10 "${VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max \
      -m "${VM_MEM:-2048}" -smp "${VM_SMP:-2}" -kernel "$VMC/kernel/vmlinuz" -initrd "$w/initrd.gz" \
      -append "$append" "${disk[@]}" \
      -no-reboot -nodefaults -display none -serial stdio -pidfile "$w/qemu.pid" </dev/null 2>&1
    echo $? >"$w/qrc"; } | sed -u 's/\r$//' | tee -a "$log" >"$out" &
  local pp=$! n=0 st=
  while kill -0 "$pp" 2>/dev/null; do
    if [[ -n $st && -n ${VM_KILL_MARK:-} && -z $killed ]] && grep -qF -- "$VM_KILL_MARK" "$log"; then
      sleep "${VM_KILL_AFTER:-0}"
      echo "tests/vm/run-in-vm.sh: power cut: SIGKILL to qemu ${VM_KILL_AFTER:-0} s after '$VM_KILL_MARK'" >&2
      kill -KILL "$(cat "$w/qemu.pid")" 2>/dev/null; killed=1
    fi
    if [[ -z $st ]]; then
      if started; then st=1
      elif (( n >= boot_timeout * 2 )); then
        # A rare TCG boot hang (no output at all for minutes) was seen once on a loaded host.
        echo "tests/vm/run-in-vm.sh: no start marker after ${boot_timeout} s; killing this boot" >&2
        [[ -s $w/qemu.pid ]] && kill "$(cat "$w/qemu.pid")" 2>/dev/null
        hung=1; break
      fi
    fi
    sleep 0.5; n=$((n + 1))
  done
  wait "$pp"
  qrc=$(cat "$w/qrc" 2>/dev/null || echo 255)
}

# Up to 3 boots: a boot is retried only if its script never started (no start marker: the
# kernel died or hung on the way to init). Once the marker is seen, that boot is the result,
# whatever happens next: a scenario that started is never run twice.
t0=$(date +%s.%N)
set +e
ok= nb=0 reason=
[[ -n ${VM_LOG:-} ]] && : >"$VM_LOG"
while (( nb < max_boots )); do
  nb=$((nb + 1))
  boot "$nb"
  if started; then
    ok=1
    [[ -n ${VM_BOOT_REPORT:-} ]] && echo "started $nb" >>"$VM_BOOT_REPORT"
    [[ -n ${VM_LOG:-} && $nb -gt 1 ]] && echo "==== tests/vm/run-in-vm.sh: boot $nb of $max_boots" >>"$VM_LOG"
    break
  fi
  reason=$(death_reason)
  [[ -n ${VM_BOOT_REPORT:-} ]] && echo "died $nb $reason" >>"$VM_BOOT_REPORT"
  [[ -n ${VM_LOG:-} ]] && { echo "==== tests/vm/run-in-vm.sh: boot $nb of $max_boots died before the script started: $reason"; cat "$log"; } >>"$VM_LOG"
  if [[ -n ${VM_QUIET:-} ]]; then
    # From the first sign of trouble (the oops or the panic), else the last lines.
    k=$(grep -a -n -m1 -E 'BUG:|Oops:|general protection|WARNING:|Kernel panic' "$log" | cut -d: -f1)
    echo "tests/vm/run-in-vm.sh: boot $nb console:" >&2
    if [[ -n $k ]]; then tail -n +"$k" "$log" | head -25; else grep -a . "$log" | tail -12; fi | sed 's/^/    | /' >&2
  fi
  echo "tests/vm/run-in-vm.sh: boot $nb of $max_boots died before the script started: $reason" >&2
  (( nb < max_boots )) && echo "tests/vm/run-in-vm.sh: booting again$([[ -n ${VM_DISK_NEW:-} ]] && echo " on a new $VM_DISK")" >&2
done
set -e
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
if [[ -z $ok ]]; then
  echo "tests/vm/run-in-vm.sh: the guest never started $(basename "$script"): $max_boots boots died before the start marker (last: $reason), ${secs} s" >&2
  exit 126
fi
[[ -n ${VM_LOG:-} ]] && cat "$log" >>"$VM_LOG"
rc=$(sed -n 's/^ZCFTL-VM-EXIT=\([0-9]*\)$/\1/p' "$log" | tail -1)
if [[ -z $rc && -n $killed ]]; then
  [[ -n ${VM_QUIET:-} ]] && cat "$log"
  echo "tests/vm/run-in-vm.sh: $(basename "$script"): power cut as asked (VM_KILL_MARK), ${secs} s" >&2; exit 98
fi
if [[ -z $rc ]]; then
  [[ -n ${VM_QUIET:-} ]] && cat "$log"
  if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
    echo "tests/vm/run-in-vm.sh: guest timed out after ${VM_TIMEOUT:-600} s ($(basename "$script"))" >&2; exit 124
  fi
  reason=$(death_reason)
  [[ -n ${VM_BOOT_REPORT:-} ]] && echo "crashed $nb $reason" >>"$VM_BOOT_REPORT"
  echo "tests/vm/run-in-vm.sh: guest died after its script started, without reporting a status: $reason (qemu status $qrc, ${secs} s; not retried)" >&2; exit 126
fi
[[ -n ${VM_QUIET:-} && $rc -ne 0 ]] && cat "$log"
[[ -z ${VM_QUIET:-} ]] && echo
echo "tests/vm/run-in-vm.sh: $(basename "$script") exited $rc after ${secs} s in the guest" >&2
exit "$rc"
