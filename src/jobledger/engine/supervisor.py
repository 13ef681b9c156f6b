"""The supervisor: a long-lived process that starts local units and outlives the driver.

Run as a script (``python -I -S supervisor.py BUDGET``, standard library only) by
:class:`jobledger.engine.supervising.Supervisor`. It forks once at start (its first
process exits, so it is nobody's child to reap), reads one JSON line per unit on stdin
and keeps at most ``BUDGET`` CPUs busy, starting each unit the moment CPUs free up.

A unit with a *direct* start (one argv or Python task, no setup lines) is run without a
shell: the supervisor claims the unit (exclusive create of ``claim``, as the wrapper
does), opens its stdout/stderr, spawns the task in a process group of its own, and when
the task ends writes the ``exit`` record in one ``write(2)`` and touches the completion
marker, exactly as the wrapper would. Any other unit runs its ``job.sh`` wrapper under
bash. For each start it reports ``token pid start`` on stdout (pid ``-1``: the unit was
claimed by another process, or never started; its claim and exit files say which).

The claim of a direct unit names the supervisor as its *keeper* (pid and start ticks):
between the task's end and its exit record the unit has no live process, and a reader
must wait for the keeper rather than call it lost. When stdin reaches end-of-file (the
driver closed it or died) nothing more is started; the supervisor stays until the units
it started have ended and their records are written, then exits. SIGTERM is ignored for
that reason; SIGKILL leaves running tasks without a keeper (their end is then unknown).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from collections import deque
from typing import Any

_INDEX_VARS = ("JOBLEDGER_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID", "SGE_TASK_ID", "HPC_ARRAY_TASK_ID")
BASH = "/bin/bash"
#: Signals the supervisor ignores (or Python does) that its children must not inherit
#: ignored: a task ignoring SIGTERM could not be stopped, a shell could not trap it.
_DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD)


def _start_ticks(pid: int | str = "self") -> str:
    """Field 22 of ``/proc/<pid>/stat``: the start in clock ticks after boot ('-' where unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return "-"


def _which(name: str, search: str) -> str | None:
    """``name`` looked up on the task's own PATH ``search`` (as the shell would)."""
    if "/" in name:
        return name
    for folder in search.split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _write_file(path: str, text: str, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, text.encode(errors="surrogateescape"))
    finally:
        os.close(fd)


class Unit:
    """One started unit: what its end needs."""

    __slots__ = ("cpus", "direct", "marker", "pgid", "started", "unit")

    def __init__(self, cpus: int, direct: bool, pgid: int, started: float, unit: str, marker: str) -> None:
        self.cpus, self.direct, self.pgid, self.started = cpus, direct, pgid, started
        self.unit, self.marker = unit, marker


class Supervisor:
    """The supervisor's state and its loop (see the module docstring)."""

    def __init__(self, budget: int) -> None:
        self.budget = max(1, budget)
        self.used = 0
        self.pending: deque[dict[str, Any]] = deque()
        self.units: dict[int, Unit] = {}
        self.orphans: dict[int, int] = {}  # pgid -> cpus: wrappers killed while their group lives
        self.closed = False
        self.host = socket.gethostname() or "-"
        self.keeper = f"{os.getpid()} {_start_ticks()}"
        self.sid = str(os.getsid(0))
        self.buffer = b""
        self.out_ok = True
        self.environ = dict(os.environ)  # the driver's, as it was when it started this process
        self.found: dict[tuple[str, str], str] = {}  # (command, PATH) -> path found before
        self.cwd = ""

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        os.set_blocking(0, False)
        pid, ticks = self.keeper.split()
        self.out_ok = _write_out(f"keeper {pid} {ticks}\n")
        while not (self.closed and not self.units and not self.orphans):
            watched = [wake_r] if self.closed else [0, wake_r]
            timeout = 1.0 if self.orphans else None
            readable, _, _ = select.select(watched, [], [], timeout)
            if wake_r in readable:
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
            if 0 in readable:
                self.read_input()
            self.reap()
            self.check_orphans()
            self.start_ready()

    def read_input(self) -> None:
        while True:
            try:
                data = os.read(0, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                # the driver is gone or let go: what it handed and was not started never
                # starts here (the next driver queues it again; the claim keeps it single)
                self.closed = True
                self.pending.clear()
                return
            self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.pending.append(json.loads(line))

    def driver_gone(self) -> bool:
        """True once stdin has no writer left (checked before each start)."""
        if self.closed:
            return True
        poller = select.poll()
        poller.register(0, select.POLLHUP)
        if any(ev & select.POLLHUP for _fd, ev in poller.poll(0)):
            self.closed = True
            self.pending.clear()
        return self.closed

    def start_ready(self) -> None:
        while self.pending:
            cpus = int(self.pending[0].get("c") or 1)
            if self.used > 0 and self.used + cpus > self.budget:
                return
            if self.driver_gone():
                return
            self.start(self.pending.popleft(), cpus)

    def report(self, token: str, pid: int, at: float) -> None:
        # once the driver is gone, keep running what was started
        self.out_ok = self.out_ok and _write_out(f"{token} {pid} {at:.6f}\n")

    # ------------------------------------------------------------------ start
    def start(self, item: dict[str, Any], cpus: int) -> None:
        token, index = str(item["t"]), item.get("i")
        env = dict(self.environ)
        if index is not None:
            env.update(dict.fromkeys(_INDEX_VARS, str(index)))
        direct = item.get("d")
        now = time.time()
        if direct is None:
            pid = self.spawn_wrapper(str(item["s"]), env)
            if pid is None:
                self.report(token, -1, now)
                return
            self.units[pid] = Unit(cpus, False, pid, now, "", "")
        else:
            started = self.start_direct(direct, env, now, cpus)
            if started is None:
                self.report(token, -1, now)
                return
            pid = started.pgid
            self.units[pid] = started
        self.used += cpus
        self.report(token, pid, now)

    @staticmethod
    def spawn_wrapper(script: str, env: dict[str, str]) -> int | None:
        null = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        try:
            return os.posix_spawn(
                BASH, [BASH, script], env, file_actions=null, setpgroup=0, setsigdef=_DEFAULT_SIGNALS
            )
        except OSError:
            return None

    def start_direct(self, d: dict[str, Any], env: dict[str, str], now: float, cpus: int) -> Unit | None:
        """Claim the unit and spawn its task; None when it is not ours to run (claimed
        elsewhere, or stopped before it started: then its exit record is written)."""
        unit, marker = str(d["unit"]), str(d.get("marker") or "")
        if d.get("mkdir"):
            try:
                os.makedirs(unit, exist_ok=True)
            except OSError:
                pass
        try:
            claim = os.open(os.path.join(unit, "claim"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            return None  # claimed by another process first (or its directory is gone)
        try:
            pid, problem, stop = self.spawn_task(d, env, unit)
            pgid = pid if pid else "-"
            os.write(claim, f"{pid} {self.host} {now:.6f} {pgid} {self.sid} {self.keeper}\n".encode())
        finally:
            os.close(claim)
        if pid:
            return Unit(cpus, True, pid, now, unit, marker)
        code, state, reason = problem
        self.finish(unit, marker, code, None, now, state or stop, reason)
        return None

    def spawn_task(
        self, d: dict[str, Any], env: dict[str, str], unit: str
    ) -> tuple[int, tuple[int, str, str], str]:
        """``(pid, (code, stop, reason) when it did not start, stop asked for)``."""
        stop = _read_stop(unit)
        if stop is not None:
            return 0, (1, stop[0], f"{stop[1] or 'cancelled on request'}; it never started"), stop[0]
        out_path = str(d.get("stdout") or os.path.join(unit, "stdout"))
        err_path = d.get("stderr")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            out = os.open(out_path, flags, 0o644)
        except OSError as exc:
            return 0, (1, "", f"cannot open stdout {out_path}: {exc.strerror}"), ""
        err = out
        try:
            if err_path != "":
                err_path = str(err_path or os.path.join(unit, "stderr"))
                try:
                    err = os.open(err_path, flags, 0o644)
                except OSError as exc:
                    return 0, (1, "", f"cannot open stderr {err_path}: {exc.strerror}"), ""
            env.update(d.get("env") or {})
            cwd = str(d["cwd"])
            try:
                if cwd != self.cwd:
                    self.cwd = ""
                    os.chdir(cwd)
                    self.cwd = cwd
            except OSError:
                return 0, (1, "", "cannot change to the working directory"), ""
            argv = [str(a) for a in d["argv"]]
            search = env.get("PATH", os.defpath)
            path = self.found.get((argv[0], search))
            if path is None or not os.access(path, os.X_OK):
                path = _which(argv[0], search)
            if path is None:
                os.write(err, f"jobledger: {argv[0]}: command not found\n".encode(errors="surrogateescape"))
                return 0, (127, "", "command not found (exit 127)"), ""
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, out, 1)]
            actions.append((os.POSIX_SPAWN_DUP2, err, 2))
            try:
                pid = os.posix_spawn(
                    path, argv, env, file_actions=actions, setpgroup=0, setsigdef=_DEFAULT_SIGNALS
                )
                if "/" not in argv[0]:
                    self.found[argv[0], search] = path
                return pid, (0, "", ""), ""
            except OSError as exc:
                self.found.pop((argv[0], search), None)
                os.write(err, f"jobledger: {argv[0]}: {exc.strerror}\n".encode(errors="surrogateescape"))
                code = 126 if isinstance(exc, PermissionError) else 127
                return 0, (code, "", f"{argv[0]}: {exc.strerror} (exit {code})"), ""
        finally:
            os.close(out)
            if err != out:
                os.close(err)

    # ------------------------------------------------------------------ end
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            run = self.units.pop(pid, None)
            if run is None:
                continue
            if run.direct:
                self.used -= run.cpus
                self.end_direct(run, status)
            elif os.WIFSIGNALED(status) and _group_alive(run.pgid):
                self.orphans[run.pgid] = run.cpus  # its task runs on: keep its CPUs
            else:
                self.used -= run.cpus

    def check_orphans(self) -> None:
        for pgid in [g for g in self.orphans if not _group_alive(g)]:
            self.used -= self.orphans.pop(pgid)

    def end_direct(self, run: Unit, status: int) -> None:
        ended = time.time()
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            stop = _read_stop(run.unit)
            reason = (stop[1] if stop and stop[1] else "") or f"task killed by signal {sig}"
            state = stop[0] if stop else ""
            self.finish(run.unit, run.marker, 128 + sig, sig, run.started, state, reason, ended)
        else:
            self.finish(run.unit, run.marker, os.WEXITSTATUS(status), None, run.started, "", "", ended)

    def finish(
        self,
        unit: str,
        marker: str,
        code: int,
        sig: int | None,
        started: float,
        stop: str,
        reason: str,
        ended: float | None = None,
    ) -> None:
        """Write the unit's exit record (one write, ending with ``end``) and its marker."""
        ended = time.time() if ended is None else ended
        reason = " ".join(reason.split())
        record = (
            f"exit_code={code}\nsignal={'' if sig is None else sig}\nstarted={started:.6f}\n"
            f"ended={ended:.6f}\nstop={stop}\nreason={reason}\nend\n"
        )
        try:
            _write_file(os.path.join(unit, "exit"), record)
        except OSError:
            return  # its directory is gone: nobody reads it
        if marker:
            try:
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
            except OSError:
                pass


def _write_out(line: str) -> bool:
    try:
        os.write(1, line.encode(errors="surrogateescape"))
    except OSError:
        return False
    return True


def _read_stop(unit: str) -> tuple[str, str] | None:
    try:
        with open(os.path.join(unit, "cancel"), encoding="utf-8", errors="replace") as fh:
            lines = [*fh.read().splitlines(), "", ""]
    except OSError:
        return None
    return lines[0].strip() or "cancelled", lines[1].strip()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> None:
    """Detach (fork; the first process exits at once), then serve until done."""
    if os.fork():
        os._exit(0)
    Supervisor(int(argv[1]) if len(argv) > 1 else 1).run()


if __name__ == "__main__":
    main(sys.argv)
