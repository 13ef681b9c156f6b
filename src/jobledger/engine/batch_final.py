"""Final states of batch units: what the exit file, the scheduler, its accounting (or the
lack of any record) say about units the status listing calls ended or no longer shows.

:func:`merge_final` is the pure decision; :class:`FinalStates` reads the files and asks
accounting (``sacct``, ``qacct`` ...), then a per-job detail query, and calls a unit lost
only when nothing has known it for :data:`LOST_AFTER` seconds.
"""

from __future__ import annotations

import logging
import posixpath
import time

from jobledger.engine.types import Unit, Update
from jobledger.engine.unit_files import CLAIM_FILE, EXIT_FILE, parse_exit_file
from jobledger.errors import HostError, SchedulerError
from jobledger.hosts.base import Host
from jobledger.schedulers.base import Observation, SchedulerAdapter, element_key, split_element_key
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


class FinalStates:
    """Decides the final states of one host's units from exit files and accounting, and
    remembers since when each unit has been missing everywhere."""

    def __init__(self, alias: str, host: Host, adapter: SchedulerAdapter, accounting: str = "auto") -> None:
        self.alias = alias
        self.host = host
        self.adapter = adapter
        self.accounting = accounting
        self._missing: dict[tuple[str, int, int | None], float] = {}

    def seen(self, unit: Unit) -> None:
        """The scheduler lists ``unit`` as not final: it is not missing."""
        self._missing.pop(unit.ident, None)

    def read(self, units: list[Unit], observed: dict[str, Observation], remote_dir: str) -> list[Update]:
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
        asked: set[str] = set()
        known = {split_element_key(k)[0] for k in found}
        for sid in ids:
            if sid in found or sid in known:
                continue
            base = split_element_key(sid)[0]
            if base in asked:
                continue  # one detail query of an array answers for all its elements
            argv = self.adapter.detail_argv(base)
            if argv is None:
                break
            asked.add(base)
            try:
                result = self.host.run(argv, timeout=60)
            except HostError:
                continue
            if result.ok:
                found.update(self.adapter.parse_detail(result.stdout))
        return found
