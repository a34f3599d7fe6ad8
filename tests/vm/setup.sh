#!/usr/bin/env bash
# tests/vm/setup.sh: prepares the host to boot a ublk test guest. Idempotent and cached.
#
# Installs (apt, as root): qemu-system-x86 busybox-static e2fsprogs fio kmod xz-utils cpio
# libclang-dev (the last one for libublk-rs-sys's bindgen build), then fetches a Debian kernel
# whose modules include ublk_drv into the cache ($ZCFTL_VM_CACHE, default /var/cache/zcftl-vm):
# the current sid kernel (resolved with apt-cache depends, never hard-coded), else trixie's.
#
# Cache layout when ready:  kernel/vmlinuz  kernel/kver  kernel/moddir (absolute)  kernel/suite
# and the marker file `ready`. Delete the cache directory to force a fresh fetch.
# ZCFTL_VM_SUITES="trixie" overrides the suites tried, in order (default "sid trixie").
set -euo pipefail

VMC=${ZCFTL_VM_CACHE:-/var/cache/zcftl-vm}
die() { echo "tests/vm/setup.sh: error: $*" >&2; exit 1; }
note() { echo "tests/vm/setup.sh: $*" >&2; }

PKGS=(qemu-system-x86 busybox-static e2fsprogs fio kmod xz-utils cpio libclang-dev)
# One command (or file) per package above, to tell whether it is already installed.
need_cmds=(qemu-system-x86_64 busybox mke2fs fio depmod xz cpio)

mkdir -p "$VMC" 2>/dev/null || die "cannot create cache directory $VMC (run as root, or set ZCFTL_VM_CACHE)"

# Serialise concurrent runs (several test scripts may call this at once).
exec 9>"$VMC/.lock"
flock 9

