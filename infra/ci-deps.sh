#!/usr/bin/env bash
# ci-deps.sh -- install the Debian packages jobledger's test suite needs, except SLURM
# and Grid Engine (infra/slurm-up.sh and infra/sge-up.sh install those themselves).
#
#   bash infra/ci-deps.sh                  # the default list below
#   bash infra/ci-deps.sh PKG [PKG...]     # only these (used by sshd-up.sh)
#
# Only what is missing is installed: one `apt-get update`, then one non-interactive
# `apt-get install --no-install-recommends`, output to a log file. When everything is
# present it runs one dpkg-query (~10 ms) and prints one line. When not root, or on a
# system without dpkg, it prints one line and exits 0 (the tests then skip, or fail
# under CI=true, naming what is missing). Never reads stdin.
#
# Knobs (environment):
#   CI_DEPS_PACKAGES   replaces the default list
#   CI_DEPS_EXTRA      added to the list, e.g. "chromium-driver" for WebDriver
#   CI_DEPS_NO_INSTALL 1 => only report what is missing (exit 0)
#   CI_DEPS_LOG        apt output  [/var/tmp/jobledger-ci-deps.log]
#   CI_DEPS_APT_OPTS   extra apt-get options
set -euo pipefail
exec </dev/null

DEFAULT_PACKAGES="openssh-server openssh-client tmux chromium iproute2 procps rsync git python3 python3-venv"
LOG=${CI_DEPS_LOG:-/var/tmp/jobledger-ci-deps.log}
t0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%d.%02ds' $((ms / 1000)) $((ms % 1000 / 10)); }

if [ $# -gt 0 ]; then
    pkgs=("$@")
else
    read -r -a pkgs <<<"${CI_DEPS_PACKAGES:-$DEFAULT_PACKAGES} ${CI_DEPS_EXTRA:-}"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "ci-deps: no dpkg on this system; skipping (needs: ${pkgs[*]})"
    exit 0
fi

# one dpkg-query for all; unknown names print nothing (and exit 1), so read the lines
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${pkgs[@]}" 2>/dev/null |
    awk '$1 == "ii" { print $2 }' || true)
missing=()
for p in "${pkgs[@]}"; do
    grep -qxF -- "${p%%:*}" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "ci-deps: all ${#pkgs[@]} packages present ($(elapsed))"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "ci-deps: not root, skipping apt-get; missing: ${missing[*]}"
    exit 0
fi
if [ "${CI_DEPS_NO_INSTALL:-0}" = 1 ]; then
    echo "ci-deps: CI_DEPS_NO_INSTALL=1, not installing; missing: ${missing[*]}"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Lock::Timeout: wait for another apt/dpkg (e.g. slurm-up.sh installing) instead of failing
# shellcheck disable=SC2206  # CI_DEPS_APT_OPTS is a word list on purpose
APT=(apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold ${CI_DEPS_APT_OPTS:-})

# Without systemd, postinst scripts would start the system sshd on *:22 (and others).
# Debian's policy-rc.d convention blocks that; create one only if none exists.
POLICY=/usr/sbin/policy-rc.d
made_policy=
cleanup() { if [ -n "$made_policy" ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from jobledger infra/ci-deps.sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    made_policy=1
fi

echo "ci-deps: installing ${missing[*]} (log: $LOG)"
: >"$LOG"
ok=
for try in 1 2 3; do   # the lists lock is not covered by Lock::Timeout: retry
    if "${APT[@]}" update >>"$LOG" 2>&1; then ok=1; break; fi
    echo "ci-deps: apt-get update failed (try $try), retrying" >&2
    sleep $((try * 5))
done
[ -n "$ok" ] || { tail -20 "$LOG" >&2; echo "ci-deps: apt-get update failed" >&2; exit 1; }
if ! "${APT[@]}" install --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1; then
    tail -20 "$LOG" >&2
    echo "ci-deps: apt-get install failed: ${missing[*]}" >&2
    exit 1
fi
echo "ci-deps: installed ${#missing[@]} package(s) in $(elapsed)"
