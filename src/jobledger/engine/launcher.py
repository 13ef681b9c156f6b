"""A long-lived shell that starts local jobs by forking, not by exec'ing a new bash.

Starting ``bash job.sh`` costs an exec of bash and its dynamic linking for every job;
forking an already running shell that sources the wrapper costs a fraction of that. The
launcher runs with job control on (``set -m``), so every job gets its own process group
(``stop`` signals the group); it is in its own session, has no terminal, and its jobs
outlive it — when the driver dies, the launcher reads end-of-file and exits, the jobs
carry on. It reports each job's pid and start time back on a pipe.

The launcher holds the CPU budget itself, so the driver may hand it many jobs ahead of
the free CPUs (as many as its input pipe holds without blocking the driver, see
:meth:`Launcher.room`): when a job ends, the launcher starts the next at once, without a
round trip through the driver. Each job writes its pid to a pipe as it exits, which wakes the
launcher; jobs killed before they could say so are found in ``/proc`` (bash's own
``wait -n`` cannot be used: with job control on, bash forgets jobs it has reaped, and
``wait -n`` then waits for a job that is still running). A job whose wrapper was killed
keeps its CPUs until no live process is left in its process group (its task may run on).
The jobs inherit that pipe's descriptor. Before each start it checks that the driver
is still its parent; once the driver is gone it starts nothing more (the next driver
re-queues what never started, and the wrapper's claim keeps any job from running twice).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

WAKE_READ = r"""
# wake_read SECONDS: wait up to SECONDS for one line on the wake pipe, into `ended`.
# bash's `read -t` may time out in the middle of a line, losing or splitting it (seen:
# ~2% of lines under 0.5 ms timeouts); so only the first byte is read with a timeout and
# the rest of the line (written in one write, so already there) without one
wake_read() {
  local first=
  ended=
  read -r -t "$1" -n 1 -u "$wake" first
  [ -n "$first" ] || return 1
  read -r -u "$wake" ended
  ended=$first$ended
}
"""

SCRIPT = (
    r"""
set -m
budget=${1:-1}
used=0
declare -A cpus_of=()
naps=(0.001 0.002 0.005 0.01 0.02 0.05 0.1)
# a pipe each job writes its pid to as it exits: waiting on it sleeps until a job ends
# (or a short while, for jobs killed before they could say so) without a fork
exec {wake}<> <(:)
"""
    + WAKE_READ
    + r"""
