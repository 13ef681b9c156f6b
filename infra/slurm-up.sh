#!/usr/bin/env bash
# slurm-up.sh -- bring up a single-node SLURM test cluster on a Debian 12 box WITHOUT
# systemd: munged + slurmctld + slurmd, and with SLURM_ACCOUNTING=slurmdbd also a private
# mariadbd + slurmdbd so that `sacct` works.
#
# Idempotent and non-interactive (never reads stdin; fine for CI). Must run as root.
# Re-running it when everything is up takes ~0.1 s; it restarts only what a changed
# setting needs (slurm.conf changed -> slurmctld + slurmd; slurmdbd.conf -> slurmdbd),
# so switching SLURM_ACCOUNTING=none <-> slurmdbd is just a re-run.
#
# Knobs (environment, all optional):
#   SLURM_STATE_DIR    spool, job state, logs, pid files, database  [/var/tmp/jobledger-slurm]
#   SLURM_CPUS         CPUs the node advertises                     [16]
#                      (> nproc oversubscribes: many trivial jobs run at once on 2 cores)
#   SLURM_MIN_JOB_AGE  seconds a finished job stays in squeue/scontrol [300]
#   SLURM_ACCOUNTING   none | slurmdbd                              [none]
#   SLURM_DB_PORT      TCP port of the private mariadbd (127.0.0.1) [16033]
#   SLURM_ACCOUNTING_ENFORCE  AccountingStorageEnforce value (slurmdbd only) [empty: off]
#                      e.g. associations,limits,qos: then account "jobledger" is created
#                      and root + every user with uid 1000..59999 get an association
#   SLURM_NO_INSTALL   1 => fail instead of apt-get installing missing packages [0]
#   SLURM_UP_TIMEOUT   seconds to wait for the node to become usable [90]
#   SLURM_SCHED_PARAMS SchedulerParameters line                     [fast test values]
#
# The config goes to /etc/slurm/slurm.conf (the compiled-in default path), so sbatch,
# squeue, sacct ... work without SLURM_CONF for every user, also over `ssh localhost`.
# Jobs are accepted from any user (no AccountingStorageEnforce, no AllowGroups).
# Only daemons this script started are recorded (in $SLURM_STATE_DIR/run/started-by-slurm-up)
# and only those are ever stopped, by PID file (see slurm-down.sh).
set -euo pipefail
exec </dev/null

t0=$(date +%s%N)
elapsed() { local ms=$(( ($(date +%s%N) - t0) / 1000000 )); printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)); }
log() { printf '[slurm-up %6ss] %s\n' "$(elapsed)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

STATE=${SLURM_STATE_DIR:-/var/tmp/jobledger-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
DBD_CONF=$CONF_DIR/slurmdbd.conf
ACCT=${SLURM_ACCOUNTING:-none}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-300}
TIMEOUT=${SLURM_UP_TIMEOUT:-90}
DB_PORT=${SLURM_DB_PORT:-16033}
ENFORCE=${SLURM_ACCOUNTING_ENFORCE:-}
RUN=$STATE/run
STARTED=$RUN/started-by-slurm-up
DB_DIR=$STATE/mysql
DB_RUN=$STATE/dbrun
DB_SOCK=$DB_RUN/mysqld.sock
NODE=$(hostname -s 2>/dev/null || true); NODE=${NODE:-localhost}
NPROC=$(nproc)
CPUS=${SLURM_CPUS:-16}

case "$ACCT" in none|slurmdbd) ;; *) die "SLURM_ACCOUNTING must be none or slurmdbd, not '$ACCT'";; esac
for v in MIN_JOB_AGE CPUS TIMEOUT DB_PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
[ "$CPUS" -ge 1 ] || die "SLURM_CPUS must be >= 1"
[[ $ENFORCE =~ ^[a-z,]*$ ]] || die "SLURM_ACCOUNTING_ENFORCE must be a comma list of words"
[ -z "$ENFORCE" ] || [ "$ACCT" = slurmdbd ] || die "SLURM_ACCOUNTING_ENFORCE needs SLURM_ACCOUNTING=slurmdbd"

# one slurm-up at a time (parallel test workers may all call it); daemons get 9>&- so
# they do not inherit (and hold) the lock
mkdir -p "$RUN"
exec 9>"$RUN/slurm-up.lock"
flock -w 600 9 || die "another slurm-up.sh holds $RUN/slurm-up.lock"

