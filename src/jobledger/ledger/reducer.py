"""The reducer: a pure fold from events to the typed read model (:mod:`.records`).

Every handler is a *join*: applying the same set of events in any order gives the same
state. That is what lets a reader take segment files in any order, add the bytes a
``git merge`` brought after a snapshot, or see another process's events late:

- an attempt's (or array element's) state only moves up the rank
  pending < submitted < running < final; among final states the earliest recorded wins;
- set-once facts (the submit intent, the submission outcome, a result) keep the earliest
  event, except that a stronger outcome (submitted > refused > transient) wins;
- definitions are a multi-value register: every definition is kept with what it replaces
  (:meth:`~jobledger.ledger.records.WorkflowRecord.current`); a job's spec is the one of
  the latest definition that named it;
- histories are collected and sorted when read.

A handler that meets an event that does not fit raises :class:`EventMismatch`; the fold
lists it in ``problems`` and goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.ledger.event_codec import DECODERS, decode_spec, encode
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

FINAL_RANK = 3
_new = object.__new__
_set = object.__setattr__
_OUTCOME_RANK = {"transient": 0, "refused": 1, "submitted": 2}
_dict_get = dict.get
#: State value -> rank (``JobState.rank`` hashes the member in Python: slow per event).
_RANK = {s.value: s.rank for s in JobState}
_dict_contains = dict.__contains__
#: Types whose handler touches one job's record only: a cold open may set them aside
#: until that job is first read.
DEFERRABLE = frozenset(
    {"reused", "intent", "submitted", "submit_failed", "state", "result"}
    | {"cancel", "retry", "outputs", "fetched"}
)


class EventMismatch(LedgerError):
    """An event does not fit the state (missing fields, wrong types)."""


class Model:
    """The reduced state of a project, as the reducer builds it (read it through
    :class:`~jobledger.ledger.state.ProjectState`)."""

    __slots__ = ("_problems", "jobs", "max_clock", "staged", "workflows", "writers")

    def __init__(self) -> None:
        self.workflows: dict[str, WorkflowRecord] = {}
        self.jobs: dict[str, JobRecord] = LazyJobs(load_job, dump_job, None, self._fold_deferred)
        """Job records by key; a job's events may be set aside until it is first read
        (see :mod:`.lazy`)."""
        self.writers: dict[str, dict[str, Any]] = {}
        self._problems: list[str] = []
        self.staged: dict[str, dict[str, tuple[str, Order]]] = {}
        """Host alias -> remote path -> (digest, order) of files already sent."""
        self.max_clock = 0

    @property
    def problems(self) -> list[str]:
        """Events that did not fit (every set-aside event is folded first)."""
        jobs = self.jobs
        if isinstance(jobs, LazyJobs):
            jobs.fold_deferred()
        return self._problems

    @problems.setter
    def problems(self, value: list[str]) -> None:
        self._problems = value

    def _fold_deferred(self, key: str, items: list[Any]) -> JobRecord | None:
        """The record of ``key`` from the events a cold open set aside for it."""
        scratch = Model.__new__(Model)
        scratch.jobs = {}
        scratch._problems = self._problems
        scratch.max_clock = 0
        for first, second, where in items:
            if type(first) is list:
                apply_raw(scratch, (first,), second, where)
            else:  # a definition naming this job: [spec, order, None]
                _take_spec(scratch.job(key), first, second)
        return scratch.jobs.get(key)

    def job(self, key: str) -> JobRecord:
        """The record of ``key``, created empty when first named."""
        found = self.jobs.get(key)
        if found is None:
            if not isinstance(key, str):
                raise EventMismatch(f"a job key must be text, not {key!r:.40}")
            found = self.jobs[key] = JobRecord(key)
        return found

    def attempt(self, key: str, number: Any) -> AttemptRecord:
        """Attempt ``number`` of ``key``, created pending when first named."""
        if type(number) is int and type(key) is str:  # the usual case: both known already
            job = _dict_get(self.jobs, key)
            if job is not None:
                found = job.attempts.get(number)
                if found is not None:
                    return found
        if isinstance(number, bool) or not isinstance(number, int):
            raise EventMismatch(f"attempt must be a whole number, not {number!r:.40}")
        return self.job(key).attempt(number)


def load_job(row: Any) -> JobRecord:
    """A job record from its snapshot row."""
    return JobRecord.from_row(row, decode_spec)


def dump_job(job: JobRecord) -> list[Any]:
    """The snapshot row of a job record."""
    return job.to_row(encode)


def _take_spec(job: JobRecord, spec: Any, order: Order) -> None:
    if job.spec_order is None or order >= job.spec_order:
        job.spec = spec
        job.spec_order = order


def _state(value: Any) -> JobState:
    found = STATES.get(value) if type(value) is str else None
    if found is None:
        raise EventMismatch(f"unknown state {value!r:.40}")
    return found


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
    if rank > current or (rank == current and before(target.state_order, order)):
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
Handler = Callable[[Model, Any, Order, float], None]


def _on_segment(m: Model, e: ev.SegmentOpened, order: Order, when: float) -> None:
    m.writers[order[1]] = {
        "host": e.host,
        "pid": e.pid,
        "created": e.created or when,
        "project": e.project,
        "seen": e.seen,
    }


def _on_workflow(m: Model, e: ev.WorkflowDefined, order: Order, when: float) -> None:
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
            _take_spec(m.job(key), spec, order)
    replaces = None if e.replaces is None else tuple(e.replaces)
    record.definitions[ident] = DefinitionRecord(
        ident, e.digest or ident, order, tuple(keys), replaces, e.source, e.root, e.host, when
    )


def definition_id(order: Order) -> str:
    """The id of the definition recorded by the event at ``order`` (the same everywhere)."""
    return f"{order[0]}-{order[1]}-{order[2]}"


def _on_run(m: Model, e: ev.RunStarted, order: Order, when: float) -> None:
    record = m.workflows.get(e.workflow)
    if record is None:
        record = m.workflows[e.workflow] = WorkflowRecord(e.workflow)
    if record.latest_run is None or order > record.latest_run.order:
        record.latest_run = RunRecord(e.run, order, e.definition, bool(e.force))


def _on_reused(m: Model, e: ev.Reused, order: Order, when: float) -> None:
    job = m.job(e.key)
    if e.run is not None:
        job.reused[e.run] = order
    if e.workflow not in job.reused_in:
        job.reused_in = tuple(sorted((*job.reused_in, e.workflow), key=str))


def _on_intent(m: Model, e: ev.Intent, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    if e.action == "cancel":
        if before(att.cancel_intent, order):
            att.cancel_intent = order
        return
    mine = att.intents_by.get(order[1])
    if mine is None or mine < order:
        att.intents_by[order[1]] = order
    if before(att.intent, order):
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


def _on_submitted(m: Model, e: ev.Submitted, order: Order, when: float) -> None:
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
    if current < 1 or (current == 1 and before(att.state_order, order)):
        att.state = JobState.SUBMITTED
        att.state_order = order
        att.reason = ""
    att.history.append((order[0], "submitted", at, None))


def _on_submit_failed(m: Model, e: ev.SubmitFailed, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    transient = bool(e.transient)
    if _outcome_join(att, order, "transient" if transient else "refused"):
        att.error = e.error
    if not transient:
        join_state(att, JobState.FAILED, order, when, e.error or "")
        att.history.append((order[0], "failed", when, None))


def _on_state(m: Model, e: ev.StateChanged, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    state = _state(e.state)
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


def _on_result(m: Model, e: ev.ResultRecorded, order: Order, when: float) -> None:
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


def _on_cancel(m: Model, e: ev.CancelRequested, order: Order, when: float) -> None:
    job = m.job(e.key)
    if job.cancel is None or order > job.cancel:
        job.cancel = order
        job.cancel_reason = e.reason or ""


def _on_retry(m: Model, e: ev.RetryDecided, order: Order, when: float) -> None:
    att = m.attempt(e.key, e.attempt)
    if att.retry is None or before(att.retry.order, order):
        att.retry = RetryInfo(order, e.reason or "", bool(e.manual), e.not_before)
        if e.resources is not None:
            att.resources = e.resources


def _on_staged(m: Model, e: ev.Staged, order: Order, when: float) -> None:
    per_host = m.staged.setdefault(e.host, {})
    current = per_host.get(e.path)
    if current is None or order > current[1]:
        per_host[e.path] = (e.digest, order)


def _on_outputs(m: Model, e: ev.OutputsHome, order: Order, when: float) -> None:
    m.job(e.key).outputs_home.update(e.files or {})


def _on_fetched(m: Model, e: ev.Fetched, order: Order, when: float) -> None:
    m.attempt(e.key, e.attempt).fetched.update(e.files or {})


def _on_note(m: Model, e: ev.Note, order: Order, when: float) -> None:
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
_FITS = (KeyError, TypeError, ValueError, AttributeError, IndexError, LedgerError)


def apply(model: Model, event: Any, order: Order, when: float) -> None:
    """Fold one typed event into ``model`` (raises :class:`EventMismatch` when it does
    not fit)."""
    model.max_clock = max(model.max_clock, order[0])
    handler = HANDLERS.get(type(event))
    if handler is None:
        return
    try:
        handler(model, event, order, when)
    except EventMismatch:
        raise
    except _FITS as exc:
        raise EventMismatch(f"{event.TYPE} event does not fit: {exc!r:.200}") from None


def apply_raw(model: Model, events: Iterable[Any], writer: str, where: str = "") -> int:
    """Decode and fold a record's on-disk events (the hot path of opening a ledger);
    returns how many were read. Events that do not fit are listed in ``problems``.

    The same as :func:`~jobledger.ledger.event_codec.decode` then :func:`apply` for each
    event, with the decoding of the plain types inlined (a million events open in a
    fraction of the time two calls per event take). When ``model.jobs`` is lazy, the
    events of a job not built yet are set aside for it (see :mod:`.lazy`): opening a big
    project folds only the jobs that are read.
    """
    decoders = DECODERS
    handlers = HANDLERS
    new = _new
    set_dict = _set
    max_clock = model.max_clock
    jobs = model.jobs
    pending = jobs.pending if isinstance(jobs, LazyJobs) else None
    packed = jobs.rows if isinstance(jobs, LazyJobs) else None
    deferrable = DEFERRABLE
    built = _dict_contains
    count = 0
    for raw in events:
        count += 1
        try:
            etype, clock, seq, when, data = raw
            if clock > max_clock:  # noqa: PLR1730 (a call per event costs)
                max_clock = clock
            if pending is not None and etype in deferrable and type(data) is dict:
                key = data.get("key")
                if type(key) is str:
                    items = pending.get(key)
                    if items is not None:  # its first item makes the record: set aside
                        items.append((raw, writer, where))
                        continue
                    if (
                        type(data.get("attempt", 1)) is int  # a record is made of it
                        and not built(jobs, key)
                        and (packed is None or packed.find(key) is None)  # nor in the snapshot
                    ):
                        pending[key] = [(raw, writer, where)]
                        continue
            found = decoders.get(etype)
            if found is None:
                continue  # a newer version's type: kept on disk, skipped here
            if type(data) is not dict:
                raise TypeError(f"{etype} event data is {type(data).__name__}, not a map")
            cls, builder = found
            if builder is None:
                event = new(cls)
                set_dict(event, "__dict__", data)
            else:
                event = builder(data)
            handlers[type(event)](model, event, (clock, writer, seq), when)
        except _FITS as exc:
            model._problems.append(f"{where}writer {writer}: event does not fit: {exc!r:.200}")
    model.max_clock = max(model.max_clock, max_clock)
    return count


def fold(pairs: Iterable[tuple[Any, str]], model: Model | None = None) -> Model:
    """Fold on-disk events given as ``(raw event, writer)`` pairs (a fresh model by default)."""
    target = Model() if model is None else model
    for raw, writer in pairs:
        apply_raw(target, [raw], writer)
    return target
