"""The local backend: jobs as detached process groups on this machine.

Submitting puts an attempt's units (one, or one per array index) in a queue inside the
driver; :meth:`LocalBackend.pump` starts them while the CPU budget allows (the sum of
running units' cpus stays within ``max_parallel``, default the machine's CPU count; an
array's ``max_concurrent`` is honoured). Each unit runs ``job.sh`` in a new process group
(forked by the launcher shell, or ``bash job.sh`` spawned in a new session where there is
no launcher), so it outlives the driver and ``stop`` can signal the whole group. The
launcher keeps the budget itself, so up to
:data:`~jobledger.engine.local_launch.AHEAD` units more are handed to it ahead
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
Seeing units end is :mod:`jobledger.engine.local_ends`; stopping them,
:mod:`jobledger.engine.local_stop`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from jobledger.engine.direct import DirectStart
from jobledger.engine.local_book import Ident, UnitBook
from jobledger.engine.local_ends import collect_ends
from jobledger.engine.local_launch import BASH, LauncherLink
from jobledger.engine.local_stop import cancel_units
from jobledger.engine.local_units import SCRIPT, QueuedUnit, read_bytes
from jobledger.engine.procs import UnitProcs
from jobledger.engine.types import Unit, Update
from jobledger.engine.unit_files import CLAIM_FILE, EXIT_FILE, parse_claim, parse_exit_file
from jobledger.engine.wrapper import env_for_index
from jobledger.states import JobState

log = logging.getLogger("jobledger")

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
        self.alias = alias
        self.budget = max_parallel or os.cpu_count() or 1
        self._book = UnitBook()
        self._link = LauncherLink(self._book, self.budget, on_start)
        self.timed_out = self._book.timed_out

    def close(self) -> None:
        """Let the launcher go (jobs keep running)."""
        self._link.close()

    # ------------------------------------------------------------------ queue
    def enqueue(
        self,
        key: str,
        attempt: int,
        attempt_dir: str,
        indices: tuple[int, ...] | None,
        cpus: int,
        max_concurrent: int | None = None,
        direct: DirectStart | None = None,
    ) -> None:
        """Queue the units of one attempt (idempotent per unit); ``direct``: its task, to
        start without a shell where the supervisor runs."""
        path = self.root / attempt_dir
        group = f"{key}:{attempt}"
        cpus = max(1, cpus)
        for index in indices if indices is not None else (None,):
            item = QueuedUnit(key, attempt, index, path, cpus, group, max_concurrent, direct=direct)
            self._book.enqueue(item)

    @property
    def busy(self) -> bool:
        """True while anything is queued or running here."""
        return self._book.busy

    @property
    def waiting(self) -> bool:
        """True while units wait to start: queued here, or handed to the launcher and not
        reported started (only this process starts them)."""
        return self._book.waiting

    def hand_ahead(self) -> None:
        """Hand queued units to the launcher at once (their intents are durable), so the
        first jobs run while the driver still prepares the rest; what this reports comes
        with the next :meth:`pump` or :meth:`collect`."""
        if self._book.queue and self._link.launcher() is not None:
            self._link.hold(self.pump())

    def pump(self) -> list[Update]:
        """Start queued units while the budget allows; returns RUNNING updates."""
        book = self._book
        self._link.check()
        started = self._link.reports()
        launcher = self._link.launcher() if book.queue else None
        # the launcher holds the budget itself: hand it units ahead, unless units it does
        # not know of hold CPUs (it would count them as free)
        ahead = launcher is not None and not book.foreign
        skipped: list[QueuedUnit] = []
        while book.queue:
            item = book.queue.popleft()
            ident = (item.key, item.attempt, item.index)
            if ident in book.cancelled:
                book.queued.discard(ident)
                continue
            ahead_ok = ahead and launcher is not None and self._link.may_hand_ahead(launcher)
            fits = book.used + item.cpus <= self.budget or ahead_ok or book.used == 0
            if book.throttled(item):
                skipped.append(item)
                continue
            if not fits:
                book.queue.appendleft(item)
                break
            update = self._spawn(item)
            if update is not None:
                started.append(update)
        book.queue.extendleft(reversed(skipped))
        return started

    def _spawn(self, item: QueuedUnit) -> Update | None:
        ident = (item.key, item.attempt, item.index)
        self._book.queued.discard(ident)
        unit = item.unit_dir
        if (unit / CLAIM_FILE).exists():
            # a previous driver started it: watch it instead of starting it again
            self._book.track_claimed(item, parse_claim(read_bytes(unit / CLAIM_FILE)), time.time())
            return None
        if item.index is not None:
            unit.mkdir(exist_ok=True)
        now = time.time()
        launcher = self._link.launcher()
        if launcher is not None and self._link.hand(launcher, item, now):
            return None  # else it has gone: start this one directly, next pump sees to the rest
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
        self._book.track(item, True, pid, now, procs=UnitProcs(pid, pid, True, now))
        return Update(*ident, JobState.RUNNING, source="local", at=now, pid=pid)

    # ------------------------------------------------------------------ observe
    def adopt(self, unit: Unit, queue: bool = True) -> None:
        """Watch a unit started by an earlier driver (or, with ``queue``, queue it if it
        never started)."""
        path = self.root / unit.unit_dir
        ident = unit.ident
        if self._book.knows(ident):
            return
        self._book.watch_marker(ident)
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
            if queue:
                self._book.enqueue(item)
            return
        now = time.time()
        self._book.track_claimed(item, claim, now)
        if claim is None:
            return
        running = claim.pid > 0 and parse_exit_file(read_bytes(path / EXIT_FILE)) is None
        if running and unit.state.rank < JobState.RUNNING.rank:
            # started by a driver that died before it recorded so: say it runs
            at = claim.started or now
            self._link.hold([Update(*ident, JobState.RUNNING, source="local", at=at, pid=claim.pid)])

    def collect(self, markers: list[str], full: bool) -> list[Update]:
        """Final updates for units that ended: those named by ``markers``, or (``full``)
        every running unit whose wrapper is gone, looked at in one pass over ``/proc``
        (RUNNING updates for units the launcher has started come first)."""
        updates = self._link.reports()
        return updates + collect_ends(self._book, markers, self._link.ended(), full)

    def running_units(self) -> list[tuple[Ident, int, float]]:
        """``(ident, pid, started)`` of every running unit (not those the launcher has
        yet to start)."""
        return [(i, r.pid, r.started) for i, r in self._book.running.items() if r.announced]

    # ------------------------------------------------------------------ cancel
    def cancel(self, idents: list[Ident], grace: float = 5.0) -> list[Update]:
        """Stop units: write each one's ``cancel`` file (the evidence every observer
        reads), SIGTERM all its processes, SIGKILL after ``grace``; dequeue the rest."""
        return self._link.reports() + cancel_units(self._book, idents, grace)
