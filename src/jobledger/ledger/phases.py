"""Where a job stands, from its records alone: an attempt's one state (array elements
aggregated), a job's :class:`Phase` for a driver, whether it is settled (final with no
retry to come), whether a cancel stands, and what the latest run of a workflow reused.
Pure functions of the reducer's records."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from jobledger.ledger.records import AttemptRecord, JobRecord, Order
from jobledger.ledger.reducer import Model
from jobledger.ledger.specs import JobSpec
from jobledger.states import STATES, JobState

_FAILURE_PRIORITY = (
    JobState.OUT_OF_MEMORY,
    JobState.TIMEOUT,
    JobState.NODE_FAIL,
    JobState.PREEMPTED,
    JobState.BOOT_FAIL,
    JobState.LOST,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.DEPENDENCY_FAILED,
)


def aggregate(states: Sequence[JobState]) -> JobState:
    """One state for a set of array elements."""
    if not states:
        return JobState.PENDING
    if any(not s.is_final for s in states):
        if any(s is JobState.RUNNING for s in states) or any(s.is_final for s in states):
            return JobState.RUNNING
        return max(states, key=lambda s: s.rank)
    if all(s is JobState.COMPLETED for s in states):
        return JobState.COMPLETED
    present = set(states)
    return next(s for s in _FAILURE_PRIORITY if s in present)


def element_states(att: AttemptRecord, indices: Sequence[int]) -> list[tuple[int, JobState]]:
    """Each array element's state (an element follows its attempt until it has its own)."""
    stored = att.elements or {}
    own = att.state
    out = []
    for index in indices:
        element = stored.get(index)
        if element is None:
            out.append((index, own if own.rank > JobState.PENDING.rank else JobState.PENDING))
            continue
        mine = element.state
        if mine.is_final:
            out.append((index, mine))
        elif own.is_final:
            out.append((index, own))
        else:
            out.append((index, mine if mine.rank >= own.rank else own))
    return out


def attempt_state(att: AttemptRecord, spec: JobSpec | None) -> JobState:
    """An attempt's one state: its own, or its array elements' aggregated."""
    indices = spec.array if spec is not None else None
    if not indices:
        return att.state
    state = aggregate([s for _, s in element_states(att, indices)])
    if att.state.is_final and not state.is_final:
        return att.state
    return state


class Phase(enum.Enum):
    """Where a job stands for a driver."""

    PENDING = "pending"
    """The current attempt is decided (or the first), nothing submitted yet."""
    RECONCILE = "reconcile"
    """An intent was written and no outcome is known: look before submitting again."""
    ACTIVE = "active"
    """A backend holds the current attempt."""
    SUCCESS = "success"
    FAILURE = "failure"


def job_phase(job: JobRecord) -> tuple[Phase, int, JobState]:
    """``(phase, current attempt number, its state)`` of a job, from its record alone."""
    att = job.current
    if att is None:
        return Phase.PENDING, 1, JobState.PENDING
    state = attempt_state(att, job.spec)
    if state.is_final:
        return (Phase.SUCCESS if state is JobState.COMPLETED else Phase.FAILURE), att.number, state
    if att.outcome == "submitted":
        return Phase.ACTIVE, att.number, state
    if att.intent is not None and att.outcome in (None, "transient"):
        return Phase.RECONCILE, att.number, state
    return Phase.PENDING, att.number, state


def settled(job: JobRecord | None) -> JobState | None:
    """A job's final state once nothing more will happen to it (completed, or failed with
    no retry to come); ``None`` while it is open."""
    if job is None:
        return None
    phase, attempt, state = job_phase(job)
    if phase is Phase.SUCCESS:
        return state
    if phase is not Phase.FAILURE:
        return None
    spec = job.spec
    if (
        spec is not None
        and state is not JobState.DEPENDENCY_FAILED
        and not cancel_stands(job)
        and spec.may_retry(state.value, attempt)
    ):
        return None
    return state


def settled_state(model: Model, key: str) -> JobState | None:
    """The final state of ``key`` once nothing more will happen to it (``None`` while open
    or unknown) — from the snapshot's index while the record is still packed, so a finished
    100,000-job project is not decoded to learn that it is finished."""
    packed = getattr(model.jobs, "packed_settled", None)
    if packed is not None:
        found = packed(key)
        if found is not None:
            return STATES[found]
    return settled(model.jobs.get(key))


def settled_states(model: Model, keys: Sequence[str]) -> dict[str, JobState | None]:
    """:func:`settled_state` of each of ``keys``, still-packed records read in one pass."""
    bulk = getattr(model.jobs, "packed_settled_many", None)
    if bulk is None or len(keys) <= 64:
        return {key: settled_state(model, key) for key in keys}
    packed, get = bulk(keys), model.jobs.get
    return {key: STATES[packed[key]] if key in packed else settled(get(key)) for key in keys}


def cancel_stands(job: JobRecord) -> bool:
    """True when a cancel request is the latest word on this job: no attempt starts or is
    retried until an explicit re-run or retry comes after it."""
    if job.cancel is None:
        return False
    manual = [a.retry.order for a in job.attempts.values() if a.retry is not None and a.retry.manual]
    return not manual or max(manual) < job.cancel


def _completed_before(att: AttemptRecord, spec: JobSpec | None, order: Order) -> bool:
    """True when ``att`` had completed (every array element) before ``order``."""
    if attempt_state(att, spec) is not JobState.COMPLETED:
        return False
    if spec is not None and spec.array and att.elements:
        return all(e.state_order is not None and e.state_order < order for e in att.elements.values())
    return att.state_order is not None and att.state_order < order


def activity_clock(job: JobRecord) -> int:
    """The latest clock among what :func:`reused_in_latest_run` reads of ``job``: its
    attempts' (and elements') state changes, intents and retry decisions."""
    latest = 0
    for att in job.attempts.values():  # loops, not max() of a list: once per job in a snapshot
        order = att.state_order
        if order is not None and order[0] > latest:
            latest = order[0]
        for order in att.intents_by.values():
            if order[0] > latest:  # noqa: PLR1730 (a call per value costs)
                latest = order[0]
        if att.retry is not None and att.retry.order[0] > latest:
            latest = att.retry.order[0]
        if att.elements:
            for element in att.elements.values():
                order = element.state_order
                if order is not None and order[0] > latest:
                    latest = order[0]
    return latest


def reused_in_latest_run(model: Model, workflow: str) -> set[str]:
    """Keys the latest run of ``workflow`` found completed and did not run again."""
    record = model.workflows.get(workflow)
    if record is None or record.latest_run is None:
        return set()
    run = record.latest_run
    definition = record.with_digest(run.definition)
    keys = definition.keys if definition is not None else ()
    out = set()
    packed_final = getattr(model.jobs, "packed_final", None)
    for key in keys:
        found = None if packed_final is None else packed_final(key)
        clock = None if found is None or found.state != "completed" else found.activity
        if clock is not None and clock < run.order[0]:
            out.add(key)  # completed, and nothing it did came at or after the run
            continue
        job = model.jobs.get(key)
        if job is None:
            continue
        completed_before = any(_completed_before(a, job.spec, run.order) for a in job.attempts.values())
        writer = run.order[1]  # what this run's own process did after it began
        started_after = any(
            ((mine := a.intents_by.get(writer)) is not None and mine > run.order)
            or (a.retry is not None and a.retry.order > run.order)
            for a in job.attempts.values()
        )
        if completed_before and not started_after:
            out.add(key)
    return out
