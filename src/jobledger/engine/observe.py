"""Observation: what the backends say about active units, recorded as ledger events."""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Iterable, Mapping
from typing import Any

from jobledger.engine.base import EngineBase, attempt_dir
from jobledger.engine.batch import BatchBackend
from jobledger.engine.faults import checkpoint
from jobledger.engine.local import LocalBackend
from jobledger.engine.plan import Phase, Standing
from jobledger.engine.types import Unit, Update
from jobledger.errors import JobledgerError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.states import JobState

#: Seconds between full checks of local processes (watchdog wakes the engine sooner).
LOCAL_FALLBACK_POLL = 2.0
#: Seconds between scheduler queries per host unless the host sets ``poll_interval``.
DEFAULT_POLL = 3.0


class ObserverMixin(EngineBase):
    """Turns backend observations into ``state`` and ``result`` events."""

    _last_poll: dict[str, float]
    _last_local_check: float

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
            common: dict[str, Any] = {
                "key": key,
                "attempt": st.attempt,
                "host": att.get("host") or raw.get("host", "local"),
                "scheduler_id": att.get("scheduler_id"),
                "attempt_dir": att.get("run_dir") or attempt_dir(raw.get("run_dir", ""), st.attempt),
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
                        started = el.get("started_at") if el else None
                        units.append(Unit(index=index, state=state, started_at=started, **common))
            else:
                state = JobState(att["state"])
                units.append(Unit(index=None, state=state, started_at=att.get("started_at"), **common))
        return units

    def observe(
        self, keys: Iterable[str], stand: Mapping[str, Standing], markers: list[str], *, adopt: bool
    ) -> list[Update]:
        """Ask each backend about the active units of ``keys``; returns recorded updates.

        Local units are adopted (watched, or queued again when they never started) when
        ``adopt``; after that the local backend tracks them itself and learns of their
        end from the completion markers. Batch hosts are queried at most once per poll
        interval (sooner when a marker names one of their units).
        """
        now = time.monotonic()
        full = now - self._last_local_check >= LOCAL_FALLBACK_POLL
        if full:
            self._last_local_check = now
        due = {
            alias
            for alias, backend in self._backends.items()
            if isinstance(backend, BatchBackend)
            and (
                now - self._last_poll.get(alias, 0.0)
                >= (self.host_config(alias).poll_interval or DEFAULT_POLL)
                or bool(markers)
            )
        }
        by_host: dict[str, list[str]] = {}
        if adopt or full or due or not self._backends:
            for key in keys:
                st = stand[key]
                if st.phase is Phase.ACTIVE:
                    by_host.setdefault(st.host or "local", []).append(key)
        recorded: list[Update] = []
        local_hosts = [a for a, b in self._backends.items() if isinstance(b, LocalBackend)]
        for alias in {*by_host, *local_hosts}:
            try:
                backend = self.backend(alias)
            except JobledgerError as exc:
                self.log.warning("cannot observe host %s: %s", alias, exc)
                continue
            host_keys = by_host.get(alias, [])
            if isinstance(backend, LocalBackend):
                if adopt and host_keys:
                    for unit in self.active_units(host_keys, stand):
                        backend.adopt(unit)
                updates = backend.collect(markers, full)
                if full and host_keys:
                    updates += self._expire_local(backend, self.active_units(host_keys, stand))
            else:
                if not host_keys:
                    continue
                marker_hit = bool(markers) and any(k[:12] in m for k in host_keys for m in markers)
                first = alias not in self._last_poll
                if alias not in due and not marker_hit and not first:
                    continue
                self._last_poll[alias] = now
                updates = backend.poll(self.active_units(host_keys, stand), self.remote_root(alias))
            for update in updates:
                if update.state is JobState.RUNNING and isinstance(backend, LocalBackend):
                    checkpoint("after-spawn")  # started by the launcher, not yet recorded
                self.record_update(update)
                recorded.append(update)
        return recorded

    def _expire_local(self, backend: LocalBackend, units: list[Unit]) -> list[Update]:
        """Stop local units that ran past their time limit (they end as ``timeout``)."""
        limits = {u.ident: u.time_limit for u in units if u.time_limit}
        if not limits:
            return []
        now = time.time()
        expired = [
            ident
            for ident, _pid, started in backend.running_units()
            if ident in limits and now - started > (limits[ident] or 0)
        ]
        if expired:
            backend.timed_out.update(expired)
            backend.cancel(expired, grace=5.0)
        return []

    def record_update(self, update: Update) -> None:
        """Append the ``state`` event (and ``result`` of Python tasks) for an update."""
        raw_job = self.ledger.raw_state["jobs"].get(update.key)
        if update.state is JobState.CANCELLED and raw_job is not None:
            att = raw_job["attempts"].get(update.attempt)
            if att is not None and att.get("cancel") is None:
                # stopped by another process, whose cancel intent was durable before it
                # wrote the unit's ``cancel`` file: read it now, before any retry is decided
                self.ledger.refresh()
                raw_job = self.ledger.raw_state["jobs"].get(update.key)
        state = update.state
        reason = update.reason
        if raw_job is not None and state in (JobState.FAILED, JobState.LOST):
            att = raw_job["attempts"].get(update.attempt)
            if att is not None and att.get("cancel") is not None:
                state = JobState.CANCELLED
                reason = reason or "cancelled on request"
        if state is JobState.CANCELLED and raw_job is not None and update.signal is None:
            state, reason = self._dependency_verdict(raw_job, update, state, reason)
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
            started = {
                "key": update.key,
                "attempt": update.attempt,
                "state": "running",
                "at": update.started,
            }
            if update.index is not None:
                started["index"] = update.index
            self.ledger.append(ev.STATE, started)
        self.ledger.append(ev.STATE, data)

    def _dependency_verdict(
        self, raw_job: Mapping[str, Any], update: Update, state: JobState, reason: str
    ) -> tuple[JobState, str]:
        """A job the scheduler cancelled before it ran, nobody having asked, while an
        ``afterok`` upstream failed, was cancelled *because of* that upstream (Torque,
        PBS and SLURM's ``--kill-on-invalid-dep`` all do this)."""
        from jobledger.engine.plan import standing

        att = raw_job["attempts"].get(update.attempt) or {}
        if att.get("cancel") is not None or not att.get("native_deps"):
            return state, reason
        jobs = self.ledger.raw_state["jobs"]
        failed = []
        for up, kind in raw_job.get("after", ()):
            st = standing(up, jobs.get(up))
            if kind == "afterok" and st.phase is Phase.FAILURE:
                failed.append(jobs.get(up, {}).get("name", up[:12]))
        if failed:
            return JobState.DEPENDENCY_FAILED, f"never ran: upstream {', '.join(failed)} did not complete"
        return state, reason

    def _python_result(self, raw_job: Mapping[str, Any], update: Update) -> dict[str, Any] | None:
        att = raw_job["attempts"].get(update.attempt) or {}
        base = att.get("run_dir") or attempt_dir(raw_job.get("run_dir", ""), update.attempt)
        unit = base if update.index is None else f"{base}/{update.index}"
        alias = att.get("host") or raw_job.get("host", "local")
        root = self.remote_root(alias)
        paths = {name: posixpath.join(root, unit, name) for name in ("result.json", "error.json")}
        host = self._host_of(alias)
        try:
            files = host.read_files(list(paths.values()))
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
                loaded = json.loads(err)
                out["error"] = {k: v for k, v in loaded.items() if k in ("type", "message", "traceback")}
            except ValueError:
                pass
        return out if (meta or err) else None

    def _host_of(self, alias: str) -> Host:
        backend = self.backend(alias)
        if isinstance(backend, BatchBackend):
            return backend.host
        from jobledger.hosts.local import LocalHost

        return LocalHost(alias)
