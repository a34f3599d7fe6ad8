#!/usr/bin/env bash
# scripts/vm-test.sh [--mock] [SCENARIO...]: the real-kernel ublk tests.
#
# Runs tests/vm/setup.sh (qemu + a Debian kernel with ublk_drv, cached), tests/vm/build.sh (a
# static ftl-ublk), the host-side bad-input checks, then each guest scenario in its own qemu
# boot: smoke ext4 fio restart gc crash kill-fio powercut bad-input full-fs paged bench (default: all, plus
# host-bad-input; powercut is two boots sharing a disk, the first one killed). Ends with the line
#   vm: N passed, M failed
# (N, M count scenarios) and exits non-zero if any failed.
#
# A guest that died before its scenario script started (the kernel panicked or hung while
# booting, as TCG does now and then; no ZCFTL-VM-START start marker on the console) is booted
# again, at most twice, and the summary line says so:
#   vm:   PASS crash (16 checks, 80 s; guest died before start on boot 1: Kernel panic - ..., rebooted)
# A scenario whose start marker appeared is never retried: it passes or fails on that boot.
# Three deaths before start fail the scenario with "guest never started" and the reason. Each
# of powercut's two boots is retried that way on its own (its first boot on a new disk).
#
#   ZCFTL_SKIP_VM=1   skip everything (prints why, exits 0)
#   --mock            use tests/vm/mock/ftl-ublk (a loop-device stand-in) instead of building the
#                     real binary: checks the scenario scripts themselves, not zcftl
#   VM_DIE_BEFORE_START=N  test the retries: the first N boots of each guest run panic before
#                     init (N=1, 2: the scenario still runs; N=3: "never started"); in powercut,
#                     of each of its two boots. VM_DIE_AFTER_START=N: the first N boots panic just
#                     after the start marker (a failure that must not be retried).
#                     tests/vm/retry-check.sh runs these cases and checks the summaries.
#   VM_TIMEOUT, VM_MEM, ZCFTL_VM_CACHE, and per-scenario knobs passed through VM_ENV
#   (e.g. VM_ENV="BENCH_RUNS=5 FIO_MB=128"): see tests/vm/run-in-vm.sh and the scenarios.
# Console logs: target/vm/logs/<scenario>.log
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
vm=$root/tests/vm

if [[ ${ZCFTL_SKIP_VM:-} == 1 ]]; then
  echo "vm: skipped: ZCFTL_SKIP_VM=1 (the real-kernel ublk scenarios in tests/vm were not run)"
  exit 0
fi

