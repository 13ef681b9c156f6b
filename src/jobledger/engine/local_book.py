"""The driver's book of local units: which wait in its queue, which run, and the CPUs
they hold.

A unit is ``(key, attempt, index)``. It is either queued here (not handed to anyone yet)
or tracked as running (started by this driver, handed to the launcher and not reported
started yet, or adopted from an earlier driver). The book counts the CPUs tracked units
hold and how many of them the launcher does not know of, and maps the completion
markers the wrappers touch back to units. It starts and observes nothing itself.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from jobledger.engine.local_units import QueuedUnit, RunningUnit, claim_procs, reap
from jobledger.engine.procs import UnitProcs
from jobledger.engine.unit_files import Claim

Ident = tuple[str, int, "int | None"]


def marker_name(key: str, attempt: int, index: int | None) -> str:
    """The name of the completion marker a unit's wrapper touches when it ends."""
    base = f"{key[:12]}-{attempt}"
    return base if index is None else f"{base}-{index}"


class UnitBook:
    """Queued and running local units, with the CPUs they hold."""

    def __init__(self) -> None:
        self.queue: collections.deque[QueuedUnit] = collections.deque()
        self.queued: set[Ident] = set()
        self.running: dict[Ident, RunningUnit] = {}
        self.cancelled: set[Ident] = set()
        self.timed_out: set[Ident] = set()
        self.used = 0
        """CPUs held by tracked units."""
        self.foreign = 0
        """Tracked units the launcher does not know of (it would count their CPUs free)."""
        self._by_marker: dict[str, Ident] = {}
        self._group_running: collections.Counter[str] = collections.Counter()

    @property
    def busy(self) -> bool:
        """True while anything is queued or running."""
        return bool(self.queue or self.running)

    @property
    def waiting(self) -> bool:
        """True while units wait to start: queued, or handed to the launcher and not
        reported started."""
        return bool(self.queue) or any(not run.announced for run in self.running.values())

    def knows(self, ident: Ident) -> bool:
        """True when the unit is queued or running here."""
        return ident in self.queued or ident in self.running

    def enqueue(self, item: QueuedUnit) -> None:
        """Queue one unit at the end (idempotent)."""
        ident = (item.key, item.attempt, item.index)
        if self.knows(ident):
            return
        self.queued.add(ident)
        self.queue.append(item)
        self.watch_marker(ident)

    def watch_marker(self, ident: Ident) -> None:
        """Map the unit's completion marker to it."""
        self._by_marker[marker_name(*ident)] = ident

    def requeue_first(self, idents: Iterable[Ident]) -> None:
        """Put tracked units that never started back at the head of the queue, in order."""
        for ident in reversed(list(idents)):
            item = self.running[ident].queued
            self.untrack(ident)
            self.queued.add(ident)
            self.queue.appendleft(item)

    def dequeue(self, ident: Ident) -> QueuedUnit:
        """Take a queued unit out of the queue."""
        item = next(q for q in self.queue if (q.key, q.attempt, q.index) == ident)
        self.queued.discard(ident)
        self.queue.remove(item)
        return item

    def throttled(self, item: QueuedUnit) -> bool:
        """True when the unit's array already runs ``max_concurrent`` elements."""
        return item.max_concurrent is not None and self._group_running[item.group] >= item.max_concurrent

    def track(
        self,
        item: QueuedUnit,
        child: bool,
        pid: int,
        started: float,
        announced: bool = True,
        procs: UnitProcs | None = None,
        launched: bool = False,
    ) -> RunningUnit:
        """Count a unit as running (``launched``: handed to this driver's launcher)."""
        ident = (item.key, item.attempt, item.index)
        procs = procs or UnitProcs(pid, pid, False, started)
        run = RunningUnit(item, child, pid, started, procs, announced, launched)
        self.running[ident] = run
        self.used += item.cpus
        self.foreign += not launched
        self._group_running[item.group] += 1
        return run

    def track_claimed(self, item: QueuedUnit, claim: Claim | None, now: float) -> RunningUnit:
        """Count as running a unit another process claimed: watch the claimant (nothing
        to watch when its claim is unreadable)."""
        if claim is None:
            return self.track(item, False, 0, now)
        return self.track(item, False, claim.pid, claim.started or now, procs=claim_procs(claim, now))

    def replace(self, ident: Ident, run: RunningUnit) -> None:
        """Watch another process for a tracked unit (one that claimed it first)."""
        old = self.running[ident]
        self.foreign += old.launched and not run.launched
        self.running[ident] = run

    def disown_launched(self) -> None:
        """Count units a launcher that has gone started as unknown to the next one (it
        would count their CPUs free)."""
        for run in self.running.values():
            if run.launched:
                run.launched = False
                self.foreign += 1

    def untrack(self, ident: Ident) -> None:
        """Stop counting a unit as running (reaping its process if it is our child)."""
        run = self.running.pop(ident, None)
        if run is not None:
            self.used -= run.queued.cpus
            self.foreign -= not run.launched
            self._group_running[run.queued.group] -= 1
            if run.child:
                reap(run.pid)

    def settle(self, ident: Ident) -> None:
        """Forget a unit that has ended."""
        self.untrack(ident)
        self._by_marker.pop(marker_name(*ident), None)

    def running_of_markers(self, names: Iterable[str]) -> set[Ident]:
        """The running units the named completion markers belong to."""
        found = set()
        for name in names:
            ident = self._by_marker.get(name)
            if ident is not None and ident in self.running:
                found.add(ident)
        return found
