"""The frozen views of the reduced state that readers keep (results, reports, the faces):
:class:`JobInfo`/:class:`AttemptInfo`/:class:`ElementInfo` of one job and
:class:`WorkflowInfo` of one workflow, built from the reducer's live records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from jobledger.ledger.event_codec import encode
from jobledger.ledger.phases import attempt_state, cancel_stands, element_states
from jobledger.ledger.records import AttemptRecord, DefinitionRecord, JobRecord, WorkflowRecord
from jobledger.ledger.specs import JobSpec
from jobledger.states import JobState


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
    """The frozen view of one workflow (made again only when a definition was added: a
    workflow of 100,000 jobs takes a tenth of a second to list, and one ``status`` asks
    several times)."""
    made, count = record.info, len(record.definitions)
    if made is not None and made[0] == count:
        found: WorkflowInfo = made[1]
        return found
    info = _workflow_info(record)
    record.info = (count, info)  # counted before: one added meanwhile makes it again
    return info


def _workflow_info(record: WorkflowRecord) -> WorkflowInfo:
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
