"""A long-lived shell that starts local jobs by forking, not by exec'ing a new bash.

Starting ``bash job.sh`` costs an exec of bash and its dynamic linking for every job;
forking an already running shell that sources the wrapper costs a fraction of that. The
launcher runs with job control on (``set -m``), so every job gets its own process group
(``stop`` signals the group); it is in its own session, has no terminal, and its jobs
outlive it — when the driver dies, the launcher reads end-of-file and exits, the jobs
carry on. It reports each job's pid back on a pipe. It also holds the CPU budget itself
(``wait -n``) as a second guard behind the driver's own accounting.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os

SCRIPT = r"""
set -m
budget=${1:-1}
used=0
declare -A cpus_of=()
while IFS=$'\x1f' read -r token script index cpus; do
  cpus=${cpus:-1}
  # keep at most `budget` CPUs busy: wait for a job to end before starting the next
  while (( used > 0 && used + cpus > budget )); do
    done_pid=
    wait -n -p done_pid 2>/dev/null
    [ -z "$done_pid" ] && { used=0; break; }
    (( used -= ${cpus_of[$done_pid]:-1} ))
    unset "cpus_of[$done_pid]"
  done
  if [ -n "$index" ]; then
    ( export JOBLEDGER_ARRAY_INDEX="$index" SLURM_ARRAY_TASK_ID="$index" \
        SGE_TASK_ID="$index" HPC_ARRAY_TASK_ID="$index"; . "$script" ) </dev/null >/dev/null 2>&1 &
  else
    ( . "$script" ) </dev/null >/dev/null 2>&1 &
  fi
  pid=$!
  cpus_of[$pid]=$cpus
  (( used += cpus ))
  printf '%s %s\n' "$token" "$pid"
done
"""


class Launcher:
    """One ``bash`` process that starts jobs on request."""

    def __init__(self, bash: str = "/bin/bash", budget: int = 1) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        actions = [
            (os.POSIX_SPAWN_DUP2, to_child, 0),
            (os.POSIX_SPAWN_DUP2, from_child, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        argv = [bash, "-c", SCRIPT, "jobledger-launcher", str(max(1, budget))]
        self.pid = os.posix_spawn(bash, argv, os.environ, file_actions=actions, setsid=True)
        os.close(to_child)
        os.close(from_child)
        flags = fcntl.fcntl(self._read, fcntl.F_GETFL)
        fcntl.fcntl(self._read, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._partial = b""

    def launch(self, token: str, script: str, index: int | None, cpus: int = 1) -> None:
        """Ask for ``script`` to be started (``index`` for an array element) as soon as
        ``cpus`` CPUs of the launcher's budget are free."""
        # fields are separated by the ASCII unit separator: tab is IFS white space to bash,
        # and runs of white space collapse, which would shift an empty field away
        if any(c in text for text in (token, script) for c in ("\x1f", "\n")):
            raise ValueError("launcher paths must not contain newlines or the unit separator")
        line = f"{token}\x1f{script}\x1f{'' if index is None else index}\x1f{cpus}\n".encode()
        os.write(self._write, line)

    def started(self) -> list[tuple[str, int]]:
        """``(token, pid)`` of jobs started since the last call."""
        chunks = []
        while True:
            try:
                data = os.read(self._read, 65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                raise
            if not data:
                break
            chunks.append(data)
        if not chunks:
            return []
        buffer = self._partial + b"".join(chunks)
        *lines, self._partial = buffer.split(b"\n")
        out = []
        for line in lines:
            token, _, pid = line.decode().rpartition(" ")
            if pid.isdigit():
                out.append((token, int(pid)))
        return out

    def alive(self) -> bool:
        """True while the launcher runs."""
        try:
            done, _status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def close(self) -> None:
        """End the launcher (jobs it started keep running)."""
        for fd in (self._write, self._read):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
