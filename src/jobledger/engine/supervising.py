"""The driver's handle on the supervisor process (:mod:`jobledger.engine.supervisor`).

The supervisor is started on first use with this interpreter, in a session of its own;
it detaches at once (its first process exits and is reaped here), so it outlives the
driver without anyone left to reap it. Units are handed to it as JSON lines on a pipe; it
reports each start (``token pid start``) and each end of a unit it started without a
shell (``end <marker>``) on another, read by a thread that wakes the driver. Its first
report is ``keeper <pid> <start ticks>``: the process that writes the exit records of
units started without a shell. Closing the pipe tells it to start nothing more; it
exits once the units it started have ended.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobledger.engine.launcher import widen_pipe

#: The package root the supervisor imports its two modules from (nothing else).
ROOT = str(Path(__file__).resolve().parents[2])
START = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from jobledger.engine.supervisor import main; main(sys.argv[2:])"
)


def supervisor_supported() -> bool:
    """True where the supervisor works: Linux (``/proc``), a known interpreter."""
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/stat") and bool(sys.executable)


class Supervisor:
    """One supervisor process that starts units on request (see the module docstring)."""

    WAKE_EVERY = 0.02

    def __init__(self, budget: int = 1, on_start: Callable[[], None] | None = None) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        self._capacity = widen_pipe(self._write)
        self._lines: collections.deque[int] = collections.deque()
        self._unread = 0
        actions = [
            (os.POSIX_SPAWN_DUP2, to_child, 0),
            (os.POSIX_SPAWN_DUP2, from_child, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        argv = [sys.executable, "-I", "-S", "-c", START, ROOT, str(max(1, budget))]
        try:
            first = os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions, setsid=True)
        finally:
            os.close(to_child)
            os.close(from_child)
        self._first: int | None = first
        self.keeper: tuple[int, int] | None = None
        """``(pid, start ticks)`` of the supervisor once it said so."""
        self._on_start = on_start
        self._lock = threading.Lock()
        self._buffer = b""
        self._starts: list[tuple[str, int, float]] = []
        self._ends: list[str] = []
        self._ended = threading.Event()
        self._reader = threading.Thread(target=self._read_reports, name="jobledger-supervisor", daemon=True)
        self._reader.start()

    def _read_reports(self) -> None:
        while True:
            try:
                data = os.read(self._read, 65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    os.close(self._read)
                self._ended.set()
                if self._on_start is not None:
                    self._on_start()
                return
            with self._lock:
                self._buffer += data
            if self._on_start is not None:
                self._on_start()
            time.sleep(self.WAKE_EVERY)  # let reports gather: one wake-up for many starts

    def room(self) -> bool:
        """True while more units can be handed without :meth:`launch` blocking."""
        return self._unread < self._capacity // 2

    def launch(
        self, token: str, script: str, index: int | None, cpus: int = 1, direct: dict[str, Any] | None = None
    ) -> None:
        """Ask for a unit to start as soon as ``cpus`` CPUs of the budget are free: its
        ``script`` under bash, or (``direct``) its task without a shell. Raises OSError
        when the supervisor has gone."""
        item = {"t": token, "s": script, "i": index, "c": cpus, "d": direct}
        line = json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str).encode(
            errors="surrogateescape"
        )
        os.write(self._write, line + b"\n")
        self._lines.append(len(line) + 1)
        self._unread += len(line) + 1

    def started(self) -> list[tuple[str, int, float]]:
        """``(token, pid, start time)`` of units started since the last call (pid -1:
        claimed elsewhere or never started; the unit's files say which)."""
        self._parse()
        starts, self._starts = self._starts, []
        return starts

    def ended(self) -> list[str]:
        """Completion markers of units started without a shell that ended since the last
        call (the supervisor says so here instead of creating the marker)."""
        self._parse()
        ends, self._ends = self._ends, []
        return ends

    def _parse(self) -> None:
        with self._lock:
            *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            head, _, last = raw.decode(errors="surrogateescape").rpartition(" ")
            if head == "end":
                self._ends.append(last)
                continue
            token, _, pid = head.rpartition(" ")
            if token == "keeper":  # noqa: S105 (the supervisor's first report)
                with contextlib.suppress(ValueError):
                    self.keeper = (int(pid), int(last))
                continue
            if self._lines:
                self._unread -= self._lines.popleft()
            try:
                self._starts.append((token, int(pid), float(last)))
            except ValueError:
                continue

    def alive(self) -> bool:
        """True while the supervisor runs (its report pipe is open)."""
        self._reap_first()
        return not self._ended.is_set()

    def _reap_first(self) -> None:
        if self._first is not None:
            try:
                done, _status = os.waitpid(self._first, os.WNOHANG)
            except ChildProcessError:
                done = self._first
            if done:
                self._first = None

    def close(self) -> None:
        """Start nothing more (units handed and not started never start; the next driver
        queues them again); units running keep running and get their exit records."""
        with contextlib.suppress(OSError):
            os.close(self._write)
        if self._first is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._first, 0)  # it exits as soon as it has forked
            self._first = None
        # (the reader sees end-of-file only when the supervisor exits: it is not waited for)
