"""The engine: plan -> submit -> observe -> reconcile, with write-ahead intents.

Rules the engine keeps (see docs/architecture.md):

- before any side effect (spawning, ``sbatch``, ``scancel``) an ``intent`` event is
  fsynced; the outcome is recorded after;
- only the holder of a workflow's driver lock submits; anyone may observe;
- an intent without outcome is reconciled (claim files, the scheduler looked up by the
  job's tag) before anything is submitted again;
- a re-run reuses every job whose key already completed; failed jobs of an explicit
  run get a new attempt, recorded as a ``retry`` before it is submitted.
"""

from __future__ import annotations

import logging
import os
import pickle
import posixpath
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.config import Config, HostConfig, load_config
from jobledger.engine.batch import BatchBackend
from jobledger.engine.faults import checkpoint
from jobledger.engine.local import SCRIPT, LocalBackend
from jobledger.engine.lock import DriverLock
from jobledger.engine.plan import Phase, Readiness, Standing, readiness, standing
from jobledger.engine.staging import check_picklable, task_files
from jobledger.engine.types import Unit, Update
from jobledger.engine.watch import FolderWatch
from jobledger.engine.wrapper import WrapperSpec, render_wrapper
from jobledger.errors import (
    ConfigError,
    JobledgerError,
    LockError,
    ModelError,
    SubmitError,
)
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.model.hashing import canonical_hash
from jobledger.model.job import SEPARATE, Job
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.schedulers.base import BatchSpec, NativeDependency, Template
from jobledger.states import JobState

log = logging.getLogger("jobledger")

#: Seconds between full checks of local processes (watchdog wakes the engine sooner).
LOCAL_FALLBACK_POLL = 2.0
#: Seconds between scheduler queries per host unless the host sets ``poll_interval``.
DEFAULT_POLL = 3.0


@attrs.define
class Loaded:
    """A workflow definition held in this process, with its computed keys."""

    workflow: Workflow
    keys: dict[str, str]
    by_key: dict[str, Job]
    edges: dict[str, list[tuple[str, str]]]
    workdirs: dict[str, str]
    order: list[str]


@attrs.define
class CycleReport:
    """What one engine cycle saw and did."""

    submitted: int = 0
    updates: int = 0
    needs_driver: bool = False
    all_final: bool = False


def attempt_dir(run_dir: str, attempt: int) -> str:
    """Project-relative directory of an attempt (attempt 1 is the run dir itself)."""
    return run_dir if attempt == 1 else f"{run_dir}/attempt-{attempt}"


