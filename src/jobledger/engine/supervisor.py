"""The supervisor: a long-lived process that starts local units and outlives the driver.

Started by :class:`jobledger.engine.supervising.Supervisor` in an interpreter without
site-packages (``python -I -S``: this module and :mod:`~jobledger.engine.supervisor_start`
use the standard library only). It forks once at start (its first
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

from jobledger.engine.supervisor_start import INDEX_VARS, DirectStarter, Unit, spawn_wrapper, touch


def _start_ticks(pid: int | str = "self") -> str:
    """Field 22 of ``/proc/<pid>/stat``: the start in clock ticks after boot ('-' where unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return "-"


class Supervisor:
    """The supervisor's state and its loop (see the module docstring)."""

    def __init__(self, budget: int) -> None:
        self.budget = max(1, budget)
        self.used = 0
        self.pending: deque[dict[str, Any]] = deque()
        self.units: dict[int, Unit] = {}
        self.orphans: dict[int, int] = {}  # pgid -> cpus: wrappers killed while their group lives
        self.closed = False
        self.keeper = f"{os.getpid()} {_start_ticks()}"
        self.direct = DirectStarter(socket.gethostname() or "-", str(os.getsid(0)), self.keeper)
        self.buffer = b""
        self.out_ok = True
        self.environ = dict(os.environ)  # the driver's, as it was when it started this process
        self.hangup = select.poll()  # stdin's writers gone
        self.hangup.register(0, select.POLLHUP)

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
            try:
                item = json.loads(line.decode("utf-8", "surrogateescape"))
                item["c"] = max(1, int(item.get("c") or 1))
            except (ValueError, TypeError, AttributeError):
                continue  # not a unit (nothing the driver writes): never worth dying for
            self.pending.append(item)

    def driver_gone(self) -> bool:
        """True once stdin has no writer left (checked before each start)."""
        if self.closed:
            return True
        if any(ev & select.POLLHUP for _fd, ev in self.hangup.poll(0)):
            self.closed = True
            self.pending.clear()
        return self.closed

    def start_ready(self) -> None:
        while self.pending:
            cpus = int(self.pending[0]["c"])
            if self.used > 0 and self.used + cpus > self.budget:
                return
            if self.driver_gone():
                return
            item = self.pending.popleft()
            try:
                self.start(item, cpus)
            except Exception:  # the units it keeps outweigh one bad start
                self.report(str(item.get("t", "")), -1, time.time())

    def report(self, token: str, pid: int, at: float) -> None:
        # once the driver is gone, keep running what was started
        self.out_ok = self.out_ok and _write_out(f"{token} {pid} {at:.6f}\n")

    # ------------------------------------------------------------------ start
    def start(self, item: dict[str, Any], cpus: int) -> None:
        token, index = str(item["t"]), item.get("i")
        env = dict(self.environ)
        if index is not None:
            env.update(dict.fromkeys(INDEX_VARS, str(index)))
        direct = item.get("d")
        now = time.time()
        if direct is None:
            pid = spawn_wrapper(str(item["s"]), env)
            if pid is None:
                self.report(token, -1, now)
                return
            self.units[pid] = Unit(cpus, False, pid, now, "", "")
        else:
            started = self.direct.start(direct, env, now, cpus)
            if started is None:
                self.report(token, -1, now)
                return
            pid = started.pgid
            self.units[pid] = started
        self.used += cpus
        self.report(token, pid, now)

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
                # the driver learns of the end on the report pipe (no marker to create,
                # watch and delete); once it has let go or is gone, the marker tells others
                told = self.out_ok and not self.closed
                self.direct.end(run, status, mark=not told)
                if told and run.marker:
                    self.out_ok = _write_out(f"end {os.path.basename(run.marker)}\n")
                    if not self.out_ok:
                        touch(run.marker)
            elif os.WIFSIGNALED(status) and _group_alive(run.pgid):
                self.orphans[run.pgid] = run.cpus  # its task runs on: keep its CPUs
            else:
                self.used -= run.cpus

    def check_orphans(self) -> None:
        for pgid in [g for g in self.orphans if not _group_alive(g)]:
            self.used -= self.orphans.pop(pgid)


def _write_out(line: str) -> bool:
    try:
        os.write(1, line.encode(errors="surrogateescape"))
    except OSError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(args: list[str]) -> None:
    """``args``: the CPU budget. Detach (fork; the first process exits at once), then
    serve until done."""
    if os.fork():
        os._exit(0)
    Supervisor(int(args[0]) if args else 1).run()


if __name__ == "__main__":
    main(sys.argv[1:])
