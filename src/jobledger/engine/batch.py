"""The scheduler client of the batch backend: one adapter driven through one host (local or SSH).

Per poll cycle it runs **one** status command for all units on the host, reads exit
files only for units the scheduler reports ended (or no longer lists), and falls back to
accounting (``sacct``, ``qacct`` ...) and then to "lost" only when nothing else knows.
Submission failures the scheduler calls transient are retried with backoff; limits on
queued jobs (``QOSMaxSubmitJobPerUserLimit``, ``max_in_flight``) throttle instead of
failing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence

from jobledger.engine.batch_final import UNKNOWN_ID, FinalStates
from jobledger.engine.types import Unit, Update
from jobledger.errors import HostError, SchedulerError, SubmitError
from jobledger.hosts.base import Host
from jobledger.schedulers.base import Observation, SchedulerAdapter, element_key
from jobledger.states import JobState

log = logging.getLogger("jobledger.batch")


class SchedulerClient:
    """Submits, observes and cancels through one adapter on one host (the machinery of the
    batch backend)."""

    native_dependencies = True

    def __init__(
        self,
        alias: str,
        host: Host,
        adapter: SchedulerAdapter,
        *,
        max_in_flight: int | None = None,
        accounting: str = "auto",
    ) -> None:
        self.alias = alias
        self.host = host
        self.adapter = adapter
        self.max_in_flight = max_in_flight
        self.accounting = accounting
        self.finals = FinalStates(alias, host, adapter, accounting)
        self._user: str | None = None
        self.status_calls = 0
        self.throttled_until = 0.0
        self._delay = 0.0
        self.live_ids: set[str] = set()
        """Base ids the scheduler listed as not final in the last poll, or submitted since
        (and element keys, where a job may wait for one element of an array)."""

    # ------------------------------------------------------------------ submit
    def user(self) -> str:
        """Login user on the host (cached)."""
        if self._user is None:
            self._user = self.host.user()
        return self._user

    def submit_script(self, script_path: str, job: str) -> str:
        """Submit a script already on the host, once; returns the scheduler id.

        Nothing is retried here: a failure that may have reached the scheduler (a timeout,
        a dropped connection, a controller that did not answer) is raised as a transient
        :class:`SubmitError`, and the engine looks the job up by its tag before it submits
        again. Further submissions to this host pause with a growing backoff meanwhile; a
        submit-limit message pauses them for 30 s.
        """
        argv = self.adapter.submit_argv(script_path)
        stdin = None
        if self.adapter.submit_uses_stdin:
            data = self.host.read_file(script_path)
            stdin = data.decode() if data else ""
        try:
            result = self.host.run(argv, stdin=stdin, timeout=120)
        except HostError as exc:
            self._back_off()
            raise SubmitError(
                f"submitting {job!r} on {self.alias!r}: {exc}", transient=True, job=job
            ) from None
        try:
            sid = self.adapter.parse_submit(result.returncode, result.stdout, result.stderr)
        except SubmitError as exc:
            text = str(exc)
            limit = getattr(self.adapter, "is_submit_limit", None)
            if callable(limit) and limit(result.stderr + result.stdout):
                self.throttled_until = time.time() + 30
                raise SubmitError(
                    f"{job!r}: submit limit reached on {self.alias!r}, will retry: {text}",
                    transient=True,
                    job=job,
                ) from None
            if exc.transient:
                self._back_off()
            raise SubmitError(
                f"job {job!r} on host {self.alias!r}: {text}", transient=exc.transient, job=job
            ) from None
        self._delay = 0.0
        self.live_ids.add(sid)
        return sid

    def _back_off(self) -> None:
        self._delay = min(30.0, max(1.0, self._delay * 2))
        self.throttled_until = time.time() + self._delay * (0.5 + random.random())
        log.warning("submissions to %s paused for %.1fs after a transient failure", self.alias, self._delay)

    def find(self, job_name: str, tag: str) -> str | None:
        """Scheduler id of a job submitted with ``tag`` (comment) or named ``job_name``."""
        try:
            result = self.host.run(self.adapter.lookup_argv(self.user(), job_name), timeout=60)
        except HostError:
            return None
        if not result.ok:
            return None
        found = self.adapter.parse_status(result.stdout)
        for obs in found.values():
            if obs.comment == tag or (tag in obs.comment):
                return obs.base_id or obs.key
        return None

    # ------------------------------------------------------------------ observe
    def poll(self, units: Sequence[Unit], remote_dir: str) -> list[Update]:
        """One status query for ``units``; returns updates for those that changed."""
        if not units:
            return []
        ids = sorted({u.scheduler_id for u in units if u.scheduler_id and u.scheduler_id != UNKNOWN_ID})
        observed: dict[str, Observation] = {}
        try:
            result = self.host.run(self.adapter.status_argv(self.user(), ids), timeout=120)
            self.status_calls += 1
        except HostError as exc:
            log.warning("status query on %s failed: %s", self.alias, exc)
            return []
        # qstat and bjobs exit non-zero when one id is unknown yet list the others
        if not result.ok and not result.stdout.strip():
            log.warning("status query on %s failed: %s", self.alias, result.stderr.strip())
            return []
        try:
            observed = self.adapter.parse_status(result.stdout)
        except SchedulerError as exc:
            log.warning("cannot read the status from %s: %s", self.alias, exc)
            return []
        live = [o for o in observed.values() if not o.state.is_final]
        self.live_ids = {o.base_id or o.key for o in live}
        if self.adapter.element_dependencies:  # a packed job is one element of an array
            self.live_ids.update(o.key for o in live)
        updates: list[Update] = []
        need_files: list[Unit] = []
        hopeless: list[str] = []
        for unit in units:
            if not unit.scheduler_id:
                continue
            obs = observed.get(element_key(unit.scheduler_id, unit.task_index))
            if obs is None and unit.index is not None:
                obs = observed.get(unit.scheduler_id)  # whole array still pending as one line
            if obs is not None and not obs.state.is_final and obs.reason == "DependencyNeverSatisfied":
                # held forever by a dependency that failed (LSF, SLURM without the kill
                # flag): it will never run, so say so and take it off the queue
                hopeless.append(unit.scheduler_id)
                updates.append(
                    Update(unit.key, unit.attempt, unit.index, JobState.DEPENDENCY_FAILED,
                           reason="never ran: a dependency can no longer be satisfied",
                           source=self.adapter.name)
                )  # fmt: skip
                continue
            if obs is None or obs.state.is_final:
                need_files.append(unit)
                continue
            self.finals.seen(unit)
            if obs.state.rank > unit.state.rank:
                updates.append(
                    Update(
                        unit.key,
                        unit.attempt,
                        unit.index,
                        obs.state,
                        reason=obs.reason,
                        source=self.adapter.name,
                        at=obs.started,
                    )
                )
        if need_files:
            updates.extend(self.finals.read(need_files, observed, remote_dir))
        if hopeless:
            try:
                self.cancel(sorted(set(hopeless)))
            except HostError as exc:
                log.warning("cannot cancel jobs held forever on %s: %s", self.alias, exc)
        return updates

    # ------------------------------------------------------------------ cancel
    def cancel(self, scheduler_ids: Sequence[str]) -> None:
        """Cancel jobs (whole arrays) on the scheduler."""
        if not scheduler_ids:
            return
        result = self.host.run(self.adapter.cancel_argv(list(scheduler_ids)), timeout=120)
        try:
            self.adapter.parse_cancel(result.returncode, result.stdout, result.stderr)
        except SchedulerError as exc:
            log.warning("cancel on %s: %s", self.alias, exc)