# ------------------------------------------------------------------ packages
need=()
command -v slurmctld >/dev/null || need+=(slurmctld)
command -v slurmd >/dev/null    || need+=(slurmd)
command -v sbatch >/dev/null    || need+=(slurm-client)
command -v munged >/dev/null    || need+=(munge)
if [ "$ACCT" = slurmdbd ]; then
  command -v slurmdbd >/dev/null || need+=(slurmdbd)
  command -v mariadbd >/dev/null || need+=(mariadb-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "${SLURM_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${need[*]} (SLURM_NO_INSTALL=1)"
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No systemd here; Debian container images ship /usr/sbin/policy-rc.d (exit 101), so the
  # postinst scripts do not try to start the daemons. We start them ourselves below.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  log "installed"
fi
log "packages ok ($(slurmctld -V))"

mkdir -p "$STATE/ctld" "$STATE/slurmd" "$STATE/log"
chmod 755 "$STATE" "$RUN" "$STATE/log"
chown slurm:slurm "$STATE/ctld" "$STATE/log"
touch "$STARTED"

# ------------------------------------------------------------------ helpers
# running PID: exists and is not a zombie (PID 1 here reaps slowly)
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# pid_alive PIDFILE NAME: the pid in PIDFILE is a live process whose comm is NAME
pid_alive() {
  local pf=$1 name=$2 pid
  [ -s "$pf" ] || return 1
  pid=$(tr -dc 0-9 <"$pf")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ] && running "$pid"
}
mark_started() { grep -qx "$1" "$STARTED" || echo "$1" >>"$STARTED"; }
unmark() { sed -i "/^$1\$/d" "$STARTED"; }
started_by_us() { grep -qx "$1" "$STARTED"; }
stop_pidfile() {  # stop_pidfile PIDFILE NAME
  local pf=$1 name=$2 pid
  pid_alive "$pf" "$name" || { rm -f "$pf"; return 0; }
  pid=$(tr -dc 0-9 <"$pf"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 150); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pf"
  log "stopped $name (pid $pid)"
}
# write_if_changed FILE CONTENT MODE OWNER -> returns 0 if the file was (re)written
write_if_changed() {
  local f=$1 content=$2 mode=$3 owner=$4
  if [ -f "$f" ] && [ "$(cat "$f")" = "$content" ]; then return 1; fi
  printf '%s\n' "$content" >"$f.tmp.$$"
  chmod "$mode" "$f.tmp.$$"; chown "$owner" "$f.tmp.$$"; mv -f "$f.tmp.$$" "$f"
  log "wrote $f"
}

# ------------------------------------------------------------------ munge
MUNGE_PID=/run/munge/munged.pid
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; fi
  log "created /etc/munge/munge.key"
fi
chown -R munge:munge /etc/munge; chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge; chmod 755 /run/munge
if ! pid_alive "$MUNGE_PID" munged; then
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock "$MUNGE_PID"
  runuser -u munge -- /usr/sbin/munged 9>&-
  mark_started munged
  log "started munged"
fi
for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || die "munge round-trip failed (see /var/log/munge/munged.log)"

# ------------------------------------------------------------------ slurm.conf
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
MEM=$(( MEM * 9 / 10 ))   # at or above the real value the node drains ("Low RealMemory")
OVERRIDES=""
[ "$CPUS" -gt "$NPROC" ] && OVERRIDES="SlurmdParameters=config_overrides"
if [ "$ACCT" = slurmdbd ]; then
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStoreFlags=job_comment"
  if [ -n "$ENFORCE" ]; then ACCT_LINES="$ACCT_LINES
AccountingStorageEnforce=$ENFORCE"; fi
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none"
fi
conf=$(cat <<EOF
# generated by jobledger infra/slurm-up.sh -- single-node test cluster; edits are overwritten
ClusterName=jobledger
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
SchedulerType=sched/backfill
SchedulerParameters=${SLURM_SCHED_PARAMS:-sched_interval=2,bf_interval=1,batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000}
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MessageTimeout=5
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
# reject at submit what the partition can never run (else: PENDING PartitionConfig forever)
EnforcePartLimits=ALL
KillWait=2
MinJobAge=$MIN_JOB_AGE
MaxJobCount=100000
MaxArraySize=100001
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
$ACCT_LINES
$OVERRIDES
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)
mkdir -p "$CONF_DIR"
conf_changed=0
write_if_changed "$CONF" "$conf" 644 root:root && conf_changed=1

