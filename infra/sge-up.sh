#!/usr/bin/env bash
# sge-up.sh -- bring up a one-node Son of Grid Engine 8.1.9 cluster (Debian 12
# gridengine-master/exec/client) for jobledger's tests, WITHOUT systemd:
# sge_qmaster + sge_execd on this host, queue all.q, parallel environment "smp".
#
# Idempotent and non-interactive (stdin is /dev/null). As root it installs the packages
# when missing, starts what is not running and fixes the configuration; when everything
# is already up it returns in a fraction of a second (one qstat call). Run as another user
# it only checks that the cluster answers.
#
# Settings for tests (differences from Debian's defaults, all needed here):
#   min_uid/min_gid 0        root may submit (default 1000 rejects root's jobs)
#   shell_start_mode         unix_behavior: the #! line (and #$ -S) choose the shell
#   schedule_interval 1 s    (default 15 s), flush_submit/finish_sec 1
#   load_report_time 5 s     (default 40 s)
#   accounting flush 0 s     qacct sees a finished job almost at once (default 15 s)
#   pe "smp"                 $pe_slots allocation, so `-pe smp N` works
# No user lists, projects or ACLs are set: any local user (e.g. hpcuser) may submit.
#
# Environment knobs (all optional):
#   SGE_SLOTS        slots of all.q (and of pe smp)   [$(nproc)]
#   SGE_PE           name of the parallel environment  [smp]
#   SGE_NO_INSTALL   1 => never apt-get install         [0]
#   SGE_UP_TIMEOUT   seconds to wait for each step       [90]
#   SGE_APT_OPTS     extra apt-get options
#   SGE_MARK_DIR     where the record of started daemons lives [/var/tmp/jobledger-sge]
#
# Clients: /usr/bin/q* are Debian wrappers that read /etc/default/gridengine, so
# qsub/qstat/qdel/qacct work without sourcing anything (also over ssh, for any user).
set -euo pipefail
exec </dev/null