forget() {
  [ -n "$1" ] || return 0
  if [ -n "${cpus_of[$1]+set}" ]; then
    (( used -= cpus_of[$1] ))
    unset "cpus_of[$1]"
  fi
}
# a job whose wrapper was killed keeps its CPUs while its process group has a live
# (non-zombie) member: its task runs on. /proc is read at most once a second for that
declare -A live=()
scanned=-1
group_alive() {
  local group=$1 f line
  kill -0 -- "-$group" 2>/dev/null || return 1
  if (( SECONDS != scanned )); then
    scanned=$SECONDS
    live=()
    for f in /proc/[0-9]*/stat; do
      line=
      { read -r line < "$f"; } 2>/dev/null
      set -- ${line##*) }
      case "${1:-Z}" in Z|X) ;; *) live[${3:-0}]=1 ;; esac
    done
  fi
  [ -n "${live[$group]+set}" ]
}
# forget the jobs that ended without saying so. bash reaps its children as they exit
# and, with job control on, forgets them too (so `wait -n` would miss them): ask /proc
forget_ended() {
  local pid line
  for pid in "${!cpus_of[@]}"; do
    line=
    { read -r line < "/proc/$pid/stat"; } 2>/dev/null
    set -- ${line##*) }
    if [ "${2:-}" != "$$" ] || [ "$1" = Z ] || [ "$1" = X ]; then
      group_alive "$pid" || forget "$pid"
    fi
  done
}
while IFS=$'\x1f' read -r token script index cpus; do
  cpus=${cpus:-1}
  # keep at most `budget` CPUs busy: wait for jobs to end before starting the next
  while read -r -t 0 -u "$wake"; do read -r -u "$wake" ended && forget "$ended"; done
  nap=0
  while (( used > 0 && used + cpus > budget )); do
    if wake_read "${naps[nap]}"; then
      forget "$ended"
    else
      forget_ended
      (( nap < ${#naps[@]} - 1 )) && (( nap += 1 ))
    fi
  done
  # the driver is gone (this shell was re-parented): start nothing more
  if read -r line < "/proc/$$/stat"; then
    set -- ${line##*) }
    [ "$2" != "$PPID" ] && exit 0
  fi
  if [ -n "$index" ]; then
    ( trap 'echo $BASHPID >&$wake' EXIT; export JOBLEDGER_ARRAY_INDEX="$index" SLURM_ARRAY_TASK_ID="$index" \
        SGE_TASK_ID="$index" HPC_ARRAY_TASK_ID="$index"; . "$script" ) </dev/null >/dev/null 2>&1 &
  else
    ( trap 'echo $BASHPID >&$wake' EXIT; . "$script" ) </dev/null >/dev/null 2>&1 &
  fi
  pid=$!
  # a pid seen before belonged to a job that has ended
  [ -n "${cpus_of[$pid]+set}" ] && (( used -= cpus_of[$pid] ))
  cpus_of[$pid]=$cpus
  (( used += cpus ))
  printf '%s %s %s\n' "$token" "$pid" "${EPOCHREALTIME:-}"
done
"""
)


def widen_pipe(fd: int) -> int:
    """Make the pipe written through ``fd`` hold more jobs handed ahead (1 MiB where
    allowed); returns its size."""
    try:
        return fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        try:
            return fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))
        except OSError:
            return 65536


@functools.cache
def launcher_supported(bash: str = "/bin/bash") -> bool:
    """True where the launcher works: Linux (it reads ``/proc``) with bash >= 4.1."""
    if not sys.platform.startswith("linux") or not os.path.exists("/proc/self/stat"):
        return False
    try:
        out = subprocess.run(
            [bash, "-c", 'echo "${BASH_VERSINFO[0]} ${BASH_VERSINFO[1]}"'],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split()
        return (int(out[0]), int(out[1])) >= (4, 1)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return False


class Launcher:
    """One ``bash`` process that starts jobs on request.

    A reader thread collects the launcher's reports and calls ``on_start`` (at most
    every ``WAKE_EVERY`` seconds) so a waiting driver records starts promptly.
    """

    WAKE_EVERY = 0.02

    def __init__(
        self, bash: str = "/bin/bash", budget: int = 1, on_start: Callable[[], None] | None = None
    ) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        self._capacity = widen_pipe(self._write)
        self._lines: collections.deque[int] = collections.deque()  # sizes of lines not started yet
        self._unread = 0
        actions = [
            (os.POSIX_SPAWN_DUP2, to_child, 0),
            (os.POSIX_SPAWN_DUP2, from_child, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        argv = [bash, "-c", SCRIPT, "jobledger-launcher", str(max(1, budget))]
        self.pid = os.posix_spawn(bash, argv, os.environ, file_actions=actions, setsid=True)
        os.close(to_child)
        os.close(from_child)
        self._on_start = on_start
        self._lock = threading.Lock()
        self._buffer = b""
        self._reader = threading.Thread(target=self._read_reports, name="jobledger-launcher", daemon=True)
        self._reader.start()

    def room(self) -> bool:
        """True while more jobs can be handed without :meth:`launch` blocking (the pipe
        holds the jobs waiting for CPUs)."""
        return self._unread < self._capacity // 2

    def _read_reports(self) -> None:
        while True:
            try:
                data = os.read(self._read, 65536)
            except OSError:
                return
            if not data:
                return  # the launcher ended
            with self._lock:
                self._buffer += data
            if self._on_start is not None:
                self._on_start()
            time.sleep(self.WAKE_EVERY)  # let reports gather: one wake-up for many starts

    def launch(self, token: str, script: str, index: int | None, cpus: int = 1) -> None:
        """Ask for ``script`` to be started (``index`` for an array element) as soon as
        ``cpus`` CPUs of the launcher's budget are free. Raises OSError when the
        launcher has gone."""
        # fields are separated by the ASCII unit separator: tab is IFS white space to bash,
        # and runs of white space collapse, which would shift an empty field away
        if any(c in text for text in (token, script) for c in ("\x1f", "\n")):
            raise ValueError("launcher paths must not contain newlines or the unit separator")
        line = f"{token}\x1f{script}\x1f{'' if index is None else index}\x1f{cpus}\n".encode()
        os.write(self._write, line)
        self._lines.append(len(line))
        self._unread += len(line)

    def started(self) -> list[tuple[str, int, float]]:
        """``(token, pid, start time)`` of jobs started since the last call."""
        with self._lock:
            *lines, self._buffer = self._buffer.split(b"\n")
        out = []
        for line in lines:
            head, _, at = line.decode(errors="replace").rpartition(" ")
            token, _, pid = head.rpartition(" ")
            if self._lines:  # the launcher read that job's line
                self._unread -= self._lines.popleft()
            if pid.isdigit():
                try:
                    when = float(at)
                except ValueError:
                    when = time.time()
                out.append((token, int(pid), when))
        return out

    def alive(self) -> bool:
        """True while the launcher runs."""
        try:
            done, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def close(self) -> None:
        """End the launcher: jobs it started keep running, jobs handed to it that have
        not started yet never start (the next driver queues them again)."""
        with contextlib.suppress(OSError):
            os.close(self._write)
        # it may be waiting for CPUs to start a job handed ahead: do not wait for that
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self._reader.join(timeout=2)  # its pipe reached end-of-file with the launcher
        with contextlib.suppress(OSError):
            os.close(self._read)
