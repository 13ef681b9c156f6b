#!/usr/bin/env bash
# netns-down.sh -- undo infra/netns-up.sh: stop the sshd in the namespace (by its PID
# file), end any process still inside the namespace (only ours can be there), delete the
# veth pair and the namespace. Idempotent; never reads stdin. Same knobs as netns-up.sh.
set -euo pipefail
exec </dev/null
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=${NETNS_NAME:-hpc2}

if [ "$(id -u)" != 0 ]; then echo "netns-down: not root, nothing done"; exit 0; fi
SSHD_TEST_DIR=${NETNS_SSHD_DIR:-/var/tmp/jobledger-sshd-$NS} bash "$HERE/sshd-down.sh"
if ip netns list | awk -v ns="$NS" '$1 == ns { f = 1 } END { exit !f }'; then
    pids=$(ip netns pids "$NS" 2>/dev/null | tr '\n' ' ' || true)
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    ip link del "veth-${NS}a" 2>/dev/null || true     # deleting one end removes the pair
    ip netns del "$NS"
    echo "netns-down: removed $NS${pids:+ (ended pids ${pids% })}"
else
    ip link del "veth-${NS}a" 2>/dev/null || true
    echo "netns-down: $NS not present"
fi
