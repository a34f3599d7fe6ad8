# tests/vm/lib.sh: helpers for guest scenario scripts (busybox sh). run-in-vm.sh installs this
# file as /lib/vm-lib.sh; scenarios start with `. /lib/vm-lib.sh`.
#
# Output protocol (parsed by scripts/vm-test.sh):
#   PASS <scenario>: <check>          one line per passed check
#   FAIL <scenario>: <check> [: why]  one line per failed check
#   BENCH key=value ...               benchmark results
# A scenario exits 0 only if it reported at least one PASS and no FAIL (see `finish`).

SCEN=${SCEN:-$(basename "${0%.sh}")}
_passes=0
_fails=0

pass() { _passes=$((_passes + 1)); echo "PASS $SCEN: $*"; }
fail() { _fails=$((_fails + 1)); echo "FAIL $SCEN: $*"; }
info() { echo "---- $SCEN: $*"; }

# check "description" cmd args...: runs the command, PASS if it exits 0, else FAIL with its
# output's last lines.
check() {
  local what=$1 out rc
  shift
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then pass "$what"; else fail "$what (exit $rc)"; printf '%s\n' "$out" | tail -15 | sed 's/^/    | /'; fi
  return $rc
}

# finish: prints the scenario summary and exits with its status. Call last.
finish() {
  if [ $_fails -eq 0 ] && [ $_passes -gt 0 ]; then
    echo "SCENARIO-RESULT $SCEN: ok ($_passes checks passed)"; exit 0
  fi
  daemon_log
  echo "SCENARIO-RESULT $SCEN: failed ($_passes passed, $_fails failed)"; exit 1
}

# daemon_log: the tail of ftl-ublk's daemon log (printed when a scenario fails).
daemon_log() {
  local f
  for f in /run/zcftl/*.log; do
    [ -f "$f" ] || continue
    echo "---- $SCEN: last lines of $f:"; tail -n "${DAEMON_LOG_LINES:-40}" "$f" | sed 's/^/    log| /'
  done
}

# abort "why": records a failure and ends the scenario now (later checks cannot run).
abort() { fail "$* (aborting scenario)"; _cleanup_all; finish; }

FTL=${FTL:-ftl-ublk}
_daemon_ids=""

# ftl_add ARGS...: `ftl-ublk add ARGS`; on success sets DEV (e.g. /dev/ublkb0) and DEV_ID, and
# waits until the block device node exists. Returns non-zero (and prints the error) on failure.
ftl_add() {
  local out rc i
  out=$($FTL add "$@" 2>/tmp/ftl-add.err); rc=$?
  if [ $rc -ne 0 ]; then
    echo "    | ftl-ublk add $* exited $rc:"; sed 's/^/    | /' /tmp/ftl-add.err | tail -15
    return 1
  fi
  DEV=$(printf '%s\n' "$out" | grep -o '/dev/ublkb[0-9]*' | tail -1)
  if [ -z "$DEV" ]; then
    echo "    | ftl-ublk add $* printed no /dev/ublkbN on stdout: '$out'"; sed 's/^/    | /' /tmp/ftl-add.err | tail -5
    return 1
  fi
  DEV_ID=${DEV#/dev/ublkb}
  _daemon_ids="$_daemon_ids $DEV_ID"
  i=0
  while [ ! -b "$DEV" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -b "$DEV" ] || { echo "    | $DEV did not appear"; return 1; }
  return 0
}

# daemon_pid ID: pid of the `ftl-ublk` process serving device ID: the "pid" its stats report,
# else the one holding /dev/ublkcID open, else one whose command line names `--id ID`, else the
# first ftl-ublk process.
daemon_pid() {
  local id=$1 p f cmd best=""
  p=$(stats_json "$id" | json_field pid)
  case $p in ''|*[!0-9]*) ;; *) [ -d /proc/$p ] && { echo "$p"; return 0; } ;; esac
  for p in $(pidof ftl-ublk 2>/dev/null); do
    for f in /proc/$p/fd/*; do
      [ "$(readlink "$f" 2>/dev/null)" = "/dev/ublkc$id" ] && { echo "$p"; return 0; }
    done
  done
  for p in $(pidof ftl-ublk 2>/dev/null); do
    cmd=$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)
    case "$cmd " in *"--id $id "*) echo "$p"; return 0 ;; esac
    [ -z "$best" ] && best=$p
  done
  [ -n "$best" ] && echo "$best"
}

# wait_gone PATH [SECONDS]: waits until PATH no longer exists.
wait_gone() {
  local i=0 lim=$(( ${2:-30} * 10 ))
  while [ -e "$1" ] && [ $i -lt $lim ]; do sleep 0.1; i=$((i + 1)); done
  [ ! -e "$1" ]
}

# stats_field ID KEY: the value of "KEY" in `ftl-ublk stats ID --json` (numbers, strings,
# booleans; no jq in the guest).
stats_json() { $FTL stats "$1" --json 2>/dev/null; }
json_field() {  # json_field KEY <json
  tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | sed 's/[[:space:]]*$//'
}

# queue_requests ID: the requests each queue of device ID served, space-separated (stats key
# queue_requests, an array); nothing if the stats do not say.
queue_requests() {
  stats_json "$1" | tr -d '\n' | sed -n 's/.*"queue_requests"[[:space:]]*:[[:space:]]*\[\([^]]*\)\].*/\1/p' | tr ',' ' '
}