t0=$(date +%s%N)
elapsed() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)); }
log() { printf '[sge-up %6ss] %s\n' "$(elapsed)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
H=$(hostname -s 2>/dev/null || hostname)
SLOTS=${SGE_SLOTS:-$(nproc)}
PE=${SGE_PE:-smp}
TIMEOUT=${SGE_UP_TIMEOUT:-90}
MARK_DIR=${SGE_MARK_DIR:-/var/tmp/jobledger-sge}
STARTED=$MARK_DIR/started-by-sge-up
STAMP=$MARK_DIR/config-stamp
SPOOL=/var/spool/gridengine
QM_PID=$SPOOL/qmaster/qmaster.pid
BIN=/usr/lib/gridengine    # the real binaries; /usr/bin/q* wrappers add ~70 ms per call

# A queue instance is ready when `qstat -f` shows it with no state letters and a load.
queue_ready() {
  local line
  line=$(qstat -f -q "all.q@$H" 2>/dev/null | awk -v q="all.q@$H" '$1==q') || return 1
  [ -n "$line" ] && [ "$(awk '{print NF}' <<<"$line")" -eq 5 ] && ! grep -q -- '-NA-' <<<"$line"
}
qstat() { if [ -x "$BIN/qstat" ]; then "$BIN/qstat" "$@"; else command qstat "$@"; fi; }
qconf() { if [ -x "$BIN/qconf" ]; then "$BIN/qconf" "$@"; else command qconf "$@"; fi; }
qmod() { if [ -x "$BIN/qmod" ]; then "$BIN/qmod" "$@"; else command qmod "$@"; fi; }

if [ "$(id -u)" != 0 ]; then
  queue_ready && { log "SGE is up (checked as $(id -un); start/configure needs root)"; exit 0; }
  die "SGE is not up and only root can bring it up (run: sudo $0)"
fi
mkdir -p "$MARK_DIR"; touch "$STARTED"

running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_alive() {  # pid_alive PIDFILE COMM: the pid in the file is a live (not zombie) COMM
  local pf=$1 name=$2 pid
  [ -s "$pf" ] || return 1; pid=$(tr -dc 0-9 <"$pf")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ] && running "$pid"
}
mark_started() { grep -qx "$1" "$STARTED" || echo "$1" >>"$STARTED"; }
# execd names its spool dir after the *resolved* host name (e.g. 'localhost'): look in all
execd_alive() { local f; for f in "$SPOOL"/execd/*/execd.pid; do pid_alive "$f" sge_execd && return 0; done; return 1; }
# Anything that changes the desired configuration changes the stamp.
want_stamp=$(printf '%s\n' "$H" "$SLOTS" "$PE" | cat - "$0" | md5sum | cut -d' ' -f1)

# ------------------------------------------------------------------ fast path
if command -v sge_qmaster >/dev/null && pid_alive "$QM_PID" sge_qmaster && execd_alive \
   && [ "$(cat "$STAMP" 2>/dev/null)" = "$want_stamp" ] && queue_ready; then
  log "SGE already up (all.q@$H, $SLOTS slots)"
  exit 0
fi

# ------------------------------------------------------------------ packages
if ! command -v sge_qmaster >/dev/null || ! command -v sge_execd >/dev/null || ! command -v qsub >/dev/null; then
  [ "${SGE_NO_INSTALL:-0}" = 1 ] && die "gridengine packages missing (SGE_NO_INSTALL=1)"
  log "installing gridengine-master gridengine-exec gridengine-client"
  # preseed debconf so that the package postinst creates the cell non-interactively
  printf '%s\n' "gridengine-common shared/gridengineconfig boolean true" \
    "gridengine-common shared/gridenginecell string $SGE_CELL" \
    "gridengine-master shared/gridenginemaster string $H" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
  # another engineer's apt-get may hold the lock: wait for it instead of failing
  apt-get -o DPkg::Lock::Timeout=300 update -qq || log "apt-get update failed; trying the cached lists"
  # shellcheck disable=SC2086
  apt-get install "${apt_opts[@]}" ${SGE_APT_OPTS:-} \
    gridengine-master gridengine-exec gridengine-client >/dev/null
fi
log "packages ok (gridengine $(dpkg-query -W -f='${Version}' gridengine-master))"

# ------------------------------------------------------------------ host name resolution
# SGE insists that forward and reverse resolution of the host name agree.
if ! getent hosts "$H" >/dev/null; then
  echo "127.0.0.1 $H # added by jobledger infra/sge-up.sh" >>/etc/hosts; log "added $H to /etc/hosts"
fi
ip=$(getent ahostsv4 "$H" | awk '{print $1; exit}')
rev=$(getent hosts "$ip" | awk '{print $2; exit}')   # what gethostbyaddr() (and SGE) sees

# ------------------------------------------------------------------ cell files
COMMON=$SGE_ROOT/$SGE_CELL/common
if [ ! -e "$SPOOL/spooldb/sge" ]; then   # postinst did not initialise (debconf said no)
  for d in "$SGE_ROOT/$SGE_CELL" "$COMMON" "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb"; do
    mkdir -p "$d"; chown sgeadmin:sgeadmin "$d"; done
  [ -f "$COMMON/bootstrap" ] || install -m0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
  su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOL/spooldb sgeadmin" sgeadmin >/dev/null
  log "initialised cell $SGE_CELL"
fi
[ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" = "$H" ] || { echo "$H" >"$COMMON/act_qmaster"; chown sgeadmin:sgeadmin "$COMMON/act_qmaster"; }
# '<host>' -> 127.0.0.1 -> 'localhost' would make qmaster reject every client
# ("access denied (client IP resolved to host name localhost ...)"): alias the two names.
if [ -n "$rev" ] && [ "$rev" != "$H" ]; then
  want="$H $rev"
  [ "$(cat "$COMMON/host_aliases" 2>/dev/null)" = "$want" ] || { echo "$want" >"$COMMON/host_aliases"; log "host_aliases: $want"; }
fi
mkdir -p /run/gridengine "$SPOOL/execd"; chown sgeadmin:sgeadmin /run/gridengine "$SPOOL/execd"

# ------------------------------------------------------------------ qmaster
if ! pid_alive "$QM_PID" sge_qmaster; then
  # a previous qmaster may still be shutting down (5-8 s); it holds port 6444
  for _ in $(seq $((TIMEOUT * 5))); do
    busy=0; for p in $(pgrep -x sge_qmaster || true); do running "$p" && busy=1; done
    [ $busy = 0 ] && break; sleep 0.2; done
  /usr/sbin/sge_qmaster || die "sge_qmaster failed; see $SPOOL/qmaster/messages"
  mark_started sge_qmaster
  log "started sge_qmaster"
fi
for _ in $(seq $((TIMEOUT * 5))); do qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
qconf -sh >/dev/null || die "qmaster not answering; see $SPOOL/qmaster/messages"

# ------------------------------------------------------------------ configuration (idempotent)
CFG=$(mktemp -d); trap 'rm -rf "$CFG"' EXIT
# `qconf -sconf` wraps long values onto "\"-continued lines: compare and edit joined lines.
joined() { sed -e ':a' -e '/\\$/{N;s/[[:space:]]*\\\n[[:space:]]*/ /;ba' -e '}' | tr -s ' '; }
REPORTING="accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00"
qconf -sconf global | joined >"$CFG/global.now"
sed -e 's/^min_uid .*/min_uid 0/' \
    -e 's/^min_gid .*/min_gid 0/' \
    -e 's/^shell_start_mode .*/shell_start_mode unix_behavior/' \
    -e 's/^load_report_time .*/load_report_time 00:00:05/' \
    -e "s/^reporting_params .*/reporting_params $REPORTING/" \
    -e '/^[^ #]*=/d' "$CFG/global.now" >"$CFG/global"   # drop debris of an earlier bad edit
