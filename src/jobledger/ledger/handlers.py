"""The reducer's handlers: one join per event type (see :mod:`.reducer` for the rules
they keep). A handler that meets an event that does not fit raises
:class:`EventMismatch`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.records import (
    AttemptRecord,
    DefinitionRecord,
    ElementRecord,
    JobRecord,
    Order,
    RetryInfo,
    RunRecord,
    WorkflowRecord,
    before,
)
from jobledger.states import STATES, JobState


class ReducedModel(Protocol):
    """What the handlers fold into: :class:`jobledger.ledger.reducer.Model` (named here
    by its shape, so that the reducer depends on its handlers and not the other way)."""

    workflows: dict[str, WorkflowRecord]
    jobs: dict[str, JobRecord]
    writers: dict[str, dict[str, Any]]
    staged: dict[str, dict[str, tuple[str, Order]]]

    def job(self, key: str) -> JobRecord:
        """The record of ``key``, created empty when first named."""

    def attempt(self, key: str, number: Any) -> AttemptRecord:
        """Attempt ``number`` of ``key``, created pending when first named."""


FINAL_RANK = 3
_OUTCOME_RANK = {"transient": 0, "refused": 1, "submitted": 2}
#: State value -> rank (``JobState.rank`` hashes the member in Python: slow per event).
_RANK = {s.value: s.rank for s in JobState}
_STATES_GET = STATES.get


class EventMismatch(LedgerError):
    """An event does not fit the state (missing fields, wrong types)."""


def take_spec(job: JobRecord, spec: Any, order: Order) -> None:
    """Give ``job`` the spec of a definition at ``order`` unless a later one named it."""
    if job.spec_order is None or order >= job.spec_order:
        job.spec = spec
        job.spec_order = order


def join_state(
    target: AttemptRecord | ElementRecord,
    state: JobState,
    order: Order,
    at: float,
    reason: str = "",
    exit_code: int | None = None,
    signal: int | None = None,
) -> None:
    """Move ``target`` to ``state`` if it ranks higher (or equal and earlier)."""
    rank = _RANK[state._value_]
    current = _RANK[target.state._value_]
    if rank > current or (rank == current and (target.state_order is None or order < target.state_order)):
        target.state = state
        target.state_order = order
        target.reason = reason or ""
        if rank >= FINAL_RANK:
            target.exit_code = exit_code
            target.signal = signal
            target.ended_at = at
    if rank == 2 and (target.started_at is None or at < target.started_at):
        target.started_at = at  # running: the earliest sighting is when it started


# ---------------------------------------------------------------------- handlers
Handler = Callable[[ReducedModel, Any, Order, float], None]


def _on_segment(m: ReducedModel, e: ev.SegmentOpened, order: Order, when: float) -> None:
    m.writers[order[1]] = {
        "host": e.host,
        "pid": e.pid,
        "created": e.created or when,
        "project": e.project,
        "seen": e.seen,
    }


def _on_workflow(m: ReducedModel, e: ev.WorkflowDefined, order: Order, when: float) -> None:
    name = e.name
    if not isinstance(name, str):
        raise EventMismatch(f"a workflow name must be text, not {name!r:.40}")
    record = m.workflows.get(name)
    if record is None:
        record = m.workflows[name] = WorkflowRecord(name)
    ident = definition_id(order)
    keys = []
    jobs = m.jobs
    defer = jobs.defer if isinstance(jobs, LazyJobs) else None
    for spec in e.jobs:
        key = spec.key
        keys.append(key)
        if defer is None or type(key) is not str or not defer(key, (spec, order, None)):
            take_spec(m.job(key), spec, order)
    replaces = None if e.replaces is None else tuple(e.replaces)
    record.definitions[ident] = DefinitionRecord(
        ident, e.digest or ident, order, tuple(keys), replaces, e.source, e.root, e.host, when
    )


def definition_id(order: Order) -> str:
    """The id of the definition recorded by the event at ``order`` (the same everywhere)."""
    return f"{order[0]}-{order[1]}-{order[2]}"


def _on_run(m: ReducedModel, e: ev.RunStarted, order: Order, when: float) -> None:
    record = m.workflows.get(e.workflow)
    if record is None:
        record = m.workflows[e.workflow] = WorkflowRecord(e.workflow)
    if record.latest_run is None or order > record.latest_run.order:
        record.latest_run = RunRecord(e.run, order, e.definition, bool(e.force))


def _on_reused(m: ReducedModel, e: ev.Reused, order: Order, when: float) -> None:
    job = m.job(e.key)
    if e.run is not None:
        job.reused[e.run] = order
    if e.workflow not in job.reused_in:
        job.reused_in = tuple(sorted((*job.reused_in, e.workflow), key=str))


def _on_intent(m: ReducedModel, e: ev.Intent, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    if e.action == "cancel":
        if before(att.cancel_intent, order):
            att.cancel_intent = order
        return
    mine = att.intents_by.get(order[1])
    if mine is None or mine < order:
        att.intents_by[order[1]] = order
    if att.intent is None or order < att.intent:  # before(), inlined: once per intent
        att.intent = order
        if e.host is not None:
            att.host = e.host
        if e.run_dir is not None:
            att.run_dir = e.run_dir
        if e.resources is not None:
            att.resources = e.resources
        if e.workflow is not None:
            att.workflow = e.workflow
        if e.index_offset:
            att.index_offset = e.index_offset
        if e.native_deps:
            att.native_deps = e.native_deps


def _outcome_join(att: AttemptRecord, order: Order, kind: str) -> bool:
    """Keep the strongest outcome (submitted > refused > transient), earliest first."""
    if att.outcome is not None:
        current, new = _OUTCOME_RANK[att.outcome], _OUTCOME_RANK[kind]
        if new < current or (new == current and not before(att.outcome_order, order)):
            return False
    att.outcome = kind
    att.outcome_order = order
    return True


def _on_submitted(m: ReducedModel, e: ev.Submitted, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    at = e.at if e.at is not None else when
    if _outcome_join(att, order, "submitted"):
        att.scheduler_id = e.scheduler_id
        att.reconciled = bool(e.reconciled)
        if e.host is not None:
            att.host = e.host
        if e.run_dir:
            att.run_dir = e.run_dir
        if e.index_offset:
            att.index_offset = e.index_offset
        att.submitted_at = at
    current = _RANK[att.state._value_]
    if current < 1 or (current == 1 and (att.state_order is None or order < att.state_order)):
        att.state = JobState.SUBMITTED
        att.state_order = order
        att.reason = ""
    att.history.append((order[0], "submitted", at, None))


def _on_submit_failed(m: ReducedModel, e: ev.SubmitFailed, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    transient = bool(e.transient)
    if _outcome_join(att, order, "transient" if transient else "refused"):
        att.error = e.error
    if not transient:
        join_state(att, JobState.FAILED, order, when, e.error or "")
        att.history.append((order[0], "failed", when, None))


def _on_state(m: ReducedModel, e: ev.StateChanged, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    value = e.state
    state = _STATES_GET(value) if type(value) is str else None
    if state is None:
        raise EventMismatch(f"unknown state {value!r:.40}")
    at = e.at if e.at is not None else when
    index = e.index
    target: AttemptRecord | ElementRecord = att
    if index is not None:
        if att.elements is None:
            att.elements = {}
        element = att.elements.get(index)
        if element is None:
            element = att.elements[index] = ElementRecord()
        target = element
    join_state(target, state, order, at, e.reason, e.exit_code, e.signal)
    if e.pid is not None and att.pid is None:
        att.pid = e.pid
    att.history.append((order[0], state._value_, at, index))


def _on_result(m: ReducedModel, e: ev.ResultRecorded, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    slot = "" if e.index is None else str(e.index)
    existing = att.results.get(slot)
    if existing is None or before(tuple(existing["order"]), order):
        att.results[slot] = {
            "order": order,
            "unit": e.unit,
            "value": e.value,
            "size": e.size,
            "type": e.type,
            "error": e.error,
            "index": e.index,
        }


def _on_cancel(m: ReducedModel, e: ev.CancelRequested, order: Order, when: float) -> None:
    job = m.job(e.key)
    if job.cancel is None or order > job.cancel:
        job.cancel = order
        job.cancel_reason = e.reason or ""


def _on_retry(m: ReducedModel, e: ev.RetryDecided, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    if att.retry is None or before(att.retry.order, order):
        att.retry = RetryInfo(order, e.reason or "", bool(e.manual), e.not_before)
        if e.resources is not None:
            att.resources = e.resources


def _on_staged(m: ReducedModel, e: ev.Staged, order: Order, when: float) -> None:
    per_host = m.staged.setdefault(e.host, {})
    current = per_host.get(e.path)
    if current is None or order > current[1]:
        per_host[e.path] = (e.digest, order)


def _on_outputs(m: ReducedModel, e: ev.OutputsHome, order: Order, when: float) -> None:
    m.job(e.key).outputs_home.update(e.files or {})


def _on_fetched(m: ReducedModel, e: ev.Fetched, order: Order, when: float) -> None:
    m.attempt(e.key, e.attempt).fetched.update(e.files or {})


def _on_note(m: ReducedModel, e: ev.Note, order: Order, when: float) -> None:
    return


HANDLERS: dict[type[Any], Handler] = {
    ev.SegmentOpened: _on_segment,
    ev.WorkflowDefined: _on_workflow,
    ev.RunStarted: _on_run,
    ev.Reused: _on_reused,
    ev.Intent: _on_intent,
    ev.Submitted: _on_submitted,
    ev.SubmitFailed: _on_submit_failed,
    ev.StateChanged: _on_state,
    ev.ResultRecorded: _on_result,
    ev.CancelRequested: _on_cancel,
    ev.RetryDecided: _on_retry,
    ev.Staged: _on_staged,
    ev.OutputsHome: _on_outputs,
    ev.Fetched: _on_fetched,
    ev.Note: _on_note,
}