# ------------------------------------------------------------------ accounting (optional)
if [ "$ACCT" = slurmdbd ]; then
  mkdir -p "$DB_DIR"; chown mysql:mysql "$DB_DIR"; chmod 750 "$DB_DIR"
  mkdir -p "$DB_RUN"; chown mysql:mysql "$DB_RUN"; chmod 755 "$DB_RUN"  # pid file + socket
  if ! pid_alive "$DB_RUN/mysqld.pid" mariadbd; then
    if [ ! -d "$DB_DIR/mysql" ]; then
      mariadb-install-db --user=mysql --datadir="$DB_DIR" --skip-test-db \
        --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1 \
        || die "mariadb-install-db failed; see $STATE/log/mariadb-install.log"
      log "initialised database in $DB_DIR"
    fi
    # own session (setsid): a CI runner's process-group cleanup must not kill it
    setsid -f /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DB_DIR" \
      --pid-file="$DB_RUN/mysqld.pid" --socket="$DB_SOCK" --bind-address=127.0.0.1 \
      --port="$DB_PORT" --skip-name-resolve --innodb-buffer-pool-size=128M \
      --innodb-lock-wait-timeout=900 --skip-log-bin --log-error="$DB_DIR/mariadb.log" \
      >/dev/null 2>&1 9>&-
    mark_started mariadbd
    for _ in $(seq 150); do mariadb-admin --socket="$DB_SOCK" ping >/dev/null 2>&1 && break; sleep 0.1; done
    mariadb-admin --socket="$DB_SOCK" ping >/dev/null 2>&1 || die "mariadbd not answering; see $DB_DIR/mariadb.log"
    log "started mariadbd (127.0.0.1:$DB_PORT, datadir $DB_DIR)"
  fi
  PW_FILE=$RUN/slurmdb.password
  if [ ! -s "$PW_FILE" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$PW_FILE")
  fi
  PW=$(cat "$PW_FILE")
  mariadb --socket="$DB_SOCK" -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$PW';
    ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$PW';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || die "mariadb user setup failed"
  dbd=$(cat <<EOF
# generated by jobledger infra/slurm-up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$PW
PidFile=$RUN/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
EOF
)
  if write_if_changed "$DBD_CONF" "$dbd" 600 slurm:slurm; then
    stop_pidfile "$RUN/slurmdbd.pid" slurmdbd
  fi
  if ! pid_alive "$RUN/slurmdbd.pid" slurmdbd; then
    /usr/sbin/slurmdbd 9>&- || die "slurmdbd failed; see $STATE/log/slurmdbd.log"
    mark_started slurmdbd
    for _ in $(seq 150); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.1; done
    sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd not answering; see $STATE/log/slurmdbd.log"
    log "started slurmdbd"
  fi
  # register the cluster before slurmctld starts talking to slurmdbd
  sacctmgr -n -P list cluster format=cluster | grep -qx jobledger \
    || { sacctmgr -i add cluster jobledger >/dev/null; log "registered cluster jobledger"; }
  if [ -n "$ENFORCE" ]; then
    # enforced associations: give root and the ordinary users one so they can still submit
    sacctmgr -n -P list account format=account | grep -qx jobledger \
      || sacctmgr -i add account jobledger Description=tests Organization=jobledger >/dev/null
    have=$(sacctmgr -n -P list assoc account=jobledger format=user)
    for u in root $(getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 {print $1}'); do
      grep -qx "$u" <<<"$have" \
        || { sacctmgr -i add user "$u" account=jobledger defaultaccount=jobledger >/dev/null \
             && log "association $u -> jobledger"; }
    done
  fi
fi

# ------------------------------------------------------------------ slurmctld / slurmd
if [ $conf_changed = 1 ]; then
  stop_pidfile "$RUN/slurmd.pid" slurmd
  stop_pidfile "$RUN/slurmctld.pid" slurmctld
fi
if ! pid_alive "$RUN/slurmctld.pid" slurmctld; then
  /usr/sbin/slurmctld 9>&- || die "slurmctld failed; see $STATE/log/slurmctld.log"
  mark_started slurmctld
  log "started slurmctld"
fi
for _ in $(seq $((TIMEOUT * 10))); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
scontrol ping 2>/dev/null | grep -q UP || die "slurmctld not answering; see $STATE/log/slurmctld.log"
if ! pid_alive "$RUN/slurmd.pid" slurmd; then
  /usr/sbin/slurmd -N "$NODE" 9>&- || die "slurmd failed; see $STATE/log/slurmd.log"
  mark_started slurmd
  log "started slurmd"
fi

# ------------------------------------------------------------------ accounting off: stop ours
if [ "$ACCT" = none ]; then
  if started_by_us slurmdbd; then stop_pidfile "$RUN/slurmdbd.pid" slurmdbd; unmark slurmdbd; fi
  if started_by_us mariadbd; then stop_pidfile "$DB_RUN/mysqld.pid" mariadbd; unmark mariadbd; fi
fi

# ------------------------------------------------------------------ wait for the node
deadline=$(( $(date +%s) + TIMEOUT ))
st=""
while :; do
  st=$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -1)
  case "$st" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|fail*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    sinfo -N -l >&2 || true
    tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
    die "node $NODE not usable (state '$st') after ${TIMEOUT}s"
  fi
  sleep 0.1
done
log "ready: node $NODE $st, CPUs=$CPUS, MinJobAge=$MIN_JOB_AGE, accounting=$ACCT ($(elapsed)s)"
