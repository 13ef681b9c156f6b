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

from collections.abc import Iterable
from typing import Any

from jobledger.errors import LedgerError
from jobledger.ledger.event_codec import DECODERS, decode_spec, encode
from jobledger.ledger.handlers import (
    FINAL_RANK,
    HANDLERS,
    EventMismatch,
    Handler,
    definition_id,
    join_state,
    take_spec,
)
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.records import AttemptRecord, JobRecord, Order, WorkflowRecord

__all__ = [
    "DEFERRABLE",
    "FINAL_RANK",
    "FITS",
    "HANDLERS",
    "EventMismatch",
    "Handler",
    "Model",
    "apply",
    "apply_raw",
    "definition_id",
    "dump_job",
    "fold",
    "join_state",
    "load_job",
]

_new = object.__new__
_set = object.__setattr__
_dict_get = dict.get
_dict_contains = dict.__contains__
_dict_set = dict.__setitem__
#: Types whose handler touches one job's record only: a cold open may set them aside
#: until that job is first read.
DEFERRABLE = frozenset(
    {"reused", "intent", "submitted", "submit_failed", "state", "result"}
    | {"cancel", "retry", "outputs", "fetched"}
)


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
        """The record of ``key`` from the events a cold open set aside for it (the events
        of one record, set aside one after another, are folded in one call)."""
        scratch = Model.__new__(Model)
        scratch.jobs = {}
        scratch._problems = self._problems
        scratch.max_clock = 0
        run: list[Any] = []
        run_writer, run_where = None, None
        for first, second, where in items:
            if type(first) is list and second is run_writer and where is run_where:
                run.append(first)
                continue
            if run:
                apply_raw(scratch, run, run_writer or "", run_where or "")
                run = []
            if type(first) is list:
                run.append(first)
                run_writer, run_where = second, where
            else:  # a definition naming this job: [spec, order, None]
                take_spec(scratch.job(key), first, second)
                run_writer, run_where = None, None
        if run:
            apply_raw(scratch, run, run_writer or "", run_where or "")
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
        if type(number) is int and type(key) is str:  # the usual case
            jobs = self.jobs
            job = _dict_get(jobs, key)
            if job is None:  # not built: pending, packed, or new
                job = jobs.get(key)
                if job is None:
                    job = JobRecord(key)
                    _dict_set(jobs, key, job)
            attempts = job.attempts
            found = attempts.get(number)
            if found is None:
                found = attempts[number] = AttemptRecord(number)
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


FITS = (KeyError, TypeError, ValueError, AttributeError, IndexError, LedgerError)
"""The errors a handler meets on an event that does not fit (it becomes an
:class:`EventMismatch`)."""


def apply(model: Model, event: Any, order: Order, when: float) -> None:
    """Fold one typed event into ``model`` (raises :class:`EventMismatch` when it does
    not fit)."""
    if order[0] > model.max_clock:  # noqa: PLR1730 (a call per event costs)
        model.max_clock = order[0]
    handler = HANDLERS.get(type(event))
    if handler is None:
        return
    try:
        handler(model, event, order, when)
    except EventMismatch:
        raise
    except FITS as exc:
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
        except FITS as exc:
            model._problems.append(f"{where}writer {writer}: event does not fit: {exc!r:.200}")
    model.max_clock = max(model.max_clock, max_clock)
    return count


def fold(pairs: Iterable[tuple[Any, str]], model: Model | None = None) -> Model:
    """Fold on-disk events given as ``(raw event, writer)`` pairs (a fresh model by default)."""
    target = Model() if model is None else model
    for raw, writer in pairs:
        apply_raw(target, [raw], writer)
    return target
