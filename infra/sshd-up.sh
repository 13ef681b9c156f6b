#!/usr/bin/env bash
# sshd-up.sh -- start (or reuse) a private OpenSSH server for jobledger's tests.
# Idempotent, non-interactive (never reads stdin), needs root. Does not touch /etc/ssh,
# the system sshd or root's ~/.ssh.
#
#   bash infra/sshd-up.sh                          # 127.0.0.1:2222, user hpcuser
#   ssh -F /var/tmp/jobledger-sshd/ssh_config hpc-test hostname
#   . /var/tmp/jobledger-sshd/env.sh               # SSH_TEST_* for the test suite
#
# Knobs (environment):
#   SSHD_TEST_DIR       state dir: keys, configs, log, pid  [/var/tmp/jobledger-sshd]
#   SSHD_TEST_ADDR      listen address                      [127.0.0.1]
#   SSHD_TEST_PORT      listen port                         [2222]
#   SSHD_TEST_USER      login user, created if missing      [hpcuser]
#   SSHD_TEST_HOME      home of a user created here         [/home/<user>]
#   SSHD_TEST_ALIAS     Host alias in the generated ssh_config  [hpc-test]
#   SSHD_TEST_NETNS     run sshd inside this (existing) network namespace
#   SSHD_TEST_HOSTNAME  run sshd in its own UTS namespace with this hostname
#   SSHD_TEST_PYENV     1 => make a venv the test user can run, with the packages
#                       jobledger's remote job runner imports                 [0]
#   SSHD_TEST_PYENV_DIR       where that venv goes               [<state dir>/python]
#   SSHD_TEST_PYENV_BASE      python it is made from (readable by the user) [/usr/bin/python3]
#   SSHD_TEST_PYENV_PACKAGES  what pip installs into it   [cloudpickle msgpack attrs]
#   SSHD_TEST_PYENV_IMPORTS   modules checked over ssh afterwards  [the package names]
#   SSHD_TEST_PIN_FROM  python whose installed versions of those packages are pinned
#                       (cloudpickle wants the same version on both ends) [<repo>/.venv/bin/python]
#   SSHD_TEST_NO_INSTALL 1 => never apt-get install openssh-server/-client
#
# Several instances can run at once: give each its own SSHD_TEST_DIR and port (or
# netns). They share the user; each instance's client key is one line of its
# ~/.ssh/authorized_keys, tagged with the state dir.
#
# Files in the state dir (dir 755 so the user can reach the venv; private keys 600 root):
#   ssh_host_ed25519_key  id_ed25519  known_hosts  ssh_config  sshd_config
#   sshd.log (LogLevel VERBOSE, appended across restarts: one "Accepted publickey" per
#   connection)  sshd.pid  env.sh  python/ (with SSHD_TEST_PYENV=1)
set -euo pipefail
exec </dev/null
t0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10)); }
die() { echo "sshd-up: $*" >&2; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${SSHD_TEST_DIR:-/var/tmp/jobledger-sshd}
ADDR=${SSHD_TEST_ADDR:-127.0.0.1}
PORT=${SSHD_TEST_PORT:-2222}
TUSER=${SSHD_TEST_USER:-hpcuser}
ALIAS=${SSHD_TEST_ALIAS:-hpc-test}
NETNS=${SSHD_TEST_NETNS:-}
HNAME=${SSHD_TEST_HOSTNAME:-}
PYENV=${SSHD_TEST_PYENV:-0}
PYENV_BASE=${SSHD_TEST_PYENV_BASE:-/usr/bin/python3}
PYENV_PACKAGES=${SSHD_TEST_PYENV_PACKAGES:-cloudpickle msgpack attrs}
PIN_FROM=${SSHD_TEST_PIN_FROM:-$HERE/../.venv/bin/python}
SSHD=/usr/sbin/sshd            # sshd re-execs itself: it insists on an absolute path

case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
PYENV_DIR=${SSHD_TEST_PYENV_DIR:-$DIR/python}
case $DIR$PYENV_DIR in *[[:space:]]*) die "paths with spaces are not supported: $DIR" ;; esac
case $DIR/ in /root/*) die "SSHD_TEST_DIR must be outside /root (the test user reads it)" ;; esac

[ "$(id -u)" = 0 ] || die "must run as root (creates a user, /run/sshd, binds a port)"
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    [ "${SSHD_TEST_NO_INSTALL:-0}" = 1 ] && die "$SSHD or ssh missing (apt-get install openssh-server openssh-client)"
    bash "$HERE/ci-deps.sh" openssh-server openssh-client
    [ -x "$SSHD" ] || die "$SSHD still missing after installing openssh-server"
fi
if [ -n "$NETNS" ]; then
    ip netns list | awk -v ns="$NETNS" '$1 == ns { f = 1 } END { exit !f }' ||
        die "network namespace $NETNS does not exist (infra/netns-up.sh)"
fi
in_ns() { if [ -n "$NETNS" ]; then ip netns exec "$NETNS" "$@"; else "$@"; fi; }

umask 022
mkdir -p "$DIR"
chmod 755 "$DIR"

# --- 1. keys (host + client): made once, reused -------------------------------------------
[ -f "$DIR/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "jobledger-test-host" -f "$DIR/ssh_host_ed25519_key"
[ -f "$DIR/id_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "jobledger-ssh-test:$DIR" -f "$DIR/id_ed25519"
chmod 600 "$DIR/ssh_host_ed25519_key" "$DIR/id_ed25519"

# --- 2. the test user, with this instance's client key authorized -------------------------
if ! id "$TUSER" >/dev/null 2>&1; then
    THOME_NEW=${SSHD_TEST_HOME:-/home/$TUSER}
    mkdir -p "$(dirname "$THOME_NEW")"
    useradd --create-home --home-dir "$THOME_NEW" --shell /bin/bash --user-group "$TUSER"
fi
# useradd leaves the password '!' (locked); with UsePAM no, sshd then refuses even key
# logins ("User ... not allowed because account is locked"). '*' = no password, unlocked.
case $(getent shadow "$TUSER" | cut -d: -f2) in '!'*) usermod -p '*' "$TUSER" ;; esac
THOME=$(getent passwd "$TUSER" | cut -d: -f6)
TSHELL=$(getent passwd "$TUSER" | cut -d: -f7)
TGROUP=$(id -gn "$TUSER")
case $THOME/ in /root/* | / | //) die "home of $TUSER is '$THOME': must be its own dir outside /root" ;; esac
case $TSHELL in */nologin | */false) die "$TUSER has shell $TSHELL: needs a POSIX login shell (usermod -s /bin/bash $TUSER)" ;; esac
if [ ! -d "$THOME" ]; then install -d -m 755 -o "$TUSER" -g "$TGROUP" "$THOME"; fi
chmod go-w "$THOME"            # StrictModes refuses group/world-writable homes
runuser -u "$TUSER" -- test -x "$THOME" || die "$TUSER cannot enter its home $THOME (check the parents' modes)"
install -d -m 700 -o "$TUSER" -g "$TGROUP" "$THOME/.ssh"
AK=$THOME/.ssh/authorized_keys
PUB=$(cat "$DIR/id_ed25519.pub")
(   # serialize with other sshd-up/down runs editing the same file
    flock 9
    touch "$AK"
    awk -v tag="jobledger-ssh-test:$DIR" -v pub="$PUB" '$NF != tag && $0 != pub' "$AK" >"$AK.new"
    echo "$PUB" >>"$AK.new"
    chown "$TUSER:$TGROUP" "$AK.new"
    chmod 600 "$AK.new"
    mv -f "$AK.new" "$AK"
) 9<"$THOME/.ssh"

