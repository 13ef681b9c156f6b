"""The driver: observe the backends, plan, and carry the plan out — write-ahead.

One :meth:`Driver.step` does, for the workflows it is told to drive:

1. read what other processes appended to the ledger;
2. ask the backends about the active units (completion markers say which local ones
   ended; schedulers are polled per host, once per interval) and record what changed;
3. :func:`~jobledger.engine.planner.plan` the jobs that moved, and carry the commands out
   (:mod:`.actions`): every side effect — spawning, ``sbatch``, ``scancel`` — comes after a
   durable intent, its outcome is recorded after it;
4. let the local backend start what its CPU budget allows.

It keeps no state machine of its own: what it knows of a job is the ledger's read model.
The driver lock (one driver per workflow) is the session's business; the driver acts for
the workflows it is handed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable

import attrs

from jobledger.config import Config
from jobledger.engine.actions import Actions
from jobledger.engine.active_counts import ActiveCounts
from jobledger.engine.backend import Backend
from jobledger.engine.backends import ConfigFiles, make_backend
from jobledger.engine.observing import observe
from jobledger.engine.planner import HostView, plan
from jobledger.engine.scope import Scope
from jobledger.engine.watch import FolderWatch
from jobledger.errors import JobledgerError
from jobledger.ledger.state import Phase, job_phase
from jobledger.project import Project

log = logging.getLogger("jobledger")

#: Seconds between full cycles (every open job looked at again).
FULL_CYCLE = 3.0
#: Seconds between looks at every local unit's processes (completion markers say sooner).
LOCAL_FULL_CHECK = 1.0
#: Minimum seconds between reads of other writers' segments.
REFRESH_EVERY = 0.25


@attrs.define
class StepReport:
    """What one step saw and did."""

    submitted: int = 0
    updates: int = 0
    final: dict[str, bool] = attrs.field(factory=dict)
    """Workflow name -> every job of it final."""
    needs_driver: dict[str, bool] = attrs.field(factory=dict)
    """Workflow name -> something is left that only a driver can do."""
    wake_at: float | None = None
    unsubmittable: list[str] = attrs.field(factory=list)


class Driver:
    """Drives the workflows of one project from this process."""

    def __init__(
        self,
        project: Project,
        *,
        config: Config | None = None,
        max_parallel: int | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.project = project
        self.ledger = project.ledger
        self.log = logger or log
        self.max_parallel = max_parallel
        self._fixed_config = config
        self._config = ConfigFiles(project)
        self.backends: dict[str, Backend] = {}
        self.scopes: dict[str, Scope] = {}
        self.mutex = threading.RLock()
        self._watch: FolderWatch | None = None
        self._last_refresh = 0.0
        self._last_full_local = 0.0
        self._changed: set[str] | None = None  # None: any record may have changed
        self.active = ActiveCounts()
        self.actions = Actions(self)

    # ------------------------------------------------------------------ configuration
    @property
    def config(self) -> Config:
        """The configuration, read again when one of its files changed."""
        if self._fixed_config is not None:
            return self._fixed_config
        return self._config.current()

    # ------------------------------------------------------------------ backends
    def backend(self, alias: str) -> Backend:
        """The backend of host ``alias`` (created on first use)."""
        with self.mutex:
            found = self.backends.get(alias)
            if found is None:
                found = make_backend(self.project, self.config, alias, self.max_parallel, self.watch.poke)
                self.backends[alias] = found
            return found

    def host_views(self, scopes: Iterable[Scope]) -> dict[str, HostView]:
        """What the planner must know of each host in use, with its active counts."""
        active = self.active.of(self.ledger.model, list(scopes))
        for alias in self.active.hosts_in_use - self.backends.keys():  # its limits count from the first plan
            try:
                self.backend(alias)
            except JobledgerError:
                pass  # said when a job is submitted there
        views = {}
        for alias, backend in self.backends.items():
            views[alias] = attrs.evolve(backend.view(), active=active.get(alias, 0))
        return views

    @property
    def watch(self) -> FolderWatch:
        """Wakes the driver when a job touches its completion marker."""
        if self._watch is None:
            self._watch = FolderWatch(self.project.markers_dir)
            self._watch.start()
        return self._watch

    # ------------------------------------------------------------------ scopes
    def scope(self, name: str) -> Scope | None:
        """The scope of workflow ``name``, rebuilt when its definitions changed."""
        model = self.ledger.model
        record = model.workflows.get(name)
        if record is None:
            return None
        current = frozenset(d.id for d in record.current())
        found = self.scopes.get(name)
        if found is None or found.definitions != current:
            found = Scope.build(model, name)
            if found is None:
                self.scopes.pop(name, None)
                return None
            found.full_at = time.monotonic()  # build() read every job: no second full pass now
            self.scopes[name] = found
        return found

    # ------------------------------------------------------------------ one step
    def step(self, drive: Collection[str], watch: Collection[str] = ()) -> StepReport:
        """Observe ``drive`` and ``watch`` workflows; plan and act for ``drive`` ones."""
        with self.mutex:
            report = StepReport()
            now = time.monotonic()
            changed = self._refresh(now)
            names = [*drive, *(n for n in watch if n not in drive)]
            scopes = [s for n in names if (s := self.scope(n)) is not None]
            if changed:
                self._changed = None  # other writers: any record may have moved
            for scope in scopes:
                if changed or now - scope.full_at >= FULL_CYCLE:
                    self.active.forget()
                    scope.full_at = now
                    scope.refresh(self.ledger.model, [*scope.order, *scope.watch_only])
                    scope.dirty |= scope.open
            markers = self.watch.drain()
            full_local = now - self._last_full_local >= LOCAL_FULL_CHECK
            if full_local:
                self._last_full_local = now
            driving = [s for s in scopes if s.name in drive]
            report.updates += observe(
                self, driving, [s for s in scopes if s.name not in drive], markers, full_local or changed
            )
            for _round in range(50):  # decisions can unblock downstream jobs: repeat
                wanted = {s.name: s.sorted(s.dirty & s.open) for s in driving}
                for scope in driving:
                    scope.dirty.clear()
                keys = [k for ks in wanted.values() for k in ks]
                if not keys:
                    break
                decided = plan(self.ledger.model, keys, time.time(), self.host_views(driving))
                if decided.wake_at is not None:
                    report.wake_at = min(report.wake_at or decided.wake_at, decided.wake_at)
                report.unsubmittable = sorted(set(report.unsubmittable) | set(decided.unsubmittable))
                if not decided.commands:
                    break
                touched, submitted = self.actions.carry_out(decided.commands, driving)
                report.submitted += submitted
                self.replan(driving, touched)
            for alias, backend in list(self.backends.items()):
                started = backend.tick()
                if started:
                    report.updates += self.actions.record_updates(started, alias)
                    self.replan(scopes, {u.key for u in started})
            self.ledger.flush()
            for scope in scopes:
                report.final[scope.name] = scope.final
                report.needs_driver[scope.name] = self._needs_driver(scope)
            return report

    def _refresh(self, now: float) -> bool:
        """Read other writers' new events (rate limited); True when there were some."""
        if now - self._last_refresh < REFRESH_EVERY:
            return False
        self._last_refresh = now
        return self.ledger.refresh() > 0

    def replan(self, scopes: Iterable[Scope], keys: set[str]) -> None:
        """Re-read the records of ``keys`` in each scope holding them, and plan them (and
        what depends on them) again."""
        if self._changed is not None:
            self._changed |= keys
        model = self.ledger.model
        for scope in scopes:
            mine = {k for k in keys if k in scope.position or k in scope.open or k in scope.down}
            if mine:
                scope.refresh(model, mine)
                scope.touch(mine)
                if scope.name in self.active.names:
                    self.active.note(self.ledger.model, mine)

    def _needs_driver(self, scope: Scope) -> bool:
        if any(b.waiting for b in self.backends.values()):
            return True
        jobs = self.ledger.model.jobs
        for key in scope.open:
            job = jobs.get(key)
            if job is None or key not in scope.position:
                continue
            phase = job_phase(job)[0]
            if phase in (Phase.PENDING, Phase.RECONCILE, Phase.FAILURE):
                return True
        return False

    def changes(self) -> set[str] | None:
        """The keys whose records this driver changed since the last call; ``None`` when
        any record may have changed (other writers' events were read, or a verb ran), so
        that a waiter re-reads only what moved."""
        with self.mutex:
            changed, self._changed = self._changed, set()
            return changed

    def forget_changes(self) -> None:
        """Say that any record may have changed (see :meth:`changes`)."""
        self._changed = None
        self.active.forget()

    # ------------------------------------------------------------------ verbs
    def cancel(self, keys: Collection[str], *, grace: float = 5.0, reason: str = "") -> list[str]:
        """Cancel jobs for good: active ones are stopped at their backend, pending ones never
        start, no retry follows (until an explicit re-run or retry)."""
        with self.mutex:
            self.forget_changes()
            return self.actions.cancel(keys, grace=grace, reason=reason)

    def fetch(self, keys: Collection[str]) -> int:
        """Bring remote attempts' run-directory files home; returns files fetched."""
        with self.mutex:
            self.forget_changes()
            return self.actions.fetch(keys)

    def wait_for_change(self, timeout: float) -> None:
        """Sleep until a job touches its marker, a launcher reports, or ``timeout``."""
        self.watch.wait(max(0.0, timeout))

    def close(self) -> None:
        """Stop watching, close backends (jobs keep running), flush the ledger."""
        with self.mutex:
            if self._watch is not None:
                self._watch.stop()
                self._watch = None
            for backend in self.backends.values():
                try:
                    backend.close()
                except Exception as exc:
                    self.log.debug("closing %s: %s", backend.alias, exc)
            self.backends.clear()
            self.ledger.flush(durable=True)


__all__ = ["Driver", "StepReport"]
