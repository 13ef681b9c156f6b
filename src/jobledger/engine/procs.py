"""Whether a local unit still runs: any live process of its process group or session.

A local unit is a process group (the launcher forks it with job control on) or a whole
session (``posix_spawn`` with ``setsid``) led by its wrapper. The wrapper's pid alone says
little: killed with SIGKILL, it leaves its task running. :class:`ProcTable` is one pass
over ``/proc`` (taken once per check of every unit, never per unit) listing live
(non-zombie) processes with their group, session and start time; :class:`UnitProcs`
answers for one unit from it, and notices a leader pid reused by another process (a pid
number cannot be reused while a group or session it names has members, so a live process
under the leader's pid that started later means the unit's group has ended).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import attrs

#: Seconds of leeway when comparing a process's start (whole-second boot time) with the
#: start a unit recorded: a leader that started later than this is another process.
START_SLACK = 2.0


@attrs.define
class ProcTable:
    """Live (non-zombie) processes at one moment: ``starts`` maps pid to start time
    (clock ticks after boot: exact, so it tells two processes under one pid apart);
    ``groups`` and ``sessions`` have a live member each. ``complete`` is False where
    there is no ``/proc`` (answers then come from ``kill(0)``, which counts zombies too)."""

    taken_at: float
    """When the pass began: a process seen alive was alive then or later."""
    starts: dict[int, int] = attrs.field(factory=dict)
    groups: dict[int, set[int]] = attrs.field(factory=dict)
    """Process group -> its live members' pids."""
    sessions: dict[int, set[int]] = attrs.field(factory=dict)
    """Session -> process groups with a live member in it."""
    complete: bool = True
    boot: float = 0.0
    """Boot time (epoch seconds, whole: ``btime`` of ``/proc/stat``)."""
    tick: float = 100.0
    done_at: float = 0.0
    """When the pass ended: a process not seen had ended by then."""

    @classmethod
    def scan(cls) -> ProcTable:
        """Read every ``/proc/<pid>/stat`` once."""
        table = cls(time.time())
        try:
            entries = os.listdir("/proc")
            table.boot, table.tick = _boot_time(), float(os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError):
            table.complete = False
            table.done_at = table.taken_at
            return table
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
                fields = stat[stat.rindex(b")") + 2 :].split()
                if fields[0] in (b"Z", b"X"):
                    continue
                pid, pgrp, session = int(entry), int(fields[2]), int(fields[3])
                table.starts[pid] = int(fields[19])
            except (OSError, ValueError, IndexError):
                continue
            table.groups.setdefault(pgrp, set()).add(pid)
            table.sessions.setdefault(session, set()).add(pgrp)
        table.done_at = time.time()
        return table

    def start_of(self, pid: int) -> int | None:
        """Start of live process ``pid`` in clock ticks after boot (-1 where unknown),
        None when it is gone."""
        if self.complete:
            return self.starts.get(pid)
        return -1 if _kill0(pid, os.kill) else None

    def epoch(self, ticks: int) -> float:
        """A start in ticks after boot as seconds since the epoch (to about a second)."""
        return self.boot + ticks / self.tick

    def group_alive(self, pgid: int) -> bool:
        """True while process group ``pgid`` has a live member."""
        if self.complete:
            return pgid in self.groups
        return _kill0(pgid, os.killpg)

    def session_alive(self, sid: int) -> bool:
        """True while session ``sid`` has a live member."""
        return sid in self.sessions if self.complete else self.group_alive(sid)

    def groups_of(self, pgid: int, session: bool) -> set[int]:
        """The process groups to signal to reach every process of a unit."""
        if session and self.complete:
            return {pgid, *self.sessions.get(pgid, ())}
        return {pgid}


@attrs.define
class UnitProcs:
    """The processes of one unit: led by ``pid``, in process group ``pgid``, which is a
    whole session of its own when ``session``; ``since`` is when the unit started."""

    pid: int
    pgid: int
    session: bool
    since: float
    leader_start: int | None = None
    leader_gone_at: float | None = None
    """When the leader (the wrapper) was first seen gone."""
    last_alive: float | None = None
    """When a process of the unit was last seen alive."""
    keeper: tuple[int, int] | None = None
    """``(pid, start ticks)`` of the supervisor that writes the unit's exit record when
    its task ends (units started without a shell)."""
    released: bool = False
    """Its supervisor said the task ended (and is done with the unit)."""

    def leader_alive(self, table: ProcTable) -> bool:
        """True while the wrapper itself runs (not a later process under its pid)."""
        if self.pid <= 0:
            return False
        start = table.start_of(self.pid)
        if start is None:
            return False
        if start < 0:
            return True  # no /proc: kill(0) found it
        if self.leader_start is None:
            if table.epoch(start) > self.since + START_SLACK:
                return False  # started after the unit did: its pid was reused
            self.leader_start = start
        return start == self.leader_start

    def alive(self, table: ProcTable) -> bool:
        """True while any process of the unit's group (or session) is alive."""
        if self.leader_alive(table):
            self.last_alive = table.taken_at
            return True
        if self.leader_gone_at is None:
            self.leader_gone_at = table.taken_at
        if self.pgid <= 0 or (self.pgid == self.pid and table.start_of(self.pid) is not None):
            return False  # the leader's pid was reused, so its group had emptied
        alive = table.group_alive(self.pgid) or (self.session and table.session_alive(self.pgid))
        if alive:
            self.last_alive = table.taken_at
        return alive

    def kept(self, table: ProcTable) -> bool:
        """True while the unit's keeper runs: its processes may all be gone while its
        exit record is being written."""
        if self.keeper is None:
            return False
        pid, ticks = self.keeper
        start = table.start_of(pid)
        return start is not None and start in (-1, ticks)

    def signal(self, table: ProcTable, sig: signal.Signals) -> None:
        """Send ``sig`` to every process group of the unit."""
        for pgid in table.groups_of(self.pgid, self.session):
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _kill0(target: int, kill: Callable[[int, int], None]) -> bool:
    try:
        kill(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_time() -> float:
    """The kernel's boot time (``btime`` of ``/proc/stat``)."""
    with open("/proc/stat", "rb") as fh:
        for line in fh:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")
