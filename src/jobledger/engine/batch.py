"""The batch backend: one scheduler adapter driven through one host (local or SSH).

Per poll cycle it runs **one** status command for all units on the host, reads exit
files only for units the scheduler reports ended (or no longer lists), and falls back to
accounting (``sacct``, ``qacct`` ...) and then to "lost" only when nothing else knows.
Submission failures the scheduler calls transient are retried with backoff; limits on
queued jobs (``QOSMaxSubmitJobPerUserLimit``, ``max_in_flight``) throttle instead of
failing.
"""

from __future__ import annotations

import logging
import posixpath
import random
import time
from collections.abc import Sequence

from jobledger.engine.types import Unit, Update
from jobledger.engine.wrapper import CLAIM_FILE, EXIT_FILE, parse_exit_file
from jobledger.errors import HostError, SchedulerError, SubmitError
from jobledger.hosts.base import Host
from jobledger.schedulers.base import Observation, SchedulerAdapter, element_key
from jobledger.states import JobState

log = logging.getLogger("jobledger.batch")

#: Final scheduler states that say more than an exit code can.
_SPECIFIC = frozenset(
    {
        JobState.TIMEOUT,
        JobState.OUT_OF_MEMORY,
        JobState.CANCELLED,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEPENDENCY_FAILED,
    }
)
#: Seconds a unit may be missing from the queue with no record before it is called lost
#: (accounting may lag: SGE flushes its accounting file every 15 s by default).
LOST_AFTER = 60.0
#: Scheduler id recorded when a crashed submission's job was found only by its files.
UNKNOWN_ID = "unknown"


def merge_final(
    observation: Observation | None,
    exit_text: bytes | None,
    cancel_requested: bool,
    time_limit: int | None,
) -> tuple[JobState, int | None, int | None, str] | None:
    """Decide a unit's final state from what the scheduler and the exit file say.

    Returns ``(state, exit_code, signal, reason)`` or ``None`` when nothing final is known.
    """
    record = parse_exit_file(exit_text)
    obs_final = observation is not None and observation.state.is_final
    if record is None and not obs_final:
        return None
    if record is not None:
        code, sig, reason = record.exit_code, record.signal, record.reason
        if obs_final and observation is not None and observation.state in _SPECIFIC:
            return observation.state, code, sig, observation.reason or reason
        if code == 0 and not sig:
            return JobState.COMPLETED, 0, None, ""
        if cancel_requested:
            return JobState.CANCELLED, code, sig, "cancelled on request"
        if (
            sig == 15
            and time_limit
            and record.started
            and record.ended
            and record.ended - record.started >= time_limit - 1
        ):
            return JobState.TIMEOUT, code, sig, "time limit reached"
        if obs_final and observation is not None and observation.state is not JobState.COMPLETED:
            return observation.state, code, sig, observation.reason or reason
        return JobState.FAILED, code, sig, reason or f"exit code {code}"
    assert observation is not None
    state = observation.state
    if state is JobState.FAILED and cancel_requested:
        state = JobState.CANCELLED
    return state, observation.exit_code, observation.signal, observation.reason


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
        self._missing: dict[tuple[str, int, int | None], float] = {}
        self._user: str | None = None
        self.status_calls = 0
        self.throttled_until = 0.0
        self._delay = 0.0
        self.live_ids: set[str] = set()
        """Base ids the scheduler listed as not final in the last poll, or submitted since."""

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
        self.live_ids = {o.base_id or o.key for o in observed.values() if not o.state.is_final}
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
            self._missing.pop(unit.ident, None)
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
            updates.extend(self._finals(need_files, observed, remote_dir))
        if hopeless:
            try:
                self.cancel(sorted(set(hopeless)))
            except HostError as exc:
                log.warning("cannot cancel jobs held forever on %s: %s", self.alias, exc)
        return updates

    def _finals(self, units: list[Unit], observed: dict[str, Observation], remote_dir: str) -> list[Update]:
        """Final states of units the scheduler calls ended or no longer lists."""
        exits = {u.ident: posixpath.join(remote_dir, u.unit_dir, EXIT_FILE) for u in units}
        claims = {u.ident: posixpath.join(remote_dir, u.unit_dir, CLAIM_FILE) for u in units}
        try:
            files = self.host.read_files([*exits.values(), *claims.values()])
        except HostError as exc:
            log.warning("cannot read exit files on %s: %s", self.alias, exc)
            return []
        accounting: dict[str, Observation] | None = None
        updates = []
        now = time.monotonic()
        for unit in units:
            key = element_key(unit.scheduler_id or "", unit.task_index)
            obs = observed.get(key)
            text = files.get(exits[unit.ident])
            claimed = files.get(claims[unit.ident]) is not None
            if obs is None and parse_exit_file(text) is None and unit.scheduler_id != UNKNOWN_ID:
                if accounting is None:
                    accounting = self._accounting(units)
                obs = accounting.get(key)
            if (
                obs is not None
                and parse_exit_file(text) is None
                and claimed
                and obs.state is JobState.COMPLETED
            ):
                # the scheduler's job ended well but the claimed run has not written its
                # exit record: another wrapper runs this unit (a duplicate submission
                # that stepped aside) — wait for the real one
                obs = None
            decided = merge_final(obs, text, unit.cancel_requested, unit.time_limit)
            if decided is None and obs is None and unit.cancel_requested and not claimed:
                # cancelled before it started: gone from the queue, and accounting keeps
                # no record of a job that never ran (SGE's qacct)
                decided = (JobState.CANCELLED, None, None, "cancelled before it started")
            if decided is None:
                first = self._missing.setdefault(unit.ident, now)
                if now - first >= LOST_AFTER and not (claimed and unit.scheduler_id == UNKNOWN_ID):
                    self._missing.pop(unit.ident, None)
                    name, sid = self.adapter.name, unit.scheduler_id
                    reason = f"{name} no longer knows job {sid} and it left no exit record"
                    updates.append(
                        Update(unit.key, unit.attempt, unit.index, JobState.LOST, reason=reason,
                               source=self.adapter.name)
                    )  # fmt: skip
                continue
            self._missing.pop(unit.ident, None)
            state, code, sig, reason = decided
            updates.append(
                Update(
                    unit.key,
                    unit.attempt,
                    unit.index,
                    state,
                    exit_code=code,
                    signal=sig,
                    reason=reason,
                    source="exit-file" if text else self.adapter.name,
                    at=obs.ended if obs else None,
                )
            )
        return updates

    def _accounting(self, units: list[Unit]) -> dict[str, Observation]:
        if self.accounting == "none":
            return {}
        ids = sorted({u.scheduler_id for u in units if u.scheduler_id and u.scheduler_id != UNKNOWN_ID})
        if not ids:
            return {}
        try:
            argv = self.adapter.accounting_argv(ids)
        except SchedulerError as exc:
            log.warning("no accounting query on %s: %s", self.alias, exc)
            return {}
        found: dict[str, Observation] = {}
        if argv is not None:
            try:
                result = self.host.run(argv, timeout=120)
                if result.ok:
                    found.update(self.adapter.parse_accounting(result.stdout))
            except HostError:
                pass
        for sid in ids:
            if any(k == sid or k.startswith(f"{sid}[") for k in found):
                continue
            argv = self.adapter.detail_argv(sid)
            if argv is None:
                break
            try:
                result = self.host.run(argv, timeout=60)
            except HostError:
                continue
            if result.ok:
                found.update(self.adapter.parse_detail(result.stdout))
        return found

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