# every_queue_served ID N "what": PASS if device ID has N queues and each served requests.
every_queue_served() {
  local q n k=0 idle=0
  q=$(queue_requests "$1")
  for n in $q; do
    k=$((k + 1))
    case $n in ''|*[!0-9]*|0) idle=$((idle + 1)) ;; esac
  done
  if [ "$k" -eq "$2" ] && [ "$idle" -eq 0 ]; then pass "$3: each of the $2 queues served requests (queue_requests: $q)"
  else fail "$3: expected $2 queues each serving requests, queue_requests: '$q'"; fi
}

# per_cpu_jobs: fio options for one job per vCPU, each pinned to its own CPU, so that each CPU's
# hardware queue gets requests (blk-mq maps every CPU to one queue of the device).
per_cpu_jobs() {
  local n
  n=$(nproc 2>/dev/null || echo 1)
  echo "--numjobs=$n --cpus_allowed=0-$((n - 1)) --cpus_allowed_policy=split"
}

# make_tree DIR NFILES: writes NFILES files of varied sizes (0 B to ~1 MiB, deterministic
# pseudo-random content) into a small directory tree under DIR.
make_tree() {
  local dir=$1 n=$2 i sz sub
  mkdir -p "$dir"
  i=0
  while [ $i -lt "$n" ]; do
    sub=$dir/d$((i % 7))/e$((i % 3)); mkdir -p "$sub"
    case $((i % 5)) in
      0) sz=0 ;; 1) sz=$(( (i * 37) % 4096 + 1 )) ;; 2) sz=4096 ;;
      3) sz=$(( (i * 7919) % 131072 + 1 )) ;; *) sz=$(( (i * 104729) % 1048576 + 4096 )) ;;
    esac
    # deterministic content: a seeded xorshift stream would be slow in sh; /dev/urandom is fine
    # because the manifest is taken after writing.
    head -c "$sz" /dev/urandom >"$sub/f$i"
    i=$((i + 1))
  done
  ln -s d0/e0/f0 "$dir/link0" 2>/dev/null
  mkdir -p "$dir/empty-dir"
}

# manifest DIR OUT: sha256 of every regular file under DIR (relative paths, sorted).
manifest() { (cd "$1" && find . -type f | sort | xargs -r sha256sum) >"$2"; }

# verify_manifest DIR MANIFEST: non-zero if any file is missing or differs.
verify_manifest() {
  (cd "$1" && sha256sum -c "$2" >/tmp/.verify.out 2>&1) && return 0
  grep -v ': OK$' /tmp/.verify.out | head -10
  return 1
}

# _cleanup_all: deletes every device this scenario added (used by abort).
_cleanup_all() {
  local id m
  for m in $(awk '$1 ~ /^\/dev\/ublkb/ { print $2 }' /proc/mounts); do umount -l "$m" 2>/dev/null; done
  for id in $_daemon_ids; do $FTL del "$id" >/dev/null 2>&1; done
  return 0
}

# require_ftl: aborts unless a usable ftl-ublk is present.
require_ftl() {
  command -v "$FTL" >/dev/null 2>&1 || abort "ftl-ublk not found in the guest"
  if ! $FTL --help >/dev/null 2>&1 && ! $FTL help >/dev/null 2>&1; then
    $FTL list >/dev/null 2>&1 || abort "ftl-ublk does not run (placeholder?): $($FTL 2>&1 | head -1)"
  fi
}