cmp -s "$CFG/global.now" "$CFG/global" || { qconf -Mconf "$CFG/global" >/dev/null 2>&1; log "global config updated"; }
qconf -ssconf >"$CFG/sconf"
sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
       -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
       -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' "$CFG/sconf"
qconf -ssconf | cmp -s - "$CFG/sconf" || { qconf -Msconf "$CFG/sconf" >/dev/null 2>&1; log "scheduler config updated"; }
qconf -sh | grep -qx "$H" || qconf -ah "$H" >/dev/null 2>&1
qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H" >/dev/null 2>&1
if ! qconf -sel 2>/dev/null | grep -qx "$H"; then
  printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$H" >"$CFG/exechost"
  qconf -Ae "$CFG/exechost" >/dev/null 2>&1; log "exec host $H added"
fi
cat >"$CFG/pe" <<PEEOF
pe_name            $PE
slots              $SLOTS
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
PEEOF
if ! qconf -sp "$PE" >/dev/null 2>&1; then
  qconf -Ap "$CFG/pe" >/dev/null 2>&1; log "parallel environment $PE added"
elif [ "$(qconf -sp "$PE" | tr -s ' ' | sort)" != "$(tr -s ' ' <"$CFG/pe" | sort)" ]; then
  qconf -Mp "$CFG/pe" >/dev/null 2>&1; log "parallel environment $PE updated"
fi
cat >"$CFG/all.q" <<QEOF
qname                 all.q
hostlist              $H
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               $PE
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
QEOF
if ! qconf -sq all.q >/dev/null 2>&1; then
  qconf -Aq "$CFG/all.q" >/dev/null 2>&1; log "queue all.q created ($SLOTS slots)"
elif [ "$(qconf -sq all.q | tr -s ' ' | sort)" != "$(tr -s ' ' <"$CFG/all.q" | sort)" ]; then
  qconf -Mq "$CFG/all.q" >/dev/null 2>&1; log "queue all.q updated ($SLOTS slots)"
fi
# Other users (hpcuser over ssh) run qacct: the accounting file must be readable.
ACCT=$COMMON/accounting
[ -e "$ACCT" ] && chmod a+r "$ACCT"

# ------------------------------------------------------------------ execd
if ! execd_alive; then
  /usr/sbin/sge_execd || die "sge_execd failed; see $SPOOL/execd/*/messages"
  mark_started sge_execd
  log "started sge_execd"
fi

# ------------------------------------------------------------------ wait for the queue instance
deadline=$(( $(date +%s) + TIMEOUT ))
until queue_ready; do
  line=$(qstat -f -q "all.q@$H" 2>/dev/null | awk -v q="all.q@$H" '$1==q' || true)
  states=$(awk 'NF>=6 {print $6}' <<<"$line")
  case "$states" in *E*) qmod -c "all.q@$H" >/dev/null 2>&1 || true ;; esac   # leftover error state
  case "$states" in *d*) qmod -e "all.q@$H" >/dev/null 2>&1 || true ;; esac   # disabled
  [ "$(date +%s)" -ge "$deadline" ] && { qstat -f >&2 || true; die "all.q@$H not ready: '$line'"; }
  sleep 0.2
done
echo "$want_stamp" >"$STAMP"
log "all.q@$H ready ($SLOTS slots, pe $PE). bring-up took $(elapsed)s"