mock=
if [[ ${1:-} == --mock ]]; then mock=1; shift; fi
all=(host-bad-input smoke ext4 fio restart gc crash kill-fio powercut bad-input full-fs paged bench)
if [[ $# -gt 0 ]]; then sel=("$@"); else sel=("${all[@]}"); fi
# The mock cannot crash, lose power, refuse busy images or collect garbage: only these apply.
if [[ -n $mock && $# -eq 0 ]]; then sel=(host-bad-input smoke ext4 fio restart bench); fi
for s in "${sel[@]}"; do
  [[ $s == host-bad-input || $s == powercut || -f $vm/scenarios/$s.sh ]] || { echo "vm-test.sh: unknown scenario $s (have: ${all[*]})" >&2; exit 2; }
done

logs=$root/target/vm/logs
mkdir -p "$logs"
for s in "${sel[@]}"; do rm -f "$logs/$s.log"; done
npass=0 nfail=0
summary=()
now() { date +%s; }
record() {  # record NAME ok|fail DETAIL
  if [[ $2 == ok ]]; then npass=$((npass + 1)); summary+=("vm:   PASS $1 ($3)"); else nfail=$((nfail + 1)); summary+=("vm:   FAIL $1 ($3)"); fi
}
finish() {
  echo
  echo "=== vm summary"
  printf '%s\n' "${summary[@]}"
  local s
  for s in "${sel[@]}"; do grep -h '^BENCH ' "$logs/$s.log" 2>/dev/null | sed 's/^/vm:   /'; done
  echo "vm: $npass passed, $nfail failed"
  [[ $nfail -eq 0 ]]
  exit $?
}

echo "=== vm: setup (tests/vm/setup.sh)"
t=$(now)
if ! "$vm/setup.sh"; then
  record setup fail "tests/vm/setup.sh failed"; finish
fi
echo "vm: setup ok in $(( $(now) - t )) s, kernel $(cat "${ZCFTL_VM_CACHE:-/var/cache/zcftl-vm}/kernel/kver")"

bin=
if [[ -n $mock ]]; then
  bin=$vm/mock/ftl-ublk
  echo "vm: --mock: using $bin (validates the scenario scripts, NOT zcftl)"
else
  echo "=== vm: build (tests/vm/build.sh)"
  t=$(now)
  if bin=$("$vm/build.sh"); then
    echo "vm: built $bin in $(( $(now) - t )) s"
  else
    bin=
    echo "vm: the ftl-ublk build failed: scenarios that need it will fail"
  fi
fi

# run_guest SCRIPT LOG [DISK_NOTE]: one guest run (run-in-vm.sh boots again, up to 3 boots in
# all, only a guest that died before its script started); console in LOG; prints the check lines
# (everything if it failed); sets NOTE to what happened to boots before the one that counted.
run_guest() {
  local script=$1 log=$2 rc
  VM_QUIET=1 VM_LOG="$log" VM_BOOT_REPORT="$log.boots" "$vm/run-in-vm.sh" "$script" "${files[@]}" >"$log.out" 2>&1; rc=$?
  [[ -s $log ]] || cp "$log.out" "$log"
  if [[ $rc -eq 0 || $rc -eq 98 ]]; then
    grep -aE '^(PASS|FAIL|----|BENCH|SCENARIO-RESULT|====)|ZCFTL-VM-START|^    ' "$log"
    grep -E '^(tests/vm/run-in-vm.sh:|    \| )' "$log.out"
  else
    cat "$log.out"
  fi
  NOTE=$(boot_note "$log.boots" "${3:-}")
  rm -f "$log.out" "$log.boots"
  return $rc
}
# boot_note REPORT [DISK_NOTE]: from run-in-vm.sh's VM_BOOT_REPORT, nothing if the first boot
# started, else e.g. "guest died before start on boot 1: Kernel panic - ..., rebooted".
boot_note() {
  local w n r died=() reasons=() crashed= IFS
  [[ -f $1 ]] || return 0
  while read -r w n r; do
    [[ $w == died ]] && { died+=("on boot $n: $r, rebooted$2"); reasons+=("$r"); }
    [[ $w == crashed ]] && crashed="guest died after the start marker on boot $n, not retried: $r"
  done <"$1"
  if [[ ${#died[@]} -eq 0 ]]; then
    :
  elif grep -q '^started' "$1"; then
    IFS=';'; r="${died[*]}"; echo -n "guest died before start ${r//;/; }"
  elif [[ $(printf '%s\n' "${reasons[@]}" | sort -u | wc -l) -eq 1 ]]; then
    echo -n "guest never started: it died before the start marker in all ${#died[@]} boots: ${reasons[0]}"
  else
    IFS=';'; r="${reasons[*]}"; echo -n "guest never started: it died before the start marker in all ${#died[@]} boots: ${r//;/; }"
  fi
  [[ -n $crashed ]] && echo -n "${died[*]:+; }$crashed"
  echo
}

for s in "${sel[@]}"; do
  log=$logs/$s.log
  t=$(now) note=
  if [[ $s == host-bad-input ]]; then
    echo "=== vm: host-bad-input (on the host)"
    if [[ -z $bin ]]; then record "$s" fail "no ftl-ublk binary"; continue; fi
    "$vm/host-bad-input.sh" "$bin" >"$log" 2>&1; rc=$?
    cat "$log"
  else
    echo "=== vm: $s (guest)"
    files=()
    if [[ -n $bin ]]; then files=("$bin"); elif [[ $s != smoke ]]; then record "$s" fail "no ftl-ublk binary"; continue; fi
    if [[ $s == powercut ]]; then
      # Boot 1 writes and syncs, then the host SIGKILLs qemu (exit 98); boot 2 checks the data.
      # Each is retried on its own, only if it died before its script started. Boot 1 gets a new
      # empty disk on every try (VM_DISK_NEW); boot 2's tries all get the disk boot 1 left, which
      # only the script mounts, so a try that died before the script cannot have changed it.
      disk=$root/target/vm/powercut.disk
      VM_TIMEOUT=${VM_TIMEOUT:-300} VM_DISK=$disk VM_DISK_NEW=1G VM_KILL_MARK=POWERCUT-NOW VM_KILL_AFTER=${POWERCUT_AFTER:-1} \
        run_guest "$vm/scenarios/powercut-boot1.sh" "$log.1" " on a new disk"; rc1=$?
      note=${NOTE:+powercut-boot1: $NOTE}
      if [[ $rc1 -eq 98 ]]; then
        VM_TIMEOUT=${VM_TIMEOUT:-300} VM_DISK=$disk run_guest "$vm/scenarios/powercut-boot2.sh" "$log.2"; rc=$?
        [[ -n $NOTE ]] && note+="${note:+; }powercut-boot2: $NOTE"
      else
        echo "FAIL powercut: boot 1 ended with status $rc1, not by the power cut (98)" >>"$log.1"; rc=1
      fi
      cat "$log.1" "$log.2" >"$log" 2>/dev/null; rm -f "$log.1" "$log.2" "$disk"
    else
      # Per boot: normal runs take 20-130 s, bench about 300 s (36 fio runs), and twice that
      # when other builds share the host; a hang should not eat the whole CI budget.
      # bench keeps three 512 MiB images in the guest's RAM (its /tmp), which fill up as GC
      # cycles through every block: it gets a larger guest.
      mem=${VM_MEM:-2048}
      if [[ $s == bench ]]; then to=${VM_TIMEOUT:-900}; mem=${VM_MEM:-3072}; else to=${VM_TIMEOUT:-420}; fi
      VM_MEM=$mem VM_TIMEOUT=$to run_guest "$vm/scenarios/$s.sh" "$log"; rc=$?; note=$NOTE
    fi
  fi
  dt=$(( $(now) - t ))
  np=$(grep -c '^PASS ' "$log"); nf=$(grep -c '^FAIL ' "$log")
  if [[ $rc -eq 0 && $nf -eq 0 && $np -gt 0 ]]; then
    record "$s" ok "$np checks, ${dt} s${note:+; $note}"
  elif [[ $note == *"never started"* ]]; then
    record "$s" fail "$note; exit $rc, ${dt} s; log target/vm/logs/$s.log"
  else
    record "$s" fail "exit $rc, $np checks passed, $nf failed, ${dt} s${note:+; $note}; log target/vm/logs/$s.log"
  fi
done
finish
