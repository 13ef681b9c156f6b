"""The driver's side of the launcher shell: hand units to it, learn when they started.

The launcher (:mod:`jobledger.engine.launcher`) is started on first use. A unit handed to
it is tracked as running but not *announced* until the launcher reports its pid and
start time; only then does the driver record it running. When the launcher dies, what
it reported is kept and what it never started is queued again; after three deaths (or
where there is none: not Linux, bash < 4.1, ``JOBLEDGER_NO_LAUNCHER`` set) units are
spawned one by one instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from jobledger.engine.launcher import Launcher, launcher_supported
from jobledger.engine.local_book import Ident, UnitBook
from jobledger.engine.local_units import SCRIPT, QueuedUnit
from jobledger.engine.procs import UnitProcs
from jobledger.engine.types import Update
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
        self._launch: Launcher | None = None
        self._failed = False
        self._deaths = 0
        self._pending: dict[str, Ident] = {}  # token -> unit handed and not reported started
        self._held: list[Update] = []

    def launcher(self) -> Launcher | None:
        """The launcher (started on first use; None when unavailable)."""
        if self._failed or os.environ.get("JOBLEDGER_NO_LAUNCHER") or not launcher_supported():
            return None
        if self._launch is not None and not self._launch.alive():
            self._ended()
            if self._failed:
                return None
        if self._launch is None:
            try:
                self._launch = Launcher(BASH, self._budget, on_start=self._on_start)
            except OSError:
                self._failed = True
                return None
        return self._launch

    def check(self) -> None:
        """Notice a launcher that has gone (queueing again what it never started)."""
        if self._launch is not None and not self._launch.alive():
            self._ended()

    def may_hand_ahead(self, launcher: Launcher) -> bool:
        """True while one more unit may be handed beyond the free CPUs."""
        return len(self._pending) < AHEAD and launcher.room()

    def hand(self, launcher: Launcher, item: QueuedUnit, now: float) -> bool:
        """Hand ``item`` to the launcher and track it; False when the launcher has gone."""
        token = f"{item.key}:{item.attempt}:{'' if item.index is None else item.index}"
        try:
            launcher.launch(token, str(item.attempt_dir / SCRIPT), item.index, item.cpus)
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
        for token, pid, at in self._launch.started():
            ident = self._pending.pop(token, None)
            run = self._book.running.get(ident) if ident else None
            if ident is None or run is None or run.announced:
                continue
            run.pid, run.started, run.announced = pid, at, True
            run.procs = UnitProcs(pid, pid, False, at)  # a process group of its own (set -m)
            updates.append(Update(*ident, JobState.RUNNING, source="local", at=at, pid=pid))
        return updates

    def _ended(self) -> None:
        self._held += self._learn()
        self._launch = None
        self._deaths += 1
        self._failed = self._deaths >= 3
        self._book.requeue_first(ident for ident, run in self._book.running.items() if not run.announced)
        self._pending.clear()
