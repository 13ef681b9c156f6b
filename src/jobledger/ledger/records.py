"""The typed read model: what the reducer builds from the events, record by record.

One :class:`JobRecord` per job key (its definition and its attempts), one
:class:`WorkflowRecord` per workflow name (its definitions and runs; those records live in
:mod:`.workflow_records`, the order of events in :mod:`.order`). The reducer is the
only writer of these objects; everyone else (the planner, the engine, the views, the faces)
reads them. ``Order`` is an event's ``(clock, writer, seq)``: the same on every machine.

Records pack to plain rows for the snapshot (:meth:`JobRecord.to_row` /
:meth:`JobRecord.from_row`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from jobledger.ledger.order import Order, before, order_of, order_or_none
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.workflow_records import DefinitionRecord, RunRecord, WorkflowRecord
from jobledger.states import STATES, JobState

__all__ = [
    "AttemptRecord",
    "DefinitionRecord",
    "ElementRecord",
    "JobRecord",
    "Order",
    "RetryInfo",
    "RunRecord",
    "WorkflowRecord",
    "before",
]


@attrs.define(slots=True)
class ElementRecord:
    """One array element of an attempt."""

    state: JobState = JobState.PENDING
    state_order: Order | None = None
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    started_at: float | None = None
    ended_at: float | None = None


@attrs.define(slots=True)
class RetryInfo:
    """Why and when an attempt was decided."""

    order: Order
    reason: str = ""
    manual: bool = False
    not_before: float | None = None


@attrs.define(slots=True)
class AttemptRecord:
    """One attempt of a job: what was intended, what the backend said, how it ended."""

    number: int
    state: JobState = JobState.PENDING
    state_order: Order | None = None
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    submitted_at: float | None = None
    intent: Order | None = None
    """Order of the submit intent (write-ahead), the earliest when several."""
    host: str | None = None
    run_dir: str | None = None
    workflow: str | None = None
    resources: Mapping[str, Any] | None = None
    native_deps: Sequence[Sequence[str]] = ()
    index_offset: int = 0
    outcome: str | None = None
    """``"submitted"``, ``"refused"`` or ``"transient"`` (may have reached the scheduler)."""
    outcome_order: Order | None = None
    scheduler_id: str | None = None
    reconciled: bool = False
    error: str | None = None
    cancel_intent: Order | None = None
    """Order of a write-ahead cancel (``scancel`` about to run)."""
    retry: RetryInfo | None = None
    elements: dict[int, ElementRecord] | None = None
    history: list[tuple[int, str, float, int | None]] = attrs.field(factory=list)
    results: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    """``""`` (or the array index as text) -> ``{value, size, type, error, unit, order}``."""
    fetched: dict[str, str] = attrs.field(factory=dict)
    pid: int | None = None
    intents_by: dict[str, Order] = attrs.field(factory=dict)
    """Writer -> its latest submit intent (who acted on this attempt, and when)."""

    def to_row(self) -> list[Any]:
        """Plain data for the snapshot."""
        elements = (
            None
            if self.elements is None
            else {
                i: [e.state._value_, e.state_order, e.reason, e.exit_code, e.signal, e.started_at, e.ended_at]
                for i, e in self.elements.items()
            }
        )
        retry = (
            None
            if self.retry is None
            else [self.retry.order, self.retry.reason, self.retry.manual, self.retry.not_before]
        )
        return [
            self.number,
            self.state._value_,
            self.state_order,
            self.reason,
            self.exit_code,
            self.signal,
            self.started_at,
            self.ended_at,
            self.submitted_at,
            self.intent,
            self.host,
            self.run_dir,
            self.workflow,
            self.resources,
            self.native_deps,
            self.index_offset,
            self.outcome,
            self.outcome_order,
            self.scheduler_id,
            self.reconciled,
            self.error,
            self.cancel_intent,
            retry,
            elements,
            self.history,
            self.results,
            self.fetched,
            self.pid,
            self.intents_by,
        ]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AttemptRecord:
        """Inverse of :meth:`to_row`."""
        (
            number,
            state,
            state_order,
            reason,
            exit_code,
            signal,
            started_at,
            ended_at,
            submitted_at,
            intent,
            host,
            run_dir,
            workflow,
            resources,
            native_deps,
            index_offset,
            outcome,
            outcome_order,
            scheduler_id,
            reconciled,
            error,
            cancel_intent,
            retry,
            elements,
            history,
            results,
            fetched,
            pid,
            intents_by,
        ) = row
        return cls(
            number,
            STATES[state],
            order_or_none(state_order),
            reason,
            exit_code,
            signal,
            started_at,
            ended_at,
            submitted_at,
            order_or_none(intent),
            host,
            run_dir,
            workflow,
            resources,
            native_deps,
            index_offset,
            outcome,
            order_or_none(outcome_order),
            scheduler_id,
            reconciled,
            error,
            order_or_none(cancel_intent),
            None if retry is None else RetryInfo(order_of(retry[0]), retry[1], retry[2], retry[3]),
            None
            if elements is None
            else {
                int(i): ElementRecord(STATES[e[0]], order_or_none(e[1]), *e[2:]) for i, e in elements.items()
            },
            [tuple(h) for h in history],
            results,
            fetched,
            pid,
            {w: order_of(o) for w, o in intents_by.items()},
        )


@attrs.define(slots=True)
class JobRecord:
    """Everything the ledger knows about one job key."""

    key: str
    spec: JobSpec | None = None
    """The latest definition that named this key (``None``: only other events seen)."""
    spec_order: Order | None = None
    attempts: dict[int, AttemptRecord] = attrs.field(factory=dict)
    cancel: Order | None = None
    """Order of the latest cancel request."""
    cancel_reason: str = ""
    reused: dict[str, Order] = attrs.field(factory=dict)
    """Run id -> order of the :class:`~jobledger.ledger.events.Reused` event."""
    reused_in: tuple[str, ...] = ()
    """Workflows that reused this job (sorted)."""
    outputs_home: dict[str, str] = attrs.field(factory=dict)

    @property
    def name(self) -> str:
        """The job's name (its key's first characters when its definition is unknown)."""
        return self.spec.name if self.spec is not None else self.key[:12]

    @property
    def current(self) -> AttemptRecord | None:
        """The latest attempt, if any."""
        return self.attempts[max(self.attempts)] if self.attempts else None

    def attempt(self, number: int) -> AttemptRecord:
        """Attempt ``number``, created pending when first named."""
        found = self.attempts.get(number)
        if found is None:
            found = self.attempts[number] = AttemptRecord(number)
        return found

    def to_row(self, encode_spec: Any) -> list[Any]:
        """Plain data for the snapshot (``encode_spec`` turns the spec into a map)."""
        return [
            self.key,
            None if self.spec is None else encode_spec(self.spec),
            self.spec_order,
            [self.attempts[n].to_row() for n in sorted(self.attempts)],
            self.cancel,
            self.cancel_reason,
            self.reused,
            list(self.reused_in),
            self.outputs_home,
        ]

    @classmethod
    def from_row(cls, row: Sequence[Any], decode_spec: Any) -> JobRecord:
        """Inverse of :meth:`to_row`."""
        key, spec, spec_order, attempts, cancel, cancel_reason, reused, reused_in, outputs_home = row
        built = [AttemptRecord.from_row(a) for a in attempts]
        return cls(
            key,
            None if spec is None else decode_spec(spec),
            order_or_none(spec_order),
            {a.number: a for a in built},
            order_or_none(cancel),
            cancel_reason,
            {k: order_of(v) for k, v in reused.items()},
            tuple(reused_in),
            outputs_home,
        )