have_pkgs() {
  local c
  for c in "${need_cmds[@]}"; do command -v "$c" >/dev/null 2>&1 || [[ -x /sbin/$c || -x /usr/sbin/$c ]] || return 1; done
  # busybox must be the static one (it is copied into the guest); libclang for bindgen.
  [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 || return 1
  ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || return 1
  return 0
}

if ! have_pkgs; then
  [[ $(id -u) -eq 0 ]] || die "packages missing (${PKGS[*]}) and not running as root to install them"
  command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian/Ubuntu hosts"
  note "installing ${PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PKGS[@]}" >"$VMC/apt-install.log" 2>&1 \
    || { tail -20 "$VMC/apt-install.log" >&2; die "apt-get install ${PKGS[*]} failed (log: $VMC/apt-install.log)"; }
  have_pkgs || die "packages installed but a tool is still missing (need ${need_cmds[*]}, static /bin/busybox, libclang)"
fi

if [[ -f $VMC/ready && -f $VMC/kernel/vmlinuz && -d $(cat "$VMC/kernel/moddir" 2>/dev/null) ]]; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "kernel not cached in $VMC and fetching it needs root (apt-get)"

# The machine's own Debian mirror: first "URIs:"/"deb" entry ending in /debian.
mirror=$(grep -rhoE '(URIs:|^deb)( +\[[^]]*\])? +[a-z]+://[^ ]+/debian/?( |$)' \
           /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
         | awk '{print $NF}' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
note "using Debian mirror $mirror"

# fetch_kernel SUITE: downloads and unpacks that suite's default amd64 kernel into $VMC/kernel.new.
fetch_kernel() {
  local suite=$1 A="$VMC/apt-$1" img ver deps mod kver vmlinuz
  local -a o
  rm -rf "$A" "$VMC/kernel.new"; mkdir -p "$A/lists/partial" "$A/debs" "$VMC/kernel.new/root"
  printf 'deb %s %s main\n' "$mirror" "$suite" >"$A/sources.list"
  o=(-o Dir::Etc::SourceList="$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State::Lists="$A/lists" -o Dir::Cache="$A/cache" -o APT::Architecture=amd64)
  mkdir -p "$A/cache/archives/partial"
  apt-get "${o[@]}" update -qq >"$A/update.log" 2>&1 || { note "$suite: apt-get update failed: $(tail -3 "$A/update.log" | tr '\n' ' ')"; return 1; }
  img=$(apt-cache "${o[@]}" depends linux-image-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
  [[ -n $img ]] || { note "$suite: cannot resolve linux-image-amd64's kernel package"; return 1; }
  ver=${img#linux-image-}
  note "$suite: kernel package $img"
  (cd "$A/debs" && apt-get "${o[@]}" download "$img" >"$A/download.log" 2>&1) \
    || { note "$suite: download of $img failed: $(tail -3 "$A/download.log" | tr '\n' ' ')"; return 1; }
  # sid splits the image into linux-binary-VER (vmlinuz) and linux-modules-VER; fetch those too.
  deps=$(dpkg-deb -f "$A"/debs/linux-image-"$ver"_*.deb Depends | tr ',|' '\n\n' \
         | sed -n 's/^ *\(linux-\(binary\|modules\)-[^ (]*\).*/\1/p' | sort -u)
  if [[ -n $deps ]]; then
    # shellcheck disable=SC2086
    (cd "$A/debs" && apt-get "${o[@]}" download $deps >>"$A/download.log" 2>&1) \
      || { note "$suite: download of $deps failed"; return 1; }
  fi
  local d
  for d in "$A"/debs/*.deb; do dpkg -x "$d" "$VMC/kernel.new/root" || { note "$suite: dpkg -x $d failed"; return 1; }; done
  mod=$(ls -d "$VMC"/kernel.new/root/usr/lib/modules/*/ "$VMC"/kernel.new/root/lib/modules/*/ 2>/dev/null | head -1 || true)
  mod=${mod%/}
  [[ -n $mod ]] || { note "$suite: no modules directory in the kernel packages"; return 1; }
  kver=$(basename "$mod")
  vmlinuz=$(ls "$mod"/vmlinuz "$VMC"/kernel.new/root/boot/vmlinuz-"$kver" 2>/dev/null | head -1 || true)
  [[ -n $vmlinuz ]] || { note "$suite: no vmlinuz for $kver"; return 1; }
  ls "$mod"/kernel/drivers/block/ublk_drv.ko* >/dev/null 2>&1 || { note "$suite: kernel $kver has no ublk_drv module"; return 1; }
  ls "$mod"/kernel/fs/ext4/ext4.ko* >/dev/null 2>&1 || [[ -n $(grep -s 'fs/ext4/ext4' "$mod/modules.builtin") ]] \
    || { note "$suite: kernel $kver has no ext4"; return 1; }
  # modules.dep, so run-in-vm.sh can pull each module's dependencies.
  depmod -b "${mod%/lib/modules/*}" "$kver" 2>"$A/depmod.log" || { note "$suite: depmod failed"; return 1; }
  [[ -s $mod/modules.dep ]] || { note "$suite: depmod produced no modules.dep"; return 1; }
  cp "$vmlinuz" "$VMC/kernel.new/vmlinuz"
  echo "$kver" >"$VMC/kernel.new/kver"
  echo "$suite" >"$VMC/kernel.new/suite"
  echo "${mod/kernel.new/kernel}" >"$VMC/kernel.new/moddir"
  rm -rf "$A/debs" "$A/cache"
  return 0
}

rm -f "$VMC/ready"
ok=
for suite in ${ZCFTL_VM_SUITES:-sid trixie}; do
  if fetch_kernel "$suite"; then ok=$suite; break; fi
  note "falling back from $suite"
done
[[ -n $ok ]] || die "could not fetch a Debian kernel with ublk_drv from $mirror (tried sid, trixie)"
rm -rf "$VMC/kernel"; mv "$VMC/kernel.new" "$VMC/kernel"
touch "$VMC/ready"
note "kernel $(cat "$VMC/kernel/kver") ($ok) ready in $VMC"
