#!/usr/bin/env bash
# sge-down.sh -- stop the SGE daemons that infra/sge-up.sh started (found by PID file and
# checked by process name; never by a broad pattern), after deleting the jobs still in
# the queue (unless SGE_DOWN_KEEP_JOBS=1). Idempotent: running it twice, or when SGE was
# never started by sge-up.sh, does nothing and exits 0. Packages and configuration stay.
#
# Environment knobs (all optional):
#   SGE_DOWN_KEEP_JOBS  1 => leave queued/running jobs alone   [0]
#   SGE_MARK_DIR        record of started daemons, as in sge-up.sh [/var/tmp/jobledger-sge]
set -uo pipefail
exec </dev/null
[ "$(id -u)" = 0 ] || { echo "[sge-down] must run as root" >&2; exit 1; }
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
MARK_DIR=${SGE_MARK_DIR:-/var/tmp/jobledger-sge}
STARTED=$MARK_DIR/started-by-sge-up
SPOOL=/var/spool/gridengine
BIN=/usr/lib/gridengine
t0=$(date +%s%N)
log() { printf '[sge-down %5dms] %s\n' $(( ($(date +%s%N) - t0) / 1000000 )) "$*"; }

running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
started() { [ -f "$STARTED" ] && grep -qx "$1" "$STARTED"; }
pid_of() {  # pid_of PIDFILE COMM: print the pid if it is a live COMM
  local pid; [ -s "$1" ] || return 1; pid=$(tr -dc 0-9 <"$1")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && running "$pid" && echo "$pid"
}
stop() {  # stop COMM PIDFILE: SIGTERM, wait up to 20 s (qmaster needs 5-8 s), then SIGKILL
  local name=$1 pf=$2 pid
  started "$name" || return 0
  if pid=$(pid_of "$pf" "$name"); then
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do running "$pid" || break; sleep 0.2; done
    if running "$pid"; then log "$name ($pid) ignored SIGTERM: SIGKILL"; kill -9 "$pid" 2>/dev/null; fi
    log "stopped $name (pid $pid)"
  fi
  sed -i "/^$name\$/d" "$STARTED"
}

if [ ! -x "$BIN/qstat" ]; then log "gridengine not installed: nothing to stop"; exit 0; fi
if [ "${SGE_DOWN_KEEP_JOBS:-0}" != 1 ] && started sge_qmaster \
   && timeout 10 "$BIN/qconf" -sh >/dev/null 2>&1; then
  ids=$("$BIN/qstat" -u '*' 2>/dev/null | awk 'NR>2 {print $1}' | sort -u | paste -sd, -)
  if [ -n "$ids" ]; then
    "$BIN/qdel" -f "$ids" >/dev/null 2>&1 || true
    for _ in $(seq 50); do [ -z "$("$BIN/qstat" -u '*' 2>/dev/null)" ] && break; sleep 0.2; done
    log "deleted jobs: $ids"
  fi
fi
# execd's spool dir is named after the resolved host name (e.g. 'localhost'): use the live one
expf=/nonexistent
for f in "$SPOOL"/execd/*/execd.pid; do pid_of "$f" sge_execd >/dev/null && expf=$f; done
stop sge_execd "$expf"
stop sge_qmaster "$SPOOL/qmaster/qmaster.pid"
rm -f "$MARK_DIR/config-stamp"
left=""; for p in $(pgrep -x sge_shepherd); do running "$p" && left="$left $p"; done
[ -n "$left" ] && log "note: sge_shepherd still running:$left"
log "done"
exit 0