class Engine:
    """Drives workflows of one project from this process."""

    def __init__(
        self,
        project: Project,
        *,
        config: Config | None = None,
        logger: logging.Logger | None = None,
        max_parallel: int | None = None,
        host_override: str | None = None,
    ) -> None:
        self.project = project
        self.ledger = project.ledger
        self.config = config if config is not None else load_config(project.root)
        self.log = logger or log
        self.max_parallel = max_parallel
        self.host_override = host_override
        self.loaded: dict[str, Loaded] = {}
        self._backends: dict[str, LocalBackend | BatchBackend] = {}
        self._locks: dict[str, DriverLock] = {}
        self._watch: FolderWatch | None = None
        self._mutex = threading.RLock()
        self._last_poll: dict[str, float] = {}
        self._last_local_check = 0.0
        self._notified_reuse: set[tuple[str, str]] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._thread_errors: dict[str, BaseException] = {}
        self.started: list[str] = []

    # ================================================================== definitions
    def host_alias(self, job: Job) -> str:
        """The host a job goes to (``--host`` override applies to jobs left on local)."""
        if self.host_override and job.host == "local":
            return self.host_override
        return job.host

    def host_config(self, alias: str) -> HostConfig:
        """Configuration of a host alias (error naming the alias when unknown)."""
        return self.config.host(alias)

    def define(self, workflow: Workflow, *, source: str | None = None) -> Loaded:
        """Validate, key and record a workflow definition (only when it changed)."""
        with self._mutex:
            keys = workflow.keys()
            by_key: dict[str, Job] = {}
            edges: dict[str, list[tuple[str, str]]] = {}
            workdirs: dict[str, str] = {}
            records = []
            cwd = os.getcwd()
            for name in workflow.order:
                job = workflow.jobs[name]
                key = keys[name]
                alias = self.host_alias(job)
                host = self.host_config(alias)
                workdir = job.workdir or cwd
                if not host.is_remote:
                    workdir = str(Path(workdir).resolve()) if job.workdir else cwd
                    if not Path(workdir).is_dir():
                        raise ModelError(
                            f"job {name!r}: working directory {workdir} does not exist"
                        )
                check_picklable(job)
                by_key[key] = job
                workdirs[key] = workdir
                edges[key] = [(keys[up], kind) for up, kind in workflow.upstream[name]]
                records.append(self._job_record(job, key, alias, edges[key], workdir))
            digest = canonical_hash([workflow.name, records])
            loaded = Loaded(
                workflow, keys, by_key, edges, workdirs, [keys[n] for n in workflow.order]
            )
            current = self.ledger.raw_state["workflows"].get(workflow.name)
            if current is None or current.get("digest") != digest:
                self.ledger.record(
                    ev.WORKFLOW,
                    {
                        "name": workflow.name,
                        "jobs": records,
                        "digest": digest,
                        "root": str(self.project.root),
                        "source": source,
                    },
                )
                self._cache_definition(workflow)
            self.loaded[workflow.name] = loaded
            return loaded

    def _job_record(
        self, job: Job, key: str, alias: str, edges: list[tuple[str, str]], workdir: str
    ) -> dict[str, Any]:
        res = {k: v for k, v in job.resources.to_dict().items() if v not in (None, False, [], ())}
        record: dict[str, Any] = {"workdir": workdir}
        if job.stdout:
            record["stdout"] = posixpath.join(workdir, job.stdout)
        if job.stderr is None:
            record["stderr"] = "<merged>"
        elif job.stderr != SEPARATE:
            record["stderr"] = posixpath.join(workdir, job.stderr)
        return record | {
            "key": key,
            "name": job.name,
            "host": alias,
            "after": [list(e) for e in edges],
            "array": list(job.array.indices) if job.array else None,
            "max_concurrent": job.array.max_concurrent if job.array else None,
            "resources": res,
            "command": job.command[:500],
            "python": any(t.is_python for t in job.tasks),
            "run_dir": self.project.run_dir_name(job.name, key),
            "waitfor": job.waitfor,
            "retries": job.retry.retries,
        }

    def _cache_definition(self, workflow: Workflow) -> None:
        from jobledger.engine.staging import pickler
        from jobledger.model.job import safe_name

        folder = self.project.cache_dir / "workflows"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            data = pickler().dumps(workflow)
        except Exception as exc:
            self.log.debug("workflow %s not cached: %s", workflow.name, exc)
            return
        target = folder / f"{safe_name(workflow.name, 80)}.pkl"
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)

    def load_cached(self, name: str) -> Workflow | None:
        """The last definition of workflow ``name`` cached on this machine, if any."""
        from jobledger.model.job import safe_name

        path = self.project.cache_dir / "workflows" / f"{safe_name(name, 80)}.pkl"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            workflow = pickle.loads(data)  # noqa: S301 - our own cache file
        except Exception as exc:
            raise JobledgerError(
                f"cannot load the cached definition of workflow {name!r}: {exc}"
            ) from None
        return workflow if isinstance(workflow, Workflow) else None

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

    # ================================================================== begin a run
    def begin(self, name: str, *, force: bool = False, rerun: bool = True) -> dict[str, str]:
        """Decide, for an explicit run, which jobs are reused and which get a new attempt.

        Returns ``{key: "reused" | "rerun" | "active" | "new"}``.
        """
        with self._mutex:
            loaded = self.loaded[name]
            self.ledger.refresh()
            raw_jobs = self.ledger.raw_state["jobs"]
            verdicts: dict[str, str] = {}
            for key in loaded.order:
                job = loaded.by_key[key]
                st = standing(key, raw_jobs.get(key))
                if st.phase is Phase.SUCCESS and not force and _ensure_holds(job):
                    verdicts[key] = "reused"
                    if name not in raw_jobs[key].get("reused_in", []):
                        self.ledger.append(
                            ev.REUSED, {"workflow": name, "key": key, "attempt": st.attempt}
                        )
                elif st.phase is Phase.SUCCESS or (st.phase is Phase.FAILURE and rerun):
                    verdicts[key] = "rerun"
                    reason = (
                        "forced re-run"
                        if st.phase is Phase.SUCCESS
                        else f"re-run after {st.state.value}"
                    )
                    if st.phase is Phase.SUCCESS and not force:
                        reason = "postcondition no longer holds"
                    self.ledger.append(
                        ev.RETRY,
                        {"key": key, "attempt": st.attempt + 1, "reason": reason, "manual": True},
                    )
                elif st.phase in (Phase.ACTIVE, Phase.RECONCILE):
                    verdicts[key] = "active"
                else:
                    verdicts[key] = "new"
            self.ledger.flush(durable=True)
            return verdicts

    # ================================================================== backends
    def backend(self, alias: str) -> LocalBackend | BatchBackend:
        """The backend of host ``alias`` (created on first use)."""
        with self._mutex:
            found = self._backends.get(alias)
            if found is not None:
                return found
            host = self.host_config(alias)
            created: LocalBackend | BatchBackend
            if host.scheduler == "local" and not host.is_remote:
                created = LocalBackend(
                    self.project.root, alias, self.max_parallel or host.max_parallel
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

    def remote_root(self, alias: str) -> str:
        """Where this project's run directories live on host ``alias``."""
        host = self.host_config(alias)
        if not host.is_remote:
            return str(self.project.root)
        base = host.workdir or "jobledger"
        ident = canonical_hash(str(self.project.root))[:8]
        return posixpath.join(base, f"{self.project.root.name}-{ident}")

    def markers_dir_for(self, alias: str) -> str | None:
        """The completion folder as seen from jobs on ``alias`` (local file systems only)."""
        host = self.host_config(alias)
        return None if host.is_remote else str(self.project.markers_dir)

    def _watcher(self) -> FolderWatch:
        if self._watch is None:
            self._watch = FolderWatch(self.project.markers_dir)
            self._watch.start()
        return self._watch

    # ================================================================== one cycle
    def cycle(self, name: str, *, act: bool) -> CycleReport:
        """Observe every active unit of ``name``; as driver also reconcile and submit."""
        with self._mutex:
            report = CycleReport()
            loaded = self.loaded.get(name)
            self.ledger.refresh()
            keys = loaded.order if loaded else list(self._workflow_keys(name))
            markers = self._watcher().drain()
            stand = self._standings(keys)
            report.updates += self._observe(keys, stand, markers)
            if report.updates:
                stand = self._standings(keys)
            if act and loaded is not None:
                report.submitted += self._act(loaded, stand)
                stand = self._standings(keys)
                report.updates += self._pump()
            self.ledger.flush()
            report.all_final = all(
                s.phase in (Phase.SUCCESS, Phase.FAILURE) and not self._will_retry(s)
                for s in stand.values()
            )
            report.needs_driver = self._needs_driver(loaded, stand) if loaded else False
            return report

    def _workflow_keys(self, name: str) -> list[str]:
        wf = self.ledger.raw_state["workflows"].get(name)
        if wf is None:
            raise JobledgerError(f"no workflow named {name!r} in {self.project.root}")
        return list(wf["jobs"])

    def _standings(self, keys: Iterable[str]) -> dict[str, Standing]:
        raw = self.ledger.raw_state["jobs"]
        return {key: standing(key, raw.get(key)) for key in keys}

    def _needs_driver(self, loaded: Loaded, stand: Mapping[str, Standing]) -> bool:
        for st in stand.values():
            if st.phase in (Phase.PENDING, Phase.RECONCILE) and not st.cancel_requested:
                return True
            if self._will_retry(st):
                return True
        return any(isinstance(b, LocalBackend) and b.busy for b in self._backends.values())

    def _will_retry(self, st: Standing) -> bool:
        if (
            st.phase is not Phase.FAILURE
            or st.cancel_requested
            or st.state is JobState.DEPENDENCY_FAILED
        ):
            return False
        job = self._job_for(st.key)
        if job is None:
            return False
        return self.retry_policy(job).should_retry(st.state, st.attempt)

    def _job_for(self, key: str) -> Job | None:
        for loaded in self.loaded.values():
            job = loaded.by_key.get(key)
            if job is not None:
                return job
        return None

    def retry_policy(self, job: Job) -> RetryPolicy:
        """The nearest retry policy: job, then host, then ``[defaults]``."""
        if job.retry != RetryPolicy():
            return job.retry
        host = self.host_config(self.host_alias(job))
        for table in (
            host.retry,
            {
                k: v
                for k, v in self.config.defaults.items()
                if k in ("retries", "retry_on", "backoff", "escalate")
            },
        ):
            if table:
                return RetryPolicy.build(
                    retries=table.get("retries"),
                    retry_on=table.get("retry_on"),
                    backoff=table.get("backoff"),
                    escalate=table.get("escalate"),
                )
        return job.retry

    # ------------------------------------------------------------------ observe
    def active_units(self, keys: Iterable[str], stand: Mapping[str, Standing]) -> list[Unit]:
        """Units (jobs or array elements) the backends hold for ``keys``."""
        raw_jobs = self.ledger.raw_state["jobs"]
        units: list[Unit] = []
        for key in keys:
            st = stand[key]
            if st.phase is not Phase.ACTIVE:
                continue
            raw = raw_jobs[key]
            att = raw["attempts"][st.attempt]
            res = att.get("resources") or {}
            common = {
                "key": key,
                "attempt": st.attempt,
                "host": att.get("host") or raw.get("host", "local"),
                "scheduler_id": att.get("scheduler_id"),
                "attempt_dir": att.get("run_dir")
                or attempt_dir(raw.get("run_dir", ""), st.attempt),
                "submitted_at": att.get("submitted_at"),
                "time_limit": res.get("time"),
                "cancel_requested": att.get("cancel") is not None,
                "index_offset": att.get("index_offset", 0),
            }
            indices = raw.get("array")
            if indices:
                elements = att.get("elements") or {}
                own = JobState(att["state"])
                for index in indices:
                    el = elements.get(index)
                    state = JobState(el["state"]) if el else own
                    if not state.is_final:
                        units.append(
                            Unit(
                                index=index,
                                state=state,
                                started_at=el.get("started_at") if el else None,
                                **common,
                            )
                        )
            else:
                units.append(
                    Unit(
                        index=None,
                        state=JobState(att["state"]),
                        started_at=att.get("started_at"),
                        **common,
                    )
                )
        return units

    def _observe(
        self, keys: Sequence[str], stand: Mapping[str, Standing], markers: list[str]
    ) -> int:
        units = self.active_units(keys, stand)
        by_host: dict[str, list[Unit]] = {}
        for unit in units:
            by_host.setdefault(unit.host, []).append(unit)
        now = time.monotonic()
        count = 0
        for alias, host_units in by_host.items():
            try:
                backend = self.backend(alias)
            except JobledgerError as exc:
                self.log.warning("cannot observe host %s: %s", alias, exc)
                continue
            if isinstance(backend, LocalBackend):
                for unit in host_units:
                    backend.adopt(unit)
                full = now - self._last_local_check >= LOCAL_FALLBACK_POLL
                if full:
                    self._last_local_check = now
                updates = backend.collect(markers, full)
                updates += self._expire_local(backend, host_units)
            else:
                interval = self.host_config(alias).poll_interval or DEFAULT_POLL
                marker_hit = bool(markers) and any(
                    u.key[:12] in m for u in host_units for m in markers
                )
                if not marker_hit and now - self._last_poll.get(alias, 0.0) < interval:
                    continue
                self._last_poll[alias] = now
                updates = backend.poll(host_units, self.remote_root(alias))
            for update in updates:
                self._record_update(update)
                count += 1
        return count

    def _expire_local(self, backend: LocalBackend, units: list[Unit]) -> list[Update]:
        limits = {u.ident: u.time_limit for u in units if u.time_limit}
        if not limits:
            return []
        now = time.time()
        expired = [
            i
            for i, _pid, started in backend.running_units()
            if i in limits and now - started > limits[i]
        ]
        if expired:
            backend.timed_out.update(expired)
            backend.cancel(expired, grace=5.0)
        return []

    def _record_update(self, update: Update) -> None:
        raw_job = self.ledger.raw_state["jobs"].get(update.key)
        state = update.state
        reason = update.reason
        if raw_job is not None and state in (JobState.FAILED, JobState.LOST):
            att = raw_job["attempts"].get(update.attempt)
            if att is not None and att.get("cancel") is not None:
                state = JobState.CANCELLED
                reason = reason or "cancelled on request"
        data: dict[str, Any] = {"key": update.key, "attempt": update.attempt, "state": state.value}
        if update.index is not None:
            data["index"] = update.index
        if update.exit_code is not None:
            data["exit_code"] = update.exit_code
        if update.signal is not None:
            data["signal"] = update.signal
        if update.at is not None:
            data["at"] = update.at
        if update.source:
            data["source"] = update.source
        data.update(update.extra)
        if state.is_final and raw_job is not None and raw_job.get("python"):
            result = self._python_result(raw_job, update)
            if result is not None:
                self.ledger.append(ev.RESULT, result)
                error = result.get("error")
                if error and state is not JobState.COMPLETED:
                    reason = f"{error.get('type')}: {error.get('message')}"
        if reason:
            data["reason"] = reason
        if update.started is not None and state.is_final:
            self.ledger.append(
                ev.STATE,
                {k: v for k, v in data.items() if k in ("key", "attempt", "index")}
                | {"state": "running", "at": update.started},
            )
        self.ledger.append(ev.STATE, data)

    def _python_result(self, raw_job: Mapping[str, Any], update: Update) -> dict[str, Any] | None:
        import json

        att = raw_job["attempts"].get(update.attempt) or {}
        base = att.get("run_dir") or attempt_dir(raw_job.get("run_dir", ""), update.attempt)
        unit = base if update.index is None else f"{base}/{update.index}"
        alias = att.get("host") or raw_job.get("host", "local")
        root = self.remote_root(alias)
        paths = {name: posixpath.join(root, unit, name) for name in ("result.json", "error.json")}
        host = self._host_of(alias)
        try:
            files = host.read_files(list(paths.values())) if host else {}
        except JobledgerError:
            return None
        out: dict[str, Any] = {"key": update.key, "attempt": update.attempt, "unit": unit}
        if update.index is not None:
            out["index"] = update.index
        meta, err = files.get(paths["result.json"]), files.get(paths["error.json"])
        if meta:
            try:
                info = json.loads(meta)
                out.update(
                    {
                        "value": info.get("digest"),
                        "size": info.get("size"),
                        "type": info.get("type"),
                    }
                )
            except ValueError:
                pass
        if err:
            try:
                out["error"] = {
                    k: v
                    for k, v in json.loads(err).items()
                    if k in ("type", "message", "traceback")
                }
            except ValueError:
                pass
        return out if (meta or err) else None

    def _host_of(self, alias: str) -> Host | None:
        backend = self.backend(alias)
        if isinstance(backend, BatchBackend):
            return backend.host
        from jobledger.hosts.local import LocalHost

        return LocalHost(alias)

    # ------------------------------------------------------------------ act
    def _act(self, loaded: Loaded, stand: dict[str, Standing]) -> int:
        submitted = 0
        now = time.time()
        # cancelled attempts: make sure no local queue still holds them
        for st in stand.values():
            if st.cancel_requested and st.phase in (Phase.ACTIVE, Phase.RECONCILE):
                backend = self._backends.get(st.host or "")
                if isinstance(backend, LocalBackend):
                    for update in backend.cancel(self._idents(st), grace=0.0):
                        self._record_update(update)
        # retries decided by policy
        for key in loaded.order:
            st = stand[key]
            if self._will_retry(st):
                stand[key] = self._decide_retry(loaded.by_key[key], st, now)
        # intents without outcome
        for key in loaded.order:
            st = stand[key]
            if st.phase is Phase.RECONCILE and not st.cancel_requested:
                stand[key] = self._reconcile(loaded, st)
        # pending jobs, in topological order so native dependencies see fresh ids
        batch: list[tuple[str, Standing, list[tuple[str, str]]]] = []
        for key in loaded.order:
            st = stand[key]
            if st.phase is not Phase.PENDING:
                continue
            if st.cancel_requested:
                continue
            job = loaded.by_key[key]
            alias = self.host_alias(job)
            backend = self.backend(alias)
            native_kinds = (
                backend.adapter.native_kinds if isinstance(backend, BatchBackend) else frozenset()
            )
            # upstreams that may get a new attempt (retry policy), or that the scheduler did
            # not list as alive in its last answer, are waited for by the engine: SLURM
            # takes a dependency on a job it has forgotten as satisfied
            retrying = frozenset(
                k
                for k, _ in loaded.edges[key]
                if self._may_retry(k)
                or (
                    isinstance(backend, BatchBackend)
                    and stand[k].phase is Phase.ACTIVE
                    and stand[k].scheduler_id not in backend.live_ids
                )
            )
            verdict, native = readiness(
                loaded.edges[key],
                stand,
                waitfor=job.waitfor,
                host=alias,
                native_kinds=native_kinds,
                retrying=retrying,
            )
            if verdict is Readiness.NEVER:
                failed = [
                    loaded.by_key[u].name
                    for u, _ in loaded.edges[key]
                    if stand[u].phase is Phase.FAILURE
                ]
                self.ledger.append(
                    ev.STATE,
                    {
                        "key": key,
                        "attempt": st.attempt,
                        "state": JobState.DEPENDENCY_FAILED.value,
                        "reason": "never ran: upstream "
                        + ", ".join(failed or ["condition"])
                        + " did not end as required",
                    },
                )
                stand[key] = attrs.evolve(st, phase=Phase.FAILURE, state=JobState.DEPENDENCY_FAILED)
                continue
            if verdict is Readiness.WAIT:
                continue
            if st.not_before is not None and st.not_before > now:
                continue
            if isinstance(backend, BatchBackend):
                if not self._may_submit(backend, alias, stand):
                    continue
                stand[key] = self._submit_batch(loaded, key, st, native)
                submitted += stand[key].phase is Phase.ACTIVE
            else:
                batch.append((key, st, native))
        if batch:
            submitted += self._submit_local(loaded, batch, stand)
        return submitted

    def _may_retry(self, key: str) -> bool:
        job = self._job_for(key)
        return job is not None and self.retry_policy(job).retries > 0

    def _may_submit(self, backend: BatchBackend, alias: str, stand: Mapping[str, Standing]) -> bool:
        if backend.throttled_until > time.time():
            return False
        limit = backend.max_in_flight
        if limit is None:
            return True
        active = sum(1 for s in stand.values() if s.phase is Phase.ACTIVE and s.host == alias)
        return active < limit

    def _idents(self, st: Standing) -> list[tuple[str, int, int | None]]:
        raw = self.ledger.raw_state["jobs"].get(st.key) or {}
        indices = raw.get("array")
        if indices:
            return [(st.key, st.attempt, i) for i in indices]
        return [(st.key, st.attempt, None)]

    def _decide_retry(self, job: Job, st: Standing, now: float) -> Standing:
        policy = self.retry_policy(job)
        delay = policy.backoff.delay(st.attempt)
        nxt = st.attempt + 1
        resources = self.resources_for(job, nxt)
        self.ledger.record(
            ev.RETRY,
            {
                "key": st.key,
                "attempt": nxt,
                "reason": f"attempt {st.attempt} ended {st.state.value}",
                "manual": False,
                "not_before": now + delay if delay else None,
                "resources": _compact(resources),
            },
        )
        self.log.info("job %s: retrying (attempt %d) after %s", job.name, nxt, st.state.value)
        return Standing(
            st.key, nxt, Phase.PENDING, JobState.PENDING, not_before=now + delay if delay else None
        )

    def resources_for(self, job: Job, attempt: int) -> Resources:
        """Resources of one attempt: ``[defaults]`` < host < job, escalated, capped."""
        host = self.host_config(self.host_alias(job))
        default_fields, _ = Resources.split_kwargs(self.config.defaults)
        base = Resources(**default_fields) if default_fields else Resources()
        res = job.resources.layered_over(host.resources.layered_over(base))
        policy = self.retry_policy(job)
        if attempt > 1 and policy.escalate:
            factors = {k: v for k, v in policy.escalate.items() if not callable(v)}
            if factors:
                res = res.scaled(factors, attempt)
            functions = {k: v(attempt) for k, v in policy.escalate.items() if callable(v)}
            if functions:
                res = res.merged(**functions)
        if host.limits is not None:
            res = res.capped(host.limits)
        return res

    def _reconcile(self, loaded: Loaded, st: Standing) -> Standing:
        raw = self.ledger.raw_state["jobs"][st.key]
        att = raw["attempts"][st.attempt]
        alias = att.get("host") or raw.get("host", "local")
        backend = self.backend(alias)
        if isinstance(backend, LocalBackend):
            # claims and exit files tell what ran; adopt() queues what never started
            self.ledger.append(
                ev.SUBMITTED,
                {
                    "key": st.key,
                    "attempt": st.attempt,
                    "host": alias,
                    "scheduler_id": "local",
                    "run_dir": att.get("run_dir"),
                    "reconciled": True,
                },
            )
            return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id="local")
        job = loaded.by_key[st.key]
        found = backend.find(job.safe_name, f"jl:{st.key}:{st.attempt}")
        if found is not None:
            self.ledger.record(
                ev.SUBMITTED,
                {
                    "key": st.key,
                    "attempt": st.attempt,
                    "host": alias,
                    "scheduler_id": found,
                    "run_dir": att.get("run_dir"),
                    "reconciled": True,
                },
                durable=False,
            )
            return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id=found)
        claim_dir = posixpath.join(self.remote_root(alias), att.get("run_dir") or "")
        if backend.host.read_file(posixpath.join(claim_dir, "claim")) or backend.host.read_file(
            posixpath.join(claim_dir, "exit")
        ):
            self.ledger.record(
                ev.SUBMITTED,
                {
                    "key": st.key,
                    "attempt": st.attempt,
                    "host": alias,
                    "scheduler_id": "unknown",
                    "run_dir": att.get("run_dir"),
                    "reconciled": True,
                },
                durable=False,
            )
            return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id="unknown")
        return attrs.evolve(st, phase=Phase.PENDING)

    # ------------------------------------------------------------------ submission
    def _prepare_local(self, loaded: Loaded, key: str, attempt: int, alias: str) -> str:
        """Write the wrapper script and task files of a local attempt; returns its dir."""
        job = loaded.by_key[key]
        att_dir = attempt_dir(self.project.run_dir_name(job.name, key), attempt)
        path = self.project.root / att_dir
        spec = self._wrapper_spec(loaded, key, attempt, alias, str(path))
        path.mkdir(parents=True, exist_ok=True)
        (path / SCRIPT).write_text("#!/bin/bash\n" + render_wrapper(spec))
        for fname, data in task_files(job).items():
            (path / fname).write_bytes(data)
        if job.array is not None:
            for index in job.array.indices:
                (path / str(index)).mkdir(exist_ok=True)
        return att_dir

    def _wrapper_spec(
        self, loaded: Loaded, key: str, attempt: int, alias: str, remote_att: str
    ) -> WrapperSpec:
        job = loaded.by_key[key]
        host = self.host_config(alias)
        workdir = loaded.workdirs[key] if (not host.is_remote or job.workdir) else remote_att
        python = job.python or host.python or (_local_python() if not host.is_remote else "python3")
        return WrapperSpec(
            attempt_dir=remote_att,
            workdir=workdir,
            tasks=job.tasks,
            is_array=job.array is not None,
            markers_dir=self.markers_dir_for(alias),
            marker=f"{key[:12]}-{attempt}",
            env={**host.env, **job.env},
            modules=(*host.modules, *job.modules),
            setup=job.setup,
            stdout=job.stdout,
            stderr=None if job.stderr in (None, SEPARATE) else job.stderr,
            merge_stderr=job.stderr is None,
            python=python,
        )

    def _submit_local(
        self,
        loaded: Loaded,
        batch: list[tuple[str, Standing, list[tuple[str, str]]]],
        stand: dict[str, Standing],
    ) -> int:
        prepared = []
        for key, st, _native in batch:
            job = loaded.by_key[key]
            alias = self.host_alias(job)
            resources = self.resources_for(job, st.attempt)
            att_dir = self._prepare_local(loaded, key, st.attempt, alias)
            prepared.append((key, st, alias, att_dir, resources))
            self.ledger.append(
                ev.INTENT,
                {
                    "key": key,
                    "attempt": st.attempt,
                    "action": "submit",
                    "host": alias,
                    "run_dir": att_dir,
                    "workflow": loaded.workflow.name,
                    "resources": _compact(resources),
                },
            )
        self.ledger.flush(durable=True)
        checkpoint("after-intent")
        for key, st, alias, att_dir, resources in prepared:
            job = loaded.by_key[key]
            backend = self.backend(alias)
            assert isinstance(backend, LocalBackend)
            backend.enqueue(
                key,
                st.attempt,
                att_dir,
                job.array.indices if job.array else None,
                resources.cpus or 1,
                job.array.max_concurrent if job.array else None,
            )
            self.ledger.append(
                ev.SUBMITTED,
                {
                    "key": key,
                    "attempt": st.attempt,
                    "host": alias,
                    "scheduler_id": "local",
                    "run_dir": att_dir,
                },
            )
            stand[key] = attrs.evolve(
                st, phase=Phase.ACTIVE, host=alias, scheduler_id="local", state=JobState.SUBMITTED
            )
        self.ledger.flush()
        return len(prepared)

    def _submit_batch(
        self, loaded: Loaded, key: str, st: Standing, native: list[tuple[str, str]]
    ) -> Standing:
        job = loaded.by_key[key]
        alias = self.host_alias(job)
        backend = self.backend(alias)
        assert isinstance(backend, BatchBackend)
        resources = self.resources_for(job, st.attempt)
        host = self.host_config(alias)
        run_dir = self.project.run_dir_name(job.name, key)
        att_dir = attempt_dir(run_dir, st.attempt)
        root = self.remote_root(alias)
        remote_att = posixpath.join(root, att_dir)
        try:
            spec, files = self._batch_spec(loaded, key, st.attempt, alias, resources, native)
            offset = spec.array.indices[0] - job.array.indices[0] if spec.array and job.array else 0
            script = backend.adapter.render_script(spec)
        except JobledgerError as exc:
            self.ledger.record(
                ev.SUBMIT_FAILED,
                {"key": key, "attempt": st.attempt, "error": str(exc), "transient": False},
            )
            self.log.error("job %s: %s", job.name, exc)
            return attrs.evolve(st, phase=Phase.FAILURE, state=JobState.FAILED)
        script_path = posixpath.join(remote_att, SCRIPT)
        try:
            stage_files = {script_path: script.encode()}
            for fname, data in files.items():
                stage_files[posixpath.join(remote_att, fname)] = data
            self._stage(backend.host, remote_att, stage_files, job, host.is_remote)
        except JobledgerError as exc:
            self.log.warning("job %s: staging on %s failed, will retry: %s", job.name, alias, exc)
            return st
        self.ledger.record(
            ev.INTENT,
            {
                "key": key,
                "attempt": st.attempt,
                "action": "submit",
                "host": alias,
                "run_dir": att_dir,
                "workflow": loaded.workflow.name,
                "resources": _compact(resources),
                "native_deps": [list(n) for n in native],
                "index_offset": offset,
            },
        )
        checkpoint("after-intent")
        try:
            sid = backend.submit_script(script_path, job.name)
        except SubmitError as exc:
            self.ledger.record(
                ev.SUBMIT_FAILED,
                {"key": key, "attempt": st.attempt, "error": str(exc), "transient": exc.transient},
            )
            if exc.transient:
                self.log.warning("%s", exc)
                return attrs.evolve(st, phase=Phase.PENDING)
            self.log.error("%s", exc)
            return attrs.evolve(st, phase=Phase.FAILURE, state=JobState.FAILED)
        checkpoint("before-outcome")
        self.ledger.record(
            ev.SUBMITTED,
            {
                "key": key,
                "attempt": st.attempt,
                "host": alias,
                "scheduler_id": sid,
                "run_dir": att_dir,
            },
            durable=False,
        )
        checkpoint("after-submit")
        return attrs.evolve(
            st, phase=Phase.ACTIVE, host=alias, scheduler_id=sid, state=JobState.SUBMITTED
        )

    def _batch_spec(
        self,
        loaded: Loaded,
        key: str,
        attempt: int,
        alias: str,
        resources: Resources,
        native: list[tuple[str, str]],
    ) -> tuple[BatchSpec, dict[str, bytes]]:
        job = loaded.by_key[key]
        host = self.host_config(alias)
        backend = self.backend(alias)
        assert isinstance(backend, BatchBackend)
        att_dir = attempt_dir(self.project.run_dir_name(job.name, key), attempt)
        remote_att = posixpath.join(self.remote_root(alias), att_dir)
        array = job.array
        offset = 0
        if array is not None and min(array.indices) < backend.adapter.array_base:
            offset = backend.adapter.array_base - min(array.indices)
            array = attrs.evolve(array, indices=tuple(i + offset for i in array.indices))
        spec = attrs.evolve(
            self._wrapper_spec(loaded, key, attempt, alias, remote_att), index_offset=offset
        )
        batch_spec = BatchSpec(
            job_name=job.safe_name,
            comment=f"jl:{key}:{attempt}",
            run_dir=remote_att,
            workdir=spec.workdir,
            body=render_wrapper(spec),
            resources=resources,
            array=array,
            dependencies=tuple(NativeDependency(sid, kind) for sid, kind in native),
            setup=host.setup,
            raw_args=job.scheduler_args.get(backend.adapter.name, ()),
        )
        return batch_spec, task_files(job)

    def _stage(
        self, host: Host, remote_att: str, files: Mapping[str, bytes], job: Job, remote: bool
    ) -> None:
        dirs = [remote_att]
        if job.array is not None:
            dirs += [posixpath.join(remote_att, str(i)) for i in job.array.indices]
        host.makedirs(dirs)
        for path, data in files.items():
            host.write_file(path, data, 0o755 if path.endswith(".sh") else 0o644)
        if remote and job.inputs:
            from jobledger.hosts.staging import upload_inputs

            upload_inputs(host, job, remote_att)

    def _pump(self) -> int:
        count = 0
        for backend in list(self._backends.values()):
            if isinstance(backend, LocalBackend):
                for update in backend.pump():
                    checkpoint("after-spawn")
                    self._record_update(update)
                    count += 1
        return count

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
            wait = 0.5
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            if not report.updates and not report.submitted:
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
                self.ledger.append(
                    ev.INTENT, {"key": st.key, "attempt": st.attempt, "action": "cancel"}
                )
            for st in stand.values():
                if st.phase is Phase.PENDING:
                    self.ledger.append(
                        ev.STATE,
                        {
                            "key": st.key,
                            "attempt": st.attempt,
                            "state": JobState.CANCELLED.value,
                            "reason": "cancelled before submission",
                        },
                    )
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
                    idents = [u.ident for u in units]
                    for update in backend.cancel(idents, grace=grace):
                        self._record_update(update)
                    for update in backend.collect([], full=True):
                        self._record_update(update)
                else:
                    ids = sorted(
                        {
                            s.scheduler_id
                            for s in group
                            if s.scheduler_id and s.scheduler_id != "unknown"
                        }
                    )
                    backend.cancel(ids)
            self.ledger.flush()
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
            self.ledger.flush(durable=True)


def _compact(resources: Resources) -> dict[str, Any]:
    return {k: v for k, v in resources.to_dict().items() if v not in (None, False, [], ())}


def _ensure_holds(job: Job) -> bool:
    """Every ``ensure`` postcondition holds (array ones for every index)."""
    for predicate in job.ensure:
        try:
            if job.array is not None and _takes_argument(predicate):
                if not all(predicate(i) for i in job.array.indices):
                    return False
            elif not predicate():
                return False
        except Exception:
            return False
    return True


def _takes_argument(func: Callable[..., Any]) -> bool:
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
    )


def _local_python() -> str:
    import sys

    return sys.executable or "python3"


__all__ = ["CycleReport", "Engine", "Loaded", "LockError", "attempt_dir"]
