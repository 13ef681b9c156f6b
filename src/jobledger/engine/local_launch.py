"""The driver's side of the launcher: hand units to it, learn when they started.

The launcher is the supervisor process (:mod:`jobledger.engine.supervising`), which starts
simple units without a shell, or where that is turned off (``JOBLEDGER_NO_SUPERVISOR``)
the launcher shell (:mod:`jobledger.engine.launcher`); it is started on first use. A unit
handed to it is tracked as running but not *announced* until the launcher reports its pid
and start time; only then does the driver record it running. When the launcher dies, what
it reported is kept and what it never started is queued again; after three deaths (or
where there is none: not Linux, bash < 4.1, ``JOBLEDGER_NO_LAUNCHER`` set) units are
spawned one by one instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from jobledger.engine.launcher import Launcher, launcher_supported
from jobledger.engine.local_book import Ident, UnitBook
from jobledger.engine.local_units import SCRIPT, QueuedUnit, RunningUnit, claim_procs, read_bytes
from jobledger.engine.procs import UnitProcs
from jobledger.engine.supervising import Supervisor, supervisor_supported
from jobledger.engine.types import Update
from jobledger.engine.unit_files import CLAIM_FILE, parse_claim
from jobledger.states import JobState

BASH = "/bin/bash"
#: Units handed to the launcher beyond the free CPUs (it starts them as CPUs free up).
AHEAD = 256


class LauncherLink:
    """Hands units of ``book`` to one launcher shell and turns its reports into
    RUNNING updates."""

    def __init__(self, book: UnitBook, budget: int, on_start: Callable[[], None] | None = None) -> None:
        self._book = book
        self._budget = budget
        self._on_start = on_start
        self._launch: Launcher | Supervisor | None = None
        self._failed = False
        self._deaths = 0
        self._pending: dict[str, Ident] = {}  # token -> unit handed and not reported started
        self._held: list[Update] = []
        self._ends: list[str] = []  # reported by a supervisor that has gone, not collected yet

    def launcher(self) -> Launcher | Supervisor | None:
        """The launcher (started on first use; None when unavailable)."""
        if self._failed or os.environ.get("JOBLEDGER_NO_LAUNCHER"):
            return None
        if self._launch is not None and not self._launch.alive():
            self._ended()
            if self._failed:
                return None
        if self._launch is None:
            self._launch = self._start()
            self._failed = self._launch is None
        return self._launch

    def _start(self) -> Launcher | Supervisor | None:
        """The supervisor, else (turned off, or it cannot start) the launcher shell."""
        if supervisor_supported() and not os.environ.get("JOBLEDGER_NO_SUPERVISOR"):
            try:
                return Supervisor(self._budget, on_start=self._on_start)
            except OSError:
                pass
        if launcher_supported():
            try:
                return Launcher(BASH, self._budget, on_start=self._on_start)
            except OSError:
                pass
        return None

    def check(self) -> None:
        """Notice a launcher that has gone (queueing again what it never started)."""
        if self._launch is not None and not self._launch.alive():
            self._ended()

    def may_hand_ahead(self, launcher: Launcher | Supervisor) -> bool:
        """True while one more unit may be handed beyond the free CPUs."""
        return len(self._pending) < AHEAD and launcher.room()

    def hand(self, launcher: Launcher | Supervisor, item: QueuedUnit, now: float) -> bool:
        """Hand ``item`` to the launcher and track it; False when the launcher has gone."""
        token = f"{item.key}:{item.attempt}:{'' if item.index is None else item.index}"
        script = str(item.attempt_dir / SCRIPT)
        try:
            if isinstance(launcher, Supervisor):
                direct = item.direct.for_unit(str(item.unit_dir), item.index) if item.direct else None
                launcher.launch(token, script, item.index, item.cpus, direct)
            else:
                launcher.launch(token, script, item.index, item.cpus)
        except OSError:
            return False
        self._book.track(item, False, 0, now, announced=False, launched=True)
        self._pending[token] = (item.key, item.attempt, item.index)
        return True

    def reports(self) -> list[Update]:
        """RUNNING updates not returned yet (held from a launcher that has gone, then new)."""
        updates = self._held + self._learn()
        self._held = []
        return updates

    def ended(self) -> list[str]:
        """Completion markers the supervisor reported instead of creating them."""
        launch, ends = self._launch, self._ends
        self._ends = []
        return ends + launch.ended() if isinstance(launch, Supervisor) else ends

    def hold(self, updates: list[Update]) -> None:
        """Keep updates to return with the next :meth:`reports`."""
        self._held.extend(updates)

    def close(self) -> None:
        """Let the launcher go (jobs keep running)."""
        if self._launch is not None:
            self._launch.close()
            self._launch = None

    def _learn(self) -> list[Update]:
        if self._launch is None:
            return []
        updates = []
        launch = self._launch
        for token, reported, when in launch.started():
            pid, at = reported, when
            ident = self._pending.pop(token, None)
            run = self._book.running.get(ident) if ident else None
            if ident is None or run is None or run.announced:
                continue
            if pid < 0:
                # claimed by another process first, or stopped before it started: watch
                # what its claim names (its exit record may be there already)
                claim = parse_claim(read_bytes(run.queued.unit_dir / CLAIM_FILE))
                if claim is None or claim.pid <= 0:
                    run.pid, run.started, run.announced = 0, at, True
                    run.procs = UnitProcs(0, 0, False, at)
                    continue
                started = claim.started or at
                claimant = RunningUnit(run.queued, False, claim.pid, started, claim_procs(claim, at))
                self._book.replace(ident, claimant)
                pid, at = claim.pid, started
            else:
                run.pid, run.started, run.announced = pid, at, True
                keeper = launch.keeper if isinstance(launch, Supervisor) and run.queued.direct else None
                run.procs = UnitProcs(pid, pid, False, at, keeper=keeper)  # a process group of its own
            updates.append(Update(*ident, JobState.RUNNING, source="local", at=at, pid=pid))
        return updates

    def _ended(self) -> None:
        self._held += self._learn()
        self._ends += self.ended()
        self._launch = None
        self._deaths += 1
        self._failed = self._deaths >= 3
        self._book.requeue_first(ident for ident, run in self._book.running.items() if not run.announced)
        self._pending.clear()
        self._book.disown_launched()  # the next launcher does not know of what still runs
