"""Acting: retries, reconciliation of unanswered intents, readiness, submission."""

from __future__ import annotations

import posixpath
import sys
import time
from collections.abc import Mapping

import attrs

from jobledger.engine.base import EngineBase, Loaded, attempt_dir, compact
from jobledger.engine.batch import BatchBackend
from jobledger.engine.faults import checkpoint
from jobledger.engine.local import SCRIPT, LocalBackend
from jobledger.engine.plan import Phase, Readiness, Standing, readiness
from jobledger.engine.staging import task_files
from jobledger.engine.types import Update
from jobledger.engine.wrapper import WrapperSpec, render_wrapper
from jobledger.errors import JobledgerError, SubmitError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.model.job import SEPARATE, Job
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.project import writing
from jobledger.schedulers.base import BatchSpec, NativeDependency
from jobledger.states import JobState

_RETRY_KEYS = ("retries", "retry_on", "backoff", "escalate")


class SubmitterMixin(EngineBase):
    """Decides and performs submissions, always writing the intent first."""

    def record_update(self, update: Update) -> None:  # implemented by ObserverMixin
        raise NotImplementedError

    # ------------------------------------------------------------------ policy
    def retry_policy(self, job: Job, alias: str) -> RetryPolicy:
        """The nearest retry policy: job, then host, then ``[defaults]``."""
        if job.retry != RetryPolicy():
            return job.retry
        host = self.host_config(alias)
        defaults = {k: v for k, v in self.config.defaults.items() if k in _RETRY_KEYS}
        for table in (host.retry, defaults):
            if table:
                return RetryPolicy.build(
                    retries=table.get("retries"),
                    retry_on=table.get("retry_on"),
                    backoff=table.get("backoff"),
                    escalate=table.get("escalate"),
                )
        return job.retry

    def will_retry(self, st: Standing) -> bool:
        """True when the policy gives a finished attempt another try."""
        if st.phase is not Phase.FAILURE or st.cancel_requested:
            return False
        if st.state is JobState.DEPENDENCY_FAILED:
            return False
        found = self.job_for(st.key)
        if found is None:
            return False
        job, alias = found
        return self.retry_policy(job, alias).should_retry(st.state, st.attempt)

    def may_retry(self, key: str) -> bool:
        """True when the key's policy allows retries at all."""
        found = self.job_for(key)
        return found is not None and self.retry_policy(*found).retries > 0

    def resources_for(self, job: Job, alias: str, attempt: int) -> Resources:
        """Resources of one attempt: ``[defaults]`` < host < job, escalated, capped."""
        host = self.host_config(alias)
        default_fields, _ = Resources.split_kwargs(
            {k: v for k, v in self.config.defaults.items() if k not in _RETRY_KEYS}
        )
        base = Resources(**default_fields) if default_fields else Resources()
        res = job.resources.layered_over(host.resources.layered_over(base))
        policy = self.retry_policy(job, alias)
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

    def decide_retry(self, loaded: Loaded, st: Standing, now: float) -> Standing:
        """Record the next attempt (write-ahead: before anything is submitted)."""
        job, alias = loaded.by_key[st.key], loaded.hosts[st.key]
        delay = self.retry_policy(job, alias).backoff.delay(st.attempt)
        nxt = st.attempt + 1
        not_before = now + delay if delay else None
        self.ledger.record(
            ev.RETRY,
            {
                "key": st.key,
                "attempt": nxt,
                "reason": f"attempt {st.attempt} ended {st.state.value}",
                "manual": False,
                "not_before": not_before,
                "resources": compact(self.resources_for(job, alias, nxt)),
            },
        )
        checkpoint("after-retry")
        self.log.info("job %s: retrying (attempt %d) after %s", job.name, nxt, st.state.value)
        return Standing(st.key, nxt, Phase.PENDING, JobState.PENDING, not_before=not_before)

    # ------------------------------------------------------------------ acting
    def act(self, loaded: Loaded, keys: list[str]) -> int:
        """Retries, reconciliation and submission for ``keys`` (topological order)."""
        stand = loaded.stand
        submitted = 0
        now = time.time()
        for key in keys:
            st = stand[key]
            if st.cancel_requested and st.phase in (Phase.ACTIVE, Phase.RECONCILE):
                backend = self._backends.get(st.host or "")
                if isinstance(backend, LocalBackend):
                    for update in backend.cancel(self._idents(st), grace=0.0):
                        self.record_update(update)
            elif self.will_retry(st):
                stand[key] = self.decide_retry(loaded, st, now)
            elif st.phase is Phase.RECONCILE:
                stand[key] = self._reconcile(loaded, st)
                if st.cancel_requested:
                    self._cancel_reconciled(loaded, stand[key])
        local_batch: list[tuple[str, Standing]] = []
        for key in keys:
            st = stand[key]
            if st.phase is not Phase.PENDING or st.cancel_requested:
                continue
            verdict, native = self._readiness(loaded, key)
            if verdict is Readiness.NEVER:
                self._never(loaded, key, st)
                continue
            if verdict is Readiness.WAIT or (st.not_before is not None and st.not_before > now):
                continue
            backend = self.backend(loaded.hosts[key])
            if isinstance(backend, BatchBackend):
                if not self._may_submit(backend, loaded.hosts[key], stand):
                    continue
                stand[key] = self._submit_batch(loaded, key, st, native)
                submitted += stand[key].phase is Phase.ACTIVE
                for down in loaded.down.get(key, ()):
                    loaded.evaluate.add(down)
            else:
                local_batch.append((key, st))
        if local_batch:
            submitted += self._submit_local(loaded, local_batch)
        return submitted

    def _readiness(self, loaded: Loaded, key: str) -> tuple[Readiness, list[tuple[str, str]]]:
        stand = loaded.stand
        alias = loaded.hosts[key]
        backend = self.backend(alias)
        batch = isinstance(backend, BatchBackend)
        native_kinds = backend.adapter.native_kinds if isinstance(backend, BatchBackend) else frozenset()
        # upstreams that may get a new attempt (retry policy), or that the scheduler did not
        # list as alive in its last answer, are waited for by the engine: SLURM takes a
        # dependency on a job it has already forgotten as satisfied
        held_back = frozenset(
            up
            for up, _ in loaded.edges[key]
            if self.may_retry(up)
            or (
                batch and stand[up].phase is Phase.ACTIVE and stand[up].scheduler_id not in backend.live_ids  # type: ignore[union-attr]
            )
        )
        return readiness(
            loaded.edges[key],
            stand,
            waitfor=loaded.by_key[key].waitfor,
            host=alias,
            native_kinds=native_kinds,
            retrying=held_back,
        )

    def _never(self, loaded: Loaded, key: str, st: Standing) -> None:
        failed = [
            loaded.by_key[u].name if u in loaded.by_key else u[:12]
            for u, _ in loaded.edges[key]
            if loaded.stand[u].phase is Phase.FAILURE or loaded.stand[u].phase is Phase.SUCCESS
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
        loaded.stand[key] = attrs.evolve(st, phase=Phase.FAILURE, state=JobState.DEPENDENCY_FAILED)
        loaded.evaluate.update(loaded.down.get(key, ()))

    def _may_submit(self, backend: BatchBackend, alias: str, stand: Mapping[str, Standing]) -> bool:
        if backend.throttled_until > time.time():
            return False
        limit = backend.max_in_flight
        if limit is None:
            return True
        seen = {**{k: v for loaded in self.loaded.values() for k, v in loaded.stand.items()}, **stand}
        active = sum(1 for s in seen.values() if s.phase is Phase.ACTIVE and s.host == alias)
        return active < limit

    def _idents(self, st: Standing) -> list[tuple[str, int, int | None]]:
        raw = self.ledger.raw_state["jobs"].get(st.key) or {}
        indices = raw.get("array")
        if indices:
            return [(st.key, st.attempt, i) for i in indices]
        return [(st.key, st.attempt, None)]

    def _cancel_reconciled(self, loaded: Loaded, st: Standing) -> None:
        """Finish a cancel that met a submission interrupted by a crash."""
        if st.phase is Phase.ACTIVE:
            backend = self.backend(st.host or "local")
            if isinstance(backend, BatchBackend) and st.scheduler_id not in (None, "unknown"):
                backend.cancel([st.scheduler_id or ""])
            return
        self.ledger.append(
            ev.STATE,
            {"key": st.key, "attempt": st.attempt, "state": JobState.CANCELLED.value,
             "reason": "cancelled before submission"},
        )  # fmt: skip

    def _reconcile(self, loaded: Loaded, st: Standing) -> Standing:
        """An intent without outcome: find what happened before submitting again."""
        raw = self.ledger.raw_state["jobs"][st.key]
        att = raw["attempts"][st.attempt]
        alias = att.get("host") or raw.get("host", "local")
        backend = self.backend(alias)
        outcome = {"key": st.key, "attempt": st.attempt, "host": alias, "run_dir": att.get("run_dir"),
                   "reconciled": True}  # fmt: skip
        if isinstance(backend, LocalBackend):
            # claims and exit files tell what ran; adopt() queues again what never started
            self.ledger.append(ev.SUBMITTED, {**outcome, "scheduler_id": "local"})
            return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id="local")
        job = loaded.by_key[st.key]
        found = backend.find(job.safe_name, f"jl:{st.key}:{st.attempt}")
        if found is None:
            unit = posixpath.join(self.remote_root(alias), att.get("run_dir") or "")
            seen = backend.host.read_files([posixpath.join(unit, "claim"), posixpath.join(unit, "exit")])
            if any(seen.values()):
                found = "unknown"
        if found is None:
            return attrs.evolve(st, phase=Phase.PENDING)
        self.ledger.record(ev.SUBMITTED, {**outcome, "scheduler_id": found}, durable=False)
        return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id=found)

    # ------------------------------------------------------------------ local
    def wrapper_spec(self, loaded: Loaded, key: str, attempt: int, remote_att: str) -> WrapperSpec:
        """The wrapper of one attempt, with paths as seen on its host."""
        job = loaded.by_key[key]
        host = self.host_config(loaded.hosts[key])
        if not host.is_remote:
            workdir = loaded.workdirs[key]
        elif job.workdir:  # remote: absolute, or relative to the attempt directory
            workdir = posixpath.join(remote_att, job.workdir)
        else:
            workdir = remote_att
        python = job.python or host.python or (sys.executable if not host.is_remote else "python3")
        return WrapperSpec(
            attempt_dir=remote_att,
            workdir=workdir,
            tasks=job.tasks,
            is_array=job.array is not None,
            markers_dir=self.markers_dir_for(loaded.hosts[key]),
            marker=f"{key[:12]}-{attempt}",
            env={**host.env, **job.env},
            modules=(*host.modules, *job.modules),
            setup=job.setup,
            stdout=job.stdout,
            stderr=None if job.stderr in (None, SEPARATE) else job.stderr,
            merge_stderr=job.stderr is None,
            python=python,
        )

    def _prepare_local(self, loaded: Loaded, key: str, attempt: int) -> str:
        job = loaded.by_key[key]
        att_dir = attempt_dir(self.project.run_dir_name(job.name, key), attempt)
        path = self.project.root / att_dir
        spec = self.wrapper_spec(loaded, key, attempt, str(path))
        with writing(path, "run directory"):
            path.mkdir(parents=True, exist_ok=True)
            (path / SCRIPT).write_text("#!/bin/bash\n" + render_wrapper(spec))
            for fname, data in task_files(job).items():
                (path / fname).write_bytes(data)
        # array element directories are made lazily: by the backend when it starts the
        # element, and by the wrapper itself (mkdir -p) wherever it runs
        return att_dir

    def _submit_local(self, loaded: Loaded, batch: list[tuple[str, Standing]]) -> int:
        """Write every intent (one fsync), then queue the units in the local backend."""
        prepared = []
        for key, st in batch:
            job, alias = loaded.by_key[key], loaded.hosts[key]
            resources = self.resources_for(job, alias, st.attempt)
            att_dir = self._prepare_local(loaded, key, st.attempt)
            prepared.append((key, st, alias, att_dir, resources))
            self.ledger.append(
                ev.INTENT,
                {"key": key, "attempt": st.attempt, "action": "submit", "host": alias,
                 "run_dir": att_dir, "workflow": loaded.name, "resources": compact(resources)},
            )  # fmt: skip
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
            loaded.adopted.add((key, st.attempt))
            self.ledger.append(
                ev.SUBMITTED,
                {"key": key, "attempt": st.attempt, "host": alias, "scheduler_id": "local",
                 "run_dir": att_dir},
            )  # fmt: skip
            loaded.stand[key] = attrs.evolve(
                st, phase=Phase.ACTIVE, host=alias, scheduler_id="local", state=JobState.SUBMITTED
            )
        self.ledger.flush()
        return len(prepared)

    def pump(self) -> int:
        """Start queued local units while the CPU budget allows."""
        count = 0
        for backend in list(self._backends.values()):
            if isinstance(backend, LocalBackend):
                for update in backend.pump():
                    checkpoint("after-spawn")
                    self.record_update(update)
                    count += 1
        return count

    # ------------------------------------------------------------------ batch
    def _submit_batch(
        self, loaded: Loaded, key: str, st: Standing, native: list[tuple[str, str]]
    ) -> Standing:
        """Stage, write the intent (fsync), submit, record the outcome."""
        job, alias = loaded.by_key[key], loaded.hosts[key]
        backend = self.backend(alias)
        assert isinstance(backend, BatchBackend)
        resources = self.resources_for(job, alias, st.attempt)
        att_dir = attempt_dir(self.project.run_dir_name(job.name, key), st.attempt)
        remote_att = posixpath.join(self.remote_root(alias), att_dir)
        try:
            spec, offset = self._batch_spec(loaded, key, st.attempt, resources, native, remote_att)
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
            files = {script_path: script.encode()}
            files.update({posixpath.join(remote_att, n): d for n, d in task_files(job).items()})
            self._stage(backend.host, remote_att, files, job)
            if self.host_config(alias).is_remote:
                from jobledger.hosts.staging import upload_for

                upload_for(self, loaded, key, backend.host, spec.workdir)
        except JobledgerError as exc:
            self.log.warning("job %s: staging on %s failed, will retry: %s", job.name, alias, exc)
            return st
        self.ledger.record(
            ev.INTENT,
            {"key": key, "attempt": st.attempt, "action": "submit", "host": alias, "run_dir": att_dir,
             "workflow": loaded.name, "resources": compact(resources),
             "native_deps": [list(n) for n in native], "index_offset": offset},
        )  # fmt: skip
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
        return attrs.evolve(st, phase=Phase.ACTIVE, host=alias, scheduler_id=sid, state=JobState.SUBMITTED)

    def _batch_spec(
        self,
        loaded: Loaded,
        key: str,
        attempt: int,
        resources: Resources,
        native: list[tuple[str, str]],
        remote_att: str,
    ) -> tuple[BatchSpec, int]:
        """The batch script's inputs, and the array index offset the scheduler needs."""
        job, alias = loaded.by_key[key], loaded.hosts[key]
        backend = self.backend(alias)
        assert isinstance(backend, BatchBackend)
        array = job.array
        offset = 0
        if array is not None and min(array.indices) < backend.adapter.array_base:
            offset = backend.adapter.array_base - min(array.indices)
            array = attrs.evolve(array, indices=tuple(i + offset for i in array.indices))
        spec = attrs.evolve(self.wrapper_spec(loaded, key, attempt, remote_att), index_offset=offset)
        batch = BatchSpec(
            job_name=job.safe_name,
            comment=f"jl:{key}:{attempt}",
            run_dir=remote_att,
            workdir=spec.workdir,
            body=render_wrapper(spec),
            resources=resources,
            array=array,
            dependencies=tuple(NativeDependency(sid, kind) for sid, kind in native),
            setup=self.host_config(alias).setup,
            raw_args=job.scheduler_args.get(backend.adapter.name)
            or (job.scheduler_args.get("pbs", ()) if backend.adapter.name == "torque" else ()),
        )
        return batch, offset

    def _stage(self, host: Host, remote_att: str, files: Mapping[str, bytes], job: Job) -> None:
        """Create the attempt directory and write the script and pickles (the wrapper
        creates each array element's directory when the element starts)."""
        with writing(remote_att, "run directory"):
            host.makedirs([remote_att])
            for path, data in files.items():
                host.write_file(path, data, 0o755 if path.endswith(".sh") else 0o644)