# --- 3. python for remote jobs (optional) -------------------------------------------------
# A venv from the system python (the project's own interpreter may live under /root,
# which the test user cannot read), root-owned and world-readable: the user runs it but
# cannot change it. Rebuilt only when the wanted package list changes.
if [ "$PYENV" = 1 ]; then
    read -r -a names <<<"$PYENV_PACKAGES"
    specs=("${names[@]}")
    if [ -x "$PIN_FROM" ]; then
        mapfile -t specs < <("$PIN_FROM" -c '
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(name)
' "${names[@]}")
        want_mm=$("$PIN_FROM" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        have_mm=$("$PYENV_BASE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        [ "$want_mm" = "$have_mm" ] || echo "sshd-up: warning: remote python is $have_mm," \
            "$PIN_FROM is $want_mm (cloudpickle by-value functions need the same minor version)" >&2
    fi
    stamp="$PYENV_BASE ${specs[*]}"
    if [ ! -x "$PYENV_DIR/bin/python" ] || [ "$(cat "$PYENV_DIR/.jobledger-stamp" 2>/dev/null)" != "$stamp" ]; then
        "$PYENV_BASE" -c 'import ensurepip, venv' 2>/dev/null ||
            bash "$HERE/ci-deps.sh" python3-venv
        "$PYENV_BASE" -m venv --clear "$PYENV_DIR"
        pip=("$PYENV_DIR/bin/python" -m pip install -q --disable-pip-version-check --no-input)
        if ! "${pip[@]}" "${specs[@]}" >"$DIR/pyenv-pip.log" 2>&1; then
            echo "sshd-up: pinned install failed (${specs[*]}), trying unpinned ${names[*]}" >&2
            "${pip[@]}" "${names[@]}" >>"$DIR/pyenv-pip.log" 2>&1 ||
                { tail -5 "$DIR/pyenv-pip.log" >&2; die "pip install into $PYENV_DIR failed"; }
        fi
        echo "$stamp" >"$PYENV_DIR/.jobledger-stamp"
        chmod -R a+rX,go-w "$PYENV_DIR"
        pyenv_state="built ($(elapsed))"
    else
        pyenv_state="reused"
    fi
fi
if [ -x "$PYENV_DIR/bin/python" ]; then RPY=$PYENV_DIR/bin/python; else RPY=$PYENV_BASE; fi

# --- 4. sshd_config + client files ------------------------------------------------------
mkdir -p /run/sshd && chmod 755 /run/sshd    # privilege-separation dir (compiled in; sshd -t wants it)
cat >"$DIR/sshd_config.new" <<EOF
# generated by jobledger infra/sshd-up.sh -- private test sshd, not the system one
ListenAddress $ADDR
Port $PORT
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $TUSER
UsePAM no
StrictModes yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
MaxStartups 200:30:400
MaxSessions 100
ClientAliveInterval 15
LogLevel VERBOSE
EOF
# OpenSSH >= 9.8 throttles sources that fail auth; fault tests fail auth on purpose
if "$SSHD" -t -f "$DIR/sshd_config.new" -o PerSourcePenalties=no >/dev/null 2>&1; then
    echo "PerSourcePenalties no" >>"$DIR/sshd_config.new"
fi
in_ns "$SSHD" -t -f "$DIR/sshd_config.new" || die "sshd -t rejected $DIR/sshd_config.new"
config_changed=1
if cmp -s "$DIR/sshd_config.new" "$DIR/sshd_config"; then config_changed=; fi
mv -f "$DIR/sshd_config.new" "$DIR/sshd_config"

# known_hosts straight from the host key (no ssh-keyscan)
if [ "$PORT" = 22 ]; then HK_NAME=$ADDR; else HK_NAME="[$ADDR]:$PORT"; fi
echo "$HK_NAME $(cut -d' ' -f1,2 "$DIR/ssh_host_ed25519_key.pub")" >"$DIR/known_hosts"
cat >"$DIR/ssh_config" <<EOF
# generated by jobledger infra/sshd-up.sh;  ssh -F $DIR/ssh_config $ALIAS
Host $ALIAS
    HostName $ADDR
    Port $PORT
    User $TUSER
Host *
    IdentityFile $DIR/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $DIR/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
EOF
{
    echo "# generated by jobledger infra/sshd-up.sh: source it, or read the KEY=VALUE words"
    printf 'export %s=%q\n' \
        SSH_TEST_DIR "$DIR" SSH_TEST_HOST "$ADDR" SSH_TEST_PORT "$PORT" \
        SSH_TEST_USER "$TUSER" SSH_TEST_HOME "$THOME" SSH_TEST_ALIAS "$ALIAS" \
        SSH_TEST_KEY "$DIR/id_ed25519" SSH_TEST_KNOWN_HOSTS "$DIR/known_hosts" \
        SSH_TEST_CONFIG "$DIR/ssh_config" SSH_TEST_LOG "$DIR/sshd.log" \
        SSH_TEST_PIDFILE "$DIR/sshd.pid" SSH_TEST_NETNS "$NETNS" SSH_TEST_HOSTNAME "$HNAME" \
        SSH_TEST_PYTHON "$RPY" SSH_TEST_PYENV_DIR "$PYENV_DIR"
} >"$DIR/env.sh"

# --- 5. start sshd unless ours is already running ----------------------------------------
alive() { # a live (not zombie) process
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
running_pid() { # PID from the pidfile if it is a live sshd using our config
    local pid
    pid=$(cat "$DIR/sshd.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/sshd_config" || return 1
    echo "$pid"
}
if pid=$(running_pid); then
    if [ -n "$config_changed" ]; then
        kill -HUP "$pid"    # re-exec with the new config (same PID; listener briefly down)
        state="reloaded (pid $pid)"
    else
        state="already running"
    fi
else
    rm -f "$DIR/sshd.pid"
    # sshd daemonizes BEFORE it binds: a busy port never shows in its exit status
    if in_ns timeout 2 bash -c "exec 3<>/dev/tcp/$ADDR/$PORT" 2>/dev/null; then
        die "$ADDR:$PORT is already in use by another process"
    fi
    # the log is appended to (tests keep offsets across restarts); rotate only when big
    if [ "$(stat -c %s "$DIR/sshd.log" 2>/dev/null || echo 0)" -gt 20000000 ]; then
        mv -f "$DIR/sshd.log" "$DIR/sshd.log.1"
    fi
    if [ -n "$HNAME" ]; then   # the daemon keeps the new UTS namespace; so do its sessions
        in_ns unshare --uts sh -c 'hostname "$1" && exec "$2" -f "$3" -E "$4"' _ \
            "$HNAME" "$SSHD" "$DIR/sshd_config" "$DIR/sshd.log"
    else
        in_ns "$SSHD" -f "$DIR/sshd_config" -E "$DIR/sshd.log"
    fi || die "sshd failed to start; see $DIR/sshd.log"
    state="started"
fi

# --- 6. wait until it accepts a real login -----------------------------------------------
log_size=$(stat -c %s "$DIR/sshd.log" 2>/dev/null || echo 0)
ok=
deadline=$((SECONDS + 15))
while [ $SECONDS -lt $deadline ]; do
    if ssh -F "$DIR/ssh_config" -o ConnectTimeout=2 "$ALIAS" true 2>/dev/null; then ok=1; break; fi
    if tail -c +$((log_size + 1)) "$DIR/sshd.log" 2>/dev/null | grep -qE 'Cannot bind|fatal|FATAL'; then break; fi
    sleep 0.1
done
if [ -z "$ok" ]; then
    tail -20 "$DIR/sshd.log" >&2 || true
    die "sshd on $ADDR:$PORT does not accept logins as $TUSER"
fi
chmod 644 "$DIR/sshd.log" 2>/dev/null || true   # tests read it to count connections
pid=$(running_pid) || die "sshd answers on $ADDR:$PORT but $DIR/sshd.pid names no sshd of ours"
if [ "$PYENV" = 1 ]; then
    imports=${SSHD_TEST_PYENV_IMPORTS:-${PYENV_PACKAGES//-/_}}
    ssh -F "$DIR/ssh_config" "$ALIAS" "$RPY" -c "'import ${imports// /, }'" ||
        die "over ssh, $TUSER cannot import $imports with $RPY"
fi

echo "sshd-up: $state, pid $pid, $TUSER@$ADDR:$PORT${NETNS:+ in netns $NETNS}" \
    "(ssh -F $DIR/ssh_config $ALIAS), python $RPY${pyenv_state:+ ($pyenv_state)}, $(elapsed)"
