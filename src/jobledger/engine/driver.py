"""The engine: plan -> submit -> observe -> reconcile, with write-ahead intents.

Rules the engine keeps (see docs/architecture.md):

- before any side effect (spawning, ``sbatch``, ``scancel``) an ``intent`` event is
  fsynced; the outcome is recorded after;
- only the holder of a workflow's driver lock submits; anyone may observe;
- an intent without outcome is reconciled (claim files, the scheduler looked up by the
  job's tag) before anything is submitted again;
- a re-run reuses every job whose key already completed; failed jobs of an explicit
  run of the same workflow get a new attempt, recorded as a ``retry`` before submission.

A cycle is incremental: standings are recomputed only for jobs that changed, readiness
only for jobs whose upstream changed; a full pass runs every few seconds and whenever
another process wrote to the ledger.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from jobledger.config import Config, HostConfig, load_config
from jobledger.engine.base import Backend, Loaded, attempt_dir
from jobledger.engine.batch import BatchBackend
from jobledger.engine.define import DefinitionsMixin
from jobledger.engine.local import LocalBackend
from jobledger.engine.lock import DriverLock
from jobledger.engine.observe import ObserverMixin
from jobledger.engine.plan import Phase, Standing, standing
from jobledger.engine.submit import SubmitterMixin
from jobledger.engine.watch import FolderWatch
from jobledger.errors import ConfigError, JobledgerError
from jobledger.ledger import events as ev
from jobledger.project import Project
from jobledger.schedulers.base import Template
from jobledger.states import JobState

log = logging.getLogger("jobledger")

#: Seconds between full cycles (every job looked at again).
FULL_CYCLE = 3.0
#: Minimum seconds between reads of other writers' segments.
REFRESH_EVERY = 0.25

__all__ = ["CycleReport", "Engine", "Loaded", "attempt_dir"]


@attrs.define
class CycleReport:
    """What one engine cycle saw and did."""

    submitted: int = 0
    updates: int = 0
    needs_driver: bool = False
    all_final: bool = False


class Engine(DefinitionsMixin, ObserverMixin, SubmitterMixin):
    """Drives workflows of one project from this process."""

    def __init__(
        self,
        project: Project,
        *,
        config: Config | None = None,
        logger: logging.Logger | None = None,
        max_parallel: int | None = None,
    ) -> None:
        self.project = project
        self.ledger = project.ledger
        self._fixed_config = config
        self._config: Config | None = None
        self._config_stamp: tuple[float, ...] = ()
        self._config_checked = 0.0
        self.log = logger or log
        self.max_parallel = max_parallel
        self.loaded: dict[str, Loaded] = {}
        self._backends: dict[str, Backend] = {}
        self._locks: dict[str, DriverLock] = {}
        self._watch: FolderWatch | None = None
        self._mutex = threading.RLock()
        self._last_poll: dict[str, float] = {}
        self._last_local_check = 0.0
        self._last_refresh = 0.0
        self._threads: dict[str, threading.Thread] = {}
        self._thread_errors: dict[str, BaseException] = {}
        self.started: list[str] = []

    # ================================================================== configuration
    @property
    def config(self) -> Config:
        """The configuration, read again when one of its files changed."""
        if self._fixed_config is not None:
            return self._fixed_config
        now = time.monotonic()
        if self._config is not None and now - self._config_checked < 2.0:
            return self._config
        self._config_checked = now
        stamp = tuple(_mtime(p) for p in self._config_files())
        if self._config is None or stamp != self._config_stamp:
            self._config = load_config(self.project.root)
            self._config_stamp = stamp
        return self._config

    def _config_files(self) -> list[Path]:
        from jobledger.config import USER_CONFIG

        user = Path(os.environ.get("JOBLEDGER_USER_CONFIG", str(USER_CONFIG))).expanduser()
        return [user, self.project.config_path]

    # ================================================================== driver lock
    def acquire(self, name: str, wait: bool | float = False) -> None:
        """Become the driver of workflow ``name`` (raises :class:`LockError` when taken)."""
        with self._mutex:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = DriverLock(self.project.cache_dir, name)
            if not lock.held:
                lock.acquire(wait)

    def release(self, name: str) -> None:
        """Stop being the driver of ``name``."""
        with self._mutex:
            lock = self._locks.get(name)
            if lock is not None:
                lock.release()

    def is_driver(self, name: str) -> bool:
        """True while this engine holds the lock of ``name``."""
        lock = self._locks.get(name)
        return lock is not None and lock.held

    # ================================================================== backends
    def backend(self, alias: str) -> Backend:
        """The backend of host ``alias`` (created on first use)."""
        with self._mutex:
            found = self._backends.get(alias)
            if found is not None:
                return found
            host = self.host_config(alias)
            created: Backend
            if host.scheduler == "local" and not host.is_remote:
                created = LocalBackend(
                    self.project.root,
                    alias,
                    self.max_parallel or host.max_parallel,
                    on_start=self._watcher().poke,
                )
            elif host.scheduler == "local":
                raise ConfigError(
                    f"host {alias!r}: scheduler 'local' over SSH is not supported; "
                    "use a batch scheduler on remote hosts"
                )
            else:
                created = self._batch_backend(alias, host)
            self._backends[alias] = created
            return created

    def _batch_backend(self, alias: str, host: HostConfig) -> BatchBackend:
        from jobledger.hosts.factory import make_host
        from jobledger.schedulers.detect import resolve_adapter

        machine = make_host(host)
        template = None
        if host.template:
            template = Template(
                header=host.template.get("header", "#!/bin/bash"),
                epilogue=host.template.get("epilogue", ""),
            )
        adapter = resolve_adapter(host, machine, template, self.config.schedulers)
        return BatchBackend(
            alias, machine, adapter, max_in_flight=host.max_in_flight, accounting=host.accounting
        )

    def _watcher(self) -> FolderWatch:
        if self._watch is None:
            self._watch = FolderWatch(self.project.markers_dir)
            self._watch.start()
        return self._watch

    # ================================================================== one cycle
    def cycle(self, name: str, *, act: bool) -> CycleReport:
        """Observe the active units of ``name``; as driver also reconcile and submit."""
        with self._mutex:
            loaded = self.loaded.get(name)
            if loaded is None:
                return self._observe_only(name)
            report = CycleReport()
            now = time.monotonic()
            changed = self._refresh(now)
            full = changed or not loaded.stand or now - loaded.full_at >= FULL_CYCLE
            if full:
                loaded.full_at = now
                self._restand(loaded, loaded.order if not loaded.stand else loaded.open)
                loaded.evaluate |= loaded.open
            markers = self._watcher().drain()
            updates = self.observe(self._sorted(loaded, loaded.open), loaded.stand, markers, adopt=full)
            self._bring_outputs_home(loaded, updates)
            self._touched(loaded, {u.key for u in updates})
            report.updates = len(updates)
            if act:
                for _round in range(50):  # decisions can unblock downstream jobs: repeat
                    keys = self._sorted(loaded, loaded.evaluate & loaded.open)
                    loaded.evaluate.clear()
                    if not keys:
                        break
                    report.submitted += self.act(loaded, keys)
                    if not self._touched(loaded, set(keys)):
                        break
                # jobs waiting out a retry backoff are looked at again next cycle
                loaded.evaluate |= {k for k in loaded.waiting if k in loaded.open}
                report.updates += self.pump()
            self.ledger.flush()
            report.all_final = not loaded.open
            report.needs_driver = self._needs_driver(loaded)
            return report

    def _bring_outputs_home(self, loaded: Loaded, updates: Iterable[Any]) -> None:
        """Download the declared outputs of remote jobs that just completed."""
        from jobledger.hosts.staging import bring_home

        for update in updates:
            key = update.key
            job = loaded.by_key.get(key)
            if job is None or not job.outputs or update.state is not JobState.COMPLETED:
                continue
            alias = loaded.hosts[key]
            if not self.host_config(alias).is_remote:
                continue
            raw = self.ledger.raw_state["jobs"][key]["attempts"].get(update.attempt, {})
            remote_dir = posixpath.join(self.remote_root(alias), raw.get("run_dir") or "")
            if job.workdir:
                remote_dir = (
                    posixpath.join(remote_dir, job.workdir)
                    if not job.workdir.startswith("/")
                    else job.workdir
                )
            backend = self.backend(alias)
            host = getattr(backend, "host", None)
            if host is not None:
                try:
                    bring_home(self, loaded, key, host, remote_dir)
                except JobledgerError as exc:
                    self.log.warning("job %s: outputs not brought back: %s", job.name, exc)

    def _refresh(self, now: float) -> bool:
        """Read other writers' new events (rate limited); True when there were some."""
        if now - self._last_refresh < REFRESH_EVERY:
            return False
        self._last_refresh = now
        return self.ledger.refresh() > 0

    @staticmethod
    def _sorted(loaded: Loaded, keys: Iterable[str]) -> list[str]:
        """``keys`` in topological order."""
        wanted = set(keys)
        if len(wanted) * 4 >= len(loaded.order):
            return [k for k in loaded.order if k in wanted]
        return sorted(wanted, key=loaded.position.__getitem__)

    def _restand(self, loaded: Loaded, keys: Iterable[str]) -> None:
        raw = self.ledger.raw_state["jobs"]
        for key in list(keys):
            st = standing(key, raw.get(key))
            loaded.stand[key] = st
            if st.phase is Phase.SUCCESS or (st.phase is Phase.FAILURE and not self.will_retry(st)):
                loaded.open.discard(key)
            else:
                loaded.open.add(key)
            if st.not_before and st.phase is Phase.PENDING:
                loaded.waiting.add(key)
            else:
                loaded.waiting.discard(key)

    def _touched(self, loaded: Loaded, keys: set[str]) -> int:
        """Recompute ``keys``; schedule the changed ones and their dependents for another
        look. Returns how many changed phase or attempt."""
        keys = {k for k in keys if k in loaded.stand}
        if not keys:
            return 0
        before = {k: (loaded.stand[k].phase, loaded.stand[k].attempt) for k in keys}
        self._restand(loaded, keys)
        changed = 0
        for key in keys:
            st = loaded.stand[key]
            if (st.phase, st.attempt) != before[key]:
                changed += 1
                loaded.evaluate.add(key)
                loaded.evaluate.update(loaded.down.get(key, ()))
        return changed

    def _needs_driver(self, loaded: Loaded) -> bool:
        if any(isinstance(b, LocalBackend) and b.busy for b in self._backends.values()):
            return True
        for key in loaded.open:
            st = loaded.stand[key]
            if st.phase in (Phase.PENDING, Phase.RECONCILE) and not st.cancel_requested:
                return True
            if st.phase is Phase.FAILURE and self.will_retry(st):
                return True
        return False

    def _observe_only(self, name: str) -> CycleReport:
        """A cycle for a workflow this process has no definition of: observe, record."""
        wf = self.ledger.raw_state["workflows"].get(name)
        if wf is None:
            raise JobledgerError(f"no workflow named {name!r} in {self.project.root}")
        self.ledger.refresh()
        keys = list(wf["jobs"])
        raw = self.ledger.raw_state["jobs"]
        stand = {k: standing(k, raw.get(k)) for k in keys}
        markers = self._watcher().drain()
        updates = self.observe(keys, stand, markers, adopt=True)
        self.ledger.flush()
        stand = {k: standing(k, raw.get(k)) for k in keys}
        return CycleReport(
            updates=len(updates),
            all_final=all(s.phase in (Phase.SUCCESS, Phase.FAILURE) for s in stand.values()),
        )

    # ================================================================== loops
    def drive(
        self,
        name: str,
        *,
        until: str = "final",
        timeout: float | None = None,
        act: bool = True,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> CycleReport:
        """Cycle until ``until`` holds: ``"final"`` (every job final) or ``"idle"``
        (nothing left that needs a driver); returns the last report."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = self._watcher()
        while True:
            report = self.cycle(name, act=act)
            if on_cycle is not None:
                on_cycle(report)
            if report.all_final or (until == "idle" and not report.needs_driver):
                return report
            if deadline is not None and time.monotonic() >= deadline:
                return report
            # a cycle acts on its own updates; only fresh submissions call for another
            # look at once (anything that happens meanwhile wakes the watch)
            if not report.submitted:
                wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                watch.wait(wait)

    def start_background(self, name: str) -> threading.Thread:
        """Drive ``name`` in a thread until nothing needs a driver; holds the lock."""
        with self._mutex:
            if name not in self.started:
                self.started.append(name)
            thread = self._threads.get(name)
            if thread is not None and thread.is_alive():
                return thread

            def run() -> None:
                try:
                    self.drive(name, until="idle")
                except BaseException as exc:
                    self._thread_errors[name] = exc
                    self.log.error("driver of %s stopped: %s", name, exc)
                finally:
                    self.release(name)
                    self.ledger.flush(durable=True)

            thread = threading.Thread(target=run, name=f"jobledger-driver-{name}", daemon=False)
            self._threads[name] = thread
            thread.start()
            return thread

    def join_background(self, name: str, timeout: float | None = None) -> None:
        """Wait for the background driver of ``name``; re-raise its error."""
        thread = self._threads.get(name)
        if thread is not None:
            thread.join(timeout)
        error = self._thread_errors.pop(name, None)
        if error is not None:
            raise error

    def background_alive(self, name: str) -> bool:
        """True while a background driver thread runs for ``name``."""
        thread = self._threads.get(name)
        return thread is not None and thread.is_alive()

    # ================================================================== cancel
    def cancel(self, keys: Iterable[str], *, grace: float = 5.0) -> list[str]:
        """Cancel jobs: active ones are signalled/``scancel``ed, pending ones never start."""
        with self._mutex:
            self.ledger.refresh()
            raw_jobs = self.ledger.raw_state["jobs"]
            stand = {k: standing(k, raw_jobs.get(k)) for k in keys}
            touched: list[str] = []
            active = [s for s in stand.values() if s.phase in (Phase.ACTIVE, Phase.RECONCILE)]
            for st in active:
                self.ledger.append(ev.INTENT, {"key": st.key, "attempt": st.attempt, "action": "cancel"})
            for st in stand.values():
                if st.phase is Phase.PENDING:
                    self.ledger.append(
                        ev.STATE,
                        {"key": st.key, "attempt": st.attempt, "state": JobState.CANCELLED.value,
                         "reason": "cancelled before submission"},
                    )  # fmt: skip
                    touched.append(st.key)
            self.ledger.flush(durable=True)
            by_host: dict[str, list[Standing]] = {}
            for st in active:
                by_host.setdefault(st.host or "local", []).append(st)
                touched.append(st.key)
            for alias, group in by_host.items():
                backend = self.backend(alias)
                if isinstance(backend, LocalBackend):
                    units = self.active_units([s.key for s in group], {s.key: s for s in group})
                    for unit in units:
                        backend.adopt(unit)
                    for update in backend.cancel([u.ident for u in units], grace=grace):
                        self.record_update(update)
                    for update in backend.collect([], full=True):
                        self.record_update(update)
                else:
                    ids = sorted({s.scheduler_id for s in group if s.scheduler_id not in (None, "unknown")})
                    backend.cancel([i for i in ids if i])
            self.ledger.flush()
            for loaded in self.loaded.values():
                self._touched(loaded, set(touched))
            return touched

    # ================================================================== shutdown
    def close(self) -> None:
        """Stop watching, release locks, flush the ledger."""
        with self._mutex:
            if self._watch is not None:
                self._watch.stop()
                self._watch = None
            for lock in self._locks.values():
                lock.release()
            for backend in self._backends.values():
                if isinstance(backend, BatchBackend):
                    backend.host.close()
                else:
                    backend.close()
            self.ledger.flush(durable=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
