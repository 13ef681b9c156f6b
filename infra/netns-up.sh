#!/usr/bin/env bash
# netns-up.sh -- a second "host" for tests: network namespace hpc2 holding 10.200.0.2,
# joined to the root namespace (10.200.0.1) by a veth pair, with its own private sshd
# (infra/sshd-up.sh in the namespace, own UTS hostname, port 22). Idempotent; needs root;
# never reads stdin.
#
#   bash infra/netns-up.sh
#   ssh -F /var/tmp/jobledger-sshd-hpc2/ssh_config hpc2 hostname     # -> hpc2
#
# Knobs (environment):
#   NETNS_NAME        namespace name (also the hostname and ssh alias)  [hpc2]
#   NETNS_IP          address inside it                                 [10.200.0.2]
#   NETNS_HOST_IP     root-namespace end of the veth pair (same /24)    [10.200.0.1]
#   NETNS_SSHD        0 => only the network, no sshd                    [1]
#   NETNS_SSHD_DIR    its sshd state dir          [/var/tmp/jobledger-sshd-<name>]
#   NETNS_SSHD_PORT   its sshd port (inside the namespace)              [22]
#   SSHD_TEST_USER, SSHD_TEST_PYENV ... pass through to sshd-up.sh; the python venv is
#   shared with the first test sshd: SSHD_TEST_PYENV_DIR [${SSHD_TEST_DIR:-/var/tmp/jobledger-sshd}/python]
# Only touches the namespace and the two veth ends it names; the namespace has no route
# beyond 10.200.0.0/24 (its 127.0.0.1 is its own: no SLURM there).
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=${NETNS_NAME:-hpc2}
HOST_IF=veth-${NS}a
NS_IF=veth-${NS}b
HOST_IP=${NETNS_HOST_IP:-10.200.0.1}
NS_IP=${NETNS_IP:-10.200.0.2}
die() { echo "netns-up: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ ${#HOST_IF} -le 15 ] || die "namespace name '$NS' too long (interface names are <= 15 chars)"
command -v ip >/dev/null || bash "$HERE/ci-deps.sh" iproute2

if ! ip netns list | awk -v ns="$NS" '$1 == ns { f = 1 } END { exit !f }'; then
    ip netns add "$NS"
    made="created"
else
    made="reused"
fi
if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    ip link add "$HOST_IF" type veth peer name "$NS_IF"
    ip link set "$NS_IF" netns "$NS"
fi
ip addr replace "$HOST_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr replace "$NS_IP/24" dev "$NS_IF"
ip netns exec "$NS" ip link set "$NS_IF" up
ip netns exec "$NS" ip link set lo up
echo "netns-up: $NS $made ($NS_IP) <-> root namespace ($HOST_IP) via $HOST_IF"

if [ "${NETNS_SSHD:-1}" != 0 ]; then
    pyenv_dir=${SSHD_TEST_PYENV_DIR:-${SSHD_TEST_DIR:-/var/tmp/jobledger-sshd}/python}
    SSHD_TEST_NETNS=$NS SSHD_TEST_ADDR=$NS_IP SSHD_TEST_PORT=${NETNS_SSHD_PORT:-22} \
        SSHD_TEST_DIR=${NETNS_SSHD_DIR:-/var/tmp/jobledger-sshd-$NS} \
        SSHD_TEST_ALIAS=$NS SSHD_TEST_HOSTNAME=$NS \
        SSHD_TEST_PYENV_DIR=$pyenv_dir \
        bash "$HERE/sshd-up.sh"
fi
