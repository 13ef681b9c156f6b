"""Reading the reduced state: :class:`ProjectState` and the frozen views it hands out.

:class:`~jobledger.ledger.records.JobRecord` and friends are what the reducer maintains;
:class:`JobInfo`/:class:`AttemptInfo` are immutable snapshots of one job for readers that
keep them (results, reports). :func:`attempt_state` and :func:`job_phase` derive, from the
records alone, what every reader needs: an attempt's one state (array elements
aggregated) and where a job stands for a driver.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from jobledger.ledger.event_codec import encode
from jobledger.ledger.records import AttemptRecord, DefinitionRecord, JobRecord, Order, WorkflowRecord
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


def reused_in_latest_run(model: Model, workflow: str) -> set[str]:
    """Keys the latest run of ``workflow`` found completed and did not run again."""
    record = model.workflows.get(workflow)
    if record is None or record.latest_run is None:
        return set()
    run = record.latest_run
    definition = record.with_digest(run.definition)
    keys = definition.keys if definition is not None else ()
    out = set()
    for key in keys:
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


# ---------------------------------------------------------------------- frozen views
@attrs.frozen
class ElementInfo:
    """One array element of an attempt."""

    index: int
    state: JobState
    exit_code: int | None
    signal: int | None
    reason: str
    started_at: float | None
    ended_at: float | None


@attrs.frozen
class AttemptInfo:
    """One attempt of a job."""

    number: int
    state: JobState
    exit_code: int | None
    signal: int | None
    reason: str
    scheduler_id: str | None
    host: str | None
    run_dir: str | None
    submitted_at: float | None
    started_at: float | None
    ended_at: float | None
    intent_without_outcome: bool
    cancel_requested: bool
    elements: tuple[ElementInfo, ...]
    history: tuple[tuple[float, str, int | None], ...]
    result: Mapping[str, Any]
    retry_reason: str
    manual: bool
    not_before: float | None
    error: str | None
    resources: Mapping[str, Any] | None

    @property
    def failed_indices(self) -> list[int]:
        """Array indices that ended in a state other than completed."""
        return [e.index for e in self.elements if e.state.is_final and not e.state.is_success]


def _monotone_history(entries: Sequence[Sequence[Any]]) -> tuple[tuple[float, str, int | None], ...]:
    """Sightings in order, dropping ones that would move a unit backwards."""
    best: dict[Any, int] = {}
    out = []
    for entry in sorted(entries, key=lambda h: (h[0], h[1], h[2] or 0.0)):
        state, at, index = entry[1], entry[2], entry[3]
        rank = JobState(state).rank
        if rank < best.get(index, -1) or (rank == best.get(index) and rank >= 3):
            continue
        best[index] = rank
        out.append((at, state, index))
    return tuple(out)


def attempt_info(att: AttemptRecord, spec: JobSpec | None, cancel_requested: bool = False) -> AttemptInfo:
    """The frozen view of one attempt."""
    indices = list(spec.array) if spec is not None and spec.array else None
    elements: list[ElementInfo] = []
    if indices:
        stored = att.elements or {}
        for index, state in element_states(att, indices):
            el = stored.get(index)
            if el is None:
                elements.append(ElementInfo(index, state, None, None, "", None, None))
            else:
                elements.append(
                    ElementInfo(index, state, el.exit_code, el.signal, el.reason, el.started_at, el.ended_at)
                )
    state = attempt_state(att, spec)
    exit_code = att.exit_code
    if indices and exit_code is None:
        codes = [e.exit_code for e in elements if e.exit_code]
        exit_code = codes[0] if codes else (0 if state is JobState.COMPLETED else None)
    ended = att.ended_at
    if indices and ended is None and state.is_final:
        ends = [e.ended_at for e in elements if e.ended_at is not None]
        ended = max(ends) if ends else None
    started = att.started_at
    if indices and started is None:
        starts = [e.started_at for e in elements if e.started_at is not None]
        started = min(starts) if starts else None
    retry = att.retry
    return AttemptInfo(
        number=att.number,
        state=state,
        exit_code=exit_code,
        signal=att.signal,
        reason=att.reason,
        scheduler_id=att.scheduler_id,
        host=att.host,
        run_dir=att.run_dir,
        submitted_at=att.submitted_at,
        started_at=started,
        ended_at=ended,
        intent_without_outcome=att.intent is not None and att.outcome is None,
        cancel_requested=cancel_requested or att.cancel_intent is not None,
        elements=tuple(elements),
        history=_monotone_history(att.history),
        result=dict(att.results),
        retry_reason=retry.reason if retry else "",
        manual=bool(retry and retry.manual),
        not_before=retry.not_before if retry else None,
        error=att.error,
        resources=att.resources,
    )


@attrs.frozen
class JobInfo:
    """What the ledger knows about one job (by key), frozen."""

    key: str
    name: str
    host: str
    spec: JobSpec | None
    attempts: tuple[AttemptInfo, ...]
    reused_in: tuple[str, ...]
    cancel_requested: bool = False

    @property
    def definition(self) -> Mapping[str, Any]:
        """The job's definition as plain data (empty when unknown)."""
        return encode(self.spec) if self.spec is not None else {}

    @property
    def current(self) -> AttemptInfo | None:
        """The latest attempt, if any."""
        return self.attempts[-1] if self.attempts else None

    @property
    def state(self) -> JobState:
        """State of the latest attempt (``pending`` before the first)."""
        cur = self.current
        return cur.state if cur else JobState.PENDING

    @property
    def ever_completed(self) -> bool:
        """True when some attempt completed: the work exists and can be reused."""
        return any(a.state is JobState.COMPLETED for a in self.attempts)

    @property
    def array(self) -> list[int] | None:
        """Array indices, when the job is an array."""
        return list(self.spec.array) if self.spec is not None and self.spec.array else None

    @property
    def run_dir(self) -> str | None:
        """Run directory (relative to the project) of the latest attempt."""
        cur = self.current
        return (cur.run_dir if cur else None) or (self.spec.run_dir if self.spec else None)


