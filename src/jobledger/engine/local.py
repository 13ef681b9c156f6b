"""The local backend: jobs as detached process groups on this machine.

Submitting puts an attempt's units (one, or one per array index) in a queue inside the
driver; :meth:`LocalBackend.pump` starts them while the CPU budget allows (the sum of
running units' cpus stays within ``max_parallel``, default the machine's CPU count; an
array's ``max_concurrent`` is honoured). Each unit runs ``job.sh`` in a new process group
(forked by the launcher shell, or ``bash job.sh`` spawned in a new session where there is
no launcher), so it outlives the driver and ``stop`` can signal the whole group. The
launcher keeps the budget itself, so up to :data:`AHEAD` units more are handed to it ahead
of time (their intents are durable already); it starts each the moment CPUs free up,
without waiting for the driver, and a unit counts as running from the start time the
launcher reports. While units the launcher does not know of run (started by an earlier
driver, or spawned directly), nothing is handed ahead: the launcher could not count their
CPUs. The queue is not state: after a crash, units that were submitted but never claimed
are queued again by the next driver, and the wrapper's claim makes sure none runs twice.

A unit runs while any process of its group (or session) is alive, not only its wrapper
(:mod:`jobledger.engine.procs`): a wrapper killed while its task runs leaves a unit that is
neither lost nor final until the task has ended too, and then it is ``lost`` with exit
code unknown and what was seen. Stopping a unit writes its ``cancel`` file first, so
whoever sees it end records ``cancelled`` (or ``timeout``), never a plain failure.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from jobledger.engine.launcher import Launcher, launcher_supported
from jobledger.engine.local_stop import stop_all, stop_before_start, write_stop
from jobledger.engine.local_units import (
    SCRIPT,
    QueuedUnit,
    RunningUnit,
    claim_procs,
    final_update,
    lost_reason,
    read_bytes,
    reap,
)
from jobledger.engine.procs import ProcTable, UnitProcs
from jobledger.engine.types import Unit, Update
from jobledger.engine.wrapper import (
    CLAIM_FILE,
    EXIT_FILE,
    STOP_FILE,
    env_for_index,
    parse_claim,
    parse_exit_file,
    parse_stop,
)
from jobledger.states import JobState

log = logging.getLogger("jobledger")
_Ident = tuple[str, int, "int | None"]

BASH = "/bin/bash"
#: Units handed to the launcher beyond the free CPUs (it starts them as CPUs free up).
AHEAD = 256
_DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
]


class LocalProcesses:
    """Runs units as detached local processes (the machinery of the local backend)."""

    alias: str
    native_dependencies = False

    def __init__(
        self,
        root: Path,
        alias: str = "local",
        max_parallel: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self._on_start = on_start
        self.alias = alias
        self.budget = max_parallel or os.cpu_count() or 1
        self._queue: collections.deque[QueuedUnit] = collections.deque()
        self._queued: set[tuple[str, int, int | None]] = set()
        self._running: dict[tuple[str, int, int | None], RunningUnit] = {}
        self._by_marker: dict[str, tuple[str, int, int | None]] = {}
        self._group_running: collections.Counter[str] = collections.Counter()
        self._used = 0
        self._foreign = 0  # running units not handed to this driver's launcher
        self._cancelled: set[tuple[str, int, int | None]] = set()
        self.timed_out: set[tuple[str, int, int | None]] = set()
        self._launch: Launcher | None = None
        self._launch_failed = False
        self._launch_deaths = 0
        self._pending_pids: dict[str, tuple[str, int, int | None]] = {}
        self._held: list[Update] = []

    def _launcher(self) -> Launcher | None:
        """The shared launcher shell (started on first use; None when unavailable: it
        needs Linux's /proc and bash >= 4.1, and not after it died three times)."""
        if self._launch_failed or os.environ.get("JOBLEDGER_NO_LAUNCHER") or not launcher_supported():
            return None
        if self._launch is not None and not self._launch.alive():
            self._launcher_ended()
            if self._launch_failed:
                return None
        if self._launch is None:
            try:
                self._launch = Launcher(BASH, self.budget, on_start=self._on_start)
            except OSError:
                self._launch_failed = True
                return None
        return self._launch

    def _learn_pids(self) -> list[Update]:
        """RUNNING updates for the units the launcher reported started (with their pids)."""
        if self._launch is None:
            return []
        updates = []
        for token, pid, at in self._launch.started():
            ident = self._pending_pids.pop(token, None)
            run = self._running.get(ident) if ident else None
            if ident is None or run is None or run.announced:
                continue
            run.pid, run.started, run.announced = pid, at, True
            run.procs = UnitProcs(pid, pid, False, at)  # a process group of its own (set -m)
            updates.append(Update(*ident, JobState.RUNNING, source="local", at=at, pid=pid))
        return updates

    def _reports(self) -> list[Update]:
        """RUNNING updates not returned yet (held from a launcher that has gone, then new)."""
        updates = self._held + self._learn_pids()
        self._held = []
        return updates

    def _launcher_ended(self) -> None:
        """The launcher has gone: keep what it reported, queue again what it never started
        (after three deaths jobs are spawned one by one instead)."""
        self._held += self._learn_pids()
        self._launch = None
        self._launch_deaths += 1
        self._launch_failed = self._launch_deaths >= 3
        lost = [ident for ident, run in self._running.items() if not run.announced]
        for ident in reversed(lost):
            item = self._running[ident].queued
            self._untrack(ident)
            self._queued.add(ident)
            self._queue.appendleft(item)
        self._pending_pids.clear()

    def close(self) -> None:
        """Let the launcher go (jobs keep running)."""
        if self._launch is not None:
            self._launch.close()
            self._launch = None

    # ------------------------------------------------------------------ queue
    def enqueue(
        self,
        key: str,
        attempt: int,
        attempt_dir: str,
        indices: tuple[int, ...] | None,
        cpus: int,
        max_concurrent: int | None = None,
    ) -> None:
        """Queue the units of one attempt (idempotent per unit)."""
        path = self.root / attempt_dir
        group = f"{key}:{attempt}"
        for index in indices if indices is not None else (None,):
            ident = (key, attempt, index)
            if ident in self._queued or ident in self._running:
                continue
            self._queued.add(ident)
            self._queue.append(QueuedUnit(key, attempt, index, path, max(1, cpus), group, max_concurrent))
            self._by_marker[self._marker(key, attempt, index)] = ident

    @staticmethod
    def _marker(key: str, attempt: int, index: int | None) -> str:
        base = f"{key[:12]}-{attempt}"
        return base if index is None else f"{base}-{index}"

    @property
    def busy(self) -> bool:
        """True while anything is queued or running here."""
        return bool(self._queue or self._running)

    @property
    def waiting(self) -> bool:
        """True while units wait to start: queued here, or handed to the launcher and not
        reported started (only this process starts them)."""
        return bool(self._queue) or any(not run.announced for run in self._running.values())

    def hand_ahead(self) -> None:
        """Hand queued units to the launcher at once (their intents are durable), so the
        first jobs run while the driver still prepares the rest; what this reports comes
        with the next :meth:`pump` or :meth:`collect`."""
        if self._queue and self._launcher() is not None:
            self._held = self.pump()

    def pump(self) -> list[Update]:
        """Start queued units while the budget allows; returns RUNNING updates."""
        if self._launch is not None and not self._launch.alive():
            self._launcher_ended()
        started = self._reports()
        launcher = self._launcher() if self._queue else None
        # the launcher holds the budget itself: hand it units ahead, unless units it does
        # not know of hold CPUs (it would count them as free)
        ahead = 0
        if launcher is not None and not self._foreign:
            ahead = AHEAD
        skipped: list[QueuedUnit] = []
        while self._queue:
            item = self._queue.popleft()
            ident = (item.key, item.attempt, item.index)
            if ident in self._cancelled:
                self._queued.discard(ident)
                continue
            ahead_ok = len(self._pending_pids) < ahead and launcher is not None and launcher.room()
            fits = self._used + item.cpus <= self.budget or ahead_ok or self._used == 0
            throttled = (
                item.max_concurrent is not None and self._group_running[item.group] >= item.max_concurrent
            )
            if throttled:
                skipped.append(item)
                continue
            if not fits:
                self._queue.appendleft(item)
                break
            update = self._spawn(item)
            if update is not None:
                started.append(update)
        self._queue.extendleft(reversed(skipped))
        return started

    def _spawn(self, item: QueuedUnit) -> Update | None:
        ident = (item.key, item.attempt, item.index)
        self._queued.discard(ident)
        unit = item.unit_dir
        if (unit / CLAIM_FILE).exists():
            # a previous driver started it: watch it instead of starting it again
            claim = parse_claim(read_bytes(unit / CLAIM_FILE))
            now = time.time()
            if claim is None:
                self._track(item, False, 0, now)
            else:
                self._track(item, False, claim.pid, claim.started or now, procs=claim_procs(claim, now))
            return None
        if item.index is not None:
            unit.mkdir(exist_ok=True)
        now = time.time()
        launcher = self._launcher()
        if launcher is not None:
            token = f"{item.key}:{item.attempt}:{'' if item.index is None else item.index}"
            try:
                launcher.launch(token, str(item.attempt_dir / SCRIPT), item.index, item.cpus)
            except OSError:
                launcher = None  # it has gone: start this one directly, next pump sees to the rest
            else:
                self._track(item, False, 0, now, announced=False, launched=True)
                self._pending_pids[token] = (item.key, item.attempt, item.index)
                return None
        env: Mapping[str, str] = os.environ
        if item.index is not None:
            env = {**os.environ, **env_for_index(item.index)}
        # posix_spawn in a new session: the job outlives the driver and its group can be
        # signalled as one; only stdin/stdout/stderr are inherited (PEP 446)
        pid = os.posix_spawn(
            BASH,
            [BASH, str(item.attempt_dir / SCRIPT)],
            env,
            file_actions=_DEVNULL_ACTIONS,
            setsid=True,
        )
        self._track(item, True, pid, now, procs=UnitProcs(pid, pid, True, now))
        return Update(
            item.key,
            item.attempt,
            item.index,
            JobState.RUNNING,
            source="local",
            at=now,
            pid=pid,
        )

    def _track(
        self,
        item: QueuedUnit,
        child: bool,
        pid: int,
        started: float,
        announced: bool = True,
        procs: UnitProcs | None = None,
        launched: bool = False,
    ) -> None:
        ident = (item.key, item.attempt, item.index)
        procs = procs or UnitProcs(pid, pid, False, started)
        self._running[ident] = RunningUnit(item, child, pid, started, procs, announced, launched)
        self._used += item.cpus
        self._foreign += not launched
        self._group_running[item.group] += 1

    def _untrack(self, ident: tuple[str, int, int | None]) -> None:
        run = self._running.pop(ident, None)
        if run is not None:
            self._used -= run.queued.cpus
            self._foreign -= not run.launched
            self._group_running[run.queued.group] -= 1
            if run.child:
                reap(run.pid)

    # ------------------------------------------------------------------ observe
    def adopt(self, unit: Unit, queue: bool = True) -> None:
        """Watch a unit started by an earlier driver (or, with ``queue``, queue it if it
        never started)."""
        path = self.root / unit.unit_dir
        ident = unit.ident
        if ident in self._running or ident in self._queued:
            return
        self._by_marker[self._marker(unit.key, unit.attempt, unit.index)] = ident
        claim = parse_claim(read_bytes(path / CLAIM_FILE))
        item = QueuedUnit(
            unit.key,
            unit.attempt,
            unit.index,
            self.root / unit.attempt_dir,
            1,
            f"{unit.key}:{unit.attempt}",
            None,
            adopted=True,
        )
        if claim is None and parse_exit_file(read_bytes(path / EXIT_FILE)) is None:
            if not queue:
                return
            self._queued.add(ident)
            self._queue.append(item)
            return
        now = time.time()
        if claim is None:
            self._track(item, False, 0, now)
        else:
            self._track(item, False, claim.pid, claim.started or now, procs=claim_procs(claim, now))
            running = claim.pid > 0 and parse_exit_file(read_bytes(path / EXIT_FILE)) is None
            if running and unit.state.rank < JobState.RUNNING.rank:
                # started by a driver that died before it recorded so: say it runs
                at = claim.started or now
                self._held.append(Update(*ident, JobState.RUNNING, source="local", at=at, pid=claim.pid))

    def collect(self, markers: list[str], full: bool) -> list[Update]:
        """Final updates for units that ended: those named by ``markers``, or (``full``)
        every running unit whose wrapper is gone, looked at in one pass over ``/proc``
        (RUNNING updates for units the launcher has started come first)."""
        updates = self._reports()
        candidates: set[tuple[str, int, int | None]] = set()
        for name in markers:
            ident = self._by_marker.get(name)
            if ident is not None and ident in self._running:
                candidates.add(ident)
        table = ProcTable.scan() if full else None
        if table is not None:
            for ident, run in self._running.items():
                if not run.announced:
                    continue  # the launcher has not started it yet
                if run.child:
                    reap(run.pid)
                if not run.procs.leader_alive(table):
                    candidates.add(ident)
        for ident in candidates:
            update = self._finished(ident, table)
            if update is not None:
                updates.append(update)
        return updates

    def _finished(self, ident: tuple[str, int, int | None], table: ProcTable | None) -> Update | None:
        """The final update of a unit that may have ended; with ``table`` (a look at every
        process) also of one that ended without an exit record, once none of its
        processes is left."""
        run = self._running[ident]
        item = run.queued
        unit = item.unit_dir
        record = parse_exit_file(read_bytes(unit / EXIT_FILE))
        if record is None:
            claim = parse_claim(read_bytes(unit / CLAIM_FILE))
            if claim is not None and claim.pid > 0 and claim.pid != run.pid:
                # our wrapper lost the claim to one started earlier: watch that one
                if run.child:
                    reap(run.pid)
                started = claim.started or run.started
                self._foreign += run.launched  # run by another process: the launcher does not know it
                run = RunningUnit(item, False, claim.pid, started, claim_procs(claim, started))
                self._running[ident] = run
            if table is None:
                return None
            if run.child:
                reap(run.pid)
            if run.procs.alive(table):
                return None  # its wrapper may be gone, its task is not
            record = parse_exit_file(read_bytes(unit / EXIT_FILE))  # it may have just finished
            if record is None:
                return self._ended_unrecorded(ident, run, table)
        self._untrack(ident)
        self._by_marker.pop(self._marker(*ident), None)
        stop = ""
        if record.signal and not record.stop:
            found = parse_stop(read_bytes(unit / STOP_FILE))  # stopped before its trap was set
            stop = found[0] if found else ""
        update = final_update(item.key, item.attempt, item.index, record, ident in self._cancelled, stop)
        if ident in self.timed_out and update.state is not JobState.COMPLETED:
            update = attrs.evolve(update, state=JobState.TIMEOUT, reason="time limit reached")
        return update

    def _ended_unrecorded(self, ident: _Ident, run: RunningUnit, table: ProcTable) -> Update:
        """Every process of the unit is gone and it left no exit record: say what is known."""
        self._untrack(ident)
        self._by_marker.pop(self._marker(*ident), None)
        item = run.queued
        stop = parse_stop(read_bytes(item.unit_dir / STOP_FILE))
        unrecorded = "killed before it could record an exit code"
        if ident in self.timed_out or (stop and stop[0] == JobState.TIMEOUT.value):
            state, reason = JobState.TIMEOUT, f"time limit reached; {unrecorded}"
        elif ident in self._cancelled or stop:
            why = (stop and stop[1]) or "cancelled on request"
            state, reason = JobState.CANCELLED, f"{why}; {unrecorded}"
        else:
            state, reason = JobState.LOST, lost_reason(run, table)
        return Update(*ident, state, reason=reason, source="local", at=table.done_at)

    def running_units(self) -> list[tuple[tuple[str, int, int | None], int, float]]:
        """``(ident, pid, started)`` of every running unit (not those the launcher has
        yet to start)."""
        return [(i, r.pid, r.started) for i, r in self._running.items() if r.announced]

    # ------------------------------------------------------------------ cancel
    def cancel(self, idents: list[tuple[str, int, int | None]], grace: float = 5.0) -> list[Update]:
        """Stop units: write each one's ``cancel`` file (the evidence every observer
        reads), SIGTERM all its processes, SIGKILL after ``grace``; dequeue the rest."""
        updates = self._reports()
        targets: list[UnitProcs] = []
        for ident in idents:
            self._cancelled.add(ident)
            if ident in self.timed_out:
                stop = (JobState.TIMEOUT.value, "time limit reached")
            else:
                stop = (JobState.CANCELLED.value, f"cancelled on request (by process {os.getpid()})")
            if ident in self._queued:
                item = next(q for q in self._queue if (q.key, q.attempt, q.index) == ident)
                self._queued.discard(ident)
                self._queue.remove(item)
                claim = stop_before_start(item, stop) if item.adopted else None
                if claim is None:
                    reason = "cancelled before it started"
                    updates.append(Update(*ident, JobState.CANCELLED, reason=reason, source="local"))
                    continue
                # another process had started it meanwhile: watch it and stop it
                now = time.time()
                self._track(item, False, claim.pid, claim.started or now, procs=claim_procs(claim, now))
            run = self._running.get(ident)
            if run is not None and not run.announced:
                claim = stop_before_start(run.queued, stop)
                if claim is None:
                    self._untrack(ident)
                    self._by_marker.pop(self._marker(*ident), None)
                    reason = "cancelled before it started"
                    updates.append(Update(*ident, JobState.CANCELLED, reason=reason, source="local"))
                    continue
                run.pid, run.announced = claim.pid, True
                run.procs = claim_procs(claim, run.started)
            if run is not None and run.procs.pgid > 0:
                write_stop(run.queued.unit_dir, *stop)
                targets.append(run.procs)
        if targets:
            stop_all(targets, grace)
        return updates