def job_info(job: JobRecord) -> JobInfo:
    """The frozen view of one job."""
    spec = job.spec
    cancel = cancel_stands(job)
    return JobInfo(
        key=job.key,
        name=job.name,
        host=spec.host if spec is not None else "local",
        spec=spec,
        attempts=tuple(attempt_info(job.attempts[n], spec, cancel) for n in sorted(job.attempts)),
        reused_in=tuple(job.reused_in),
        cancel_requested=cancel,
    )


@attrs.frozen
class WorkflowInfo:
    """A workflow: the jobs of its current definitions (see :meth:`ProjectState.workflow`)."""

    name: str
    job_keys: tuple[str, ...]
    defined: float
    root: str | None
    definitions: tuple[DefinitionRecord, ...] = ()
    """Its current definitions (more than one: defined on concurrent lines of history or
    from several scripts)."""
    superseded: tuple[str, ...] = ()
    """Keys of earlier definitions that no current one holds."""

    @property
    def concurrent(self) -> bool:
        """True when more than one definition is current."""
        return len(self.definitions) > 1


def workflow_info(record: WorkflowRecord) -> WorkflowInfo:
    """The frozen view of one workflow."""
    current = record.current()
    keys: list[str] = []
    seen: set[str] = set()
    for definition in current:
        for key in definition.keys:
            if key not in seen:
                seen.add(key)
                keys.append(key)
    superseded: list[str] = []
    for definition in sorted(record.definitions.values(), key=lambda d: d.order, reverse=True):
        for key in definition.keys:
            if key not in seen:
                seen.add(key)
                superseded.append(key)
    defined = max((d.defined_at for d in current), default=0.0)
    root = current[-1].root if current else None
    return WorkflowInfo(record.name, tuple(keys), defined, root, tuple(current), tuple(superseded))


class ProjectState:
    """Read-only access to the reduced ledger."""

    def __init__(self, model: Model) -> None:
        self.model = model

    @property
    def max_clock(self) -> int:
        """Highest logical clock seen."""
        return self.model.max_clock

    @property
    def problems(self) -> list[str]:
        """Events that did not fit, sorted."""
        return sorted(self.model.problems)

    def workflows(self) -> dict[str, WorkflowInfo]:
        """Every workflow with a definition, by name."""
        return {
            name: workflow_info(record)
            for name, record in sorted(self.model.workflows.items())
            if record.definitions
        }

    def workflow(self, name: str) -> WorkflowInfo | None:
        """One workflow, if defined."""
        record = self.model.workflows.get(name)
        return None if record is None or not record.definitions else workflow_info(record)

    def record(self, key: str) -> JobRecord | None:
        """The live record of a job (read it, never change it)."""
        return self.model.jobs.get(key)

    def has_job(self, key: str) -> bool:
        """True when the ledger knows the key."""
        return key in self.model.jobs

    def job(self, key: str) -> JobInfo | None:
        """Everything known about one job, frozen."""
        record = self.model.jobs.get(key)
        return None if record is None else job_info(record)

    def jobs(self, workflow: str | None = None) -> list[JobInfo]:
        """Jobs of one workflow (its current definitions, in definition order), or every
        job (by name, key)."""
        if workflow is not None:
            info = self.workflow(workflow)
            keys: Sequence[str] = info.job_keys if info else ()
        else:
            jobs = self.model.jobs
            keys = sorted(jobs, key=lambda k: (jobs[k].name, k))
        return [job_info(self.model.jobs[k]) for k in keys if k in self.model.jobs]

    def reused(self, workflow: str) -> set[str]:
        """Keys the latest run of ``workflow`` reused (found completed, did not run)."""
        return reused_in_latest_run(self.model, workflow)

    def completed_keys(self) -> set[str]:
        """Keys with at least one completed attempt."""
        done = set()
        for key, job in self.model.jobs.items():
            if any(attempt_state(a, job.spec) is JobState.COMPLETED for a in job.attempts.values()):
                done.add(key)
        return done

    def __iter__(self) -> Iterator[JobInfo]:
        return iter(self.jobs())
