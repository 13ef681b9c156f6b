"""The typed read model: what the reducer builds from the events, record by record.

One :class:`JobRecord` per job key (its definition and its attempts), one
:class:`WorkflowRecord` per workflow name (its definitions and runs). The reducer is the
only writer of these objects; everyone else (the planner, the engine, the views, the faces)
reads them. ``Order`` is an event's ``(clock, writer, seq)``: the same on every machine.

Records pack to plain rows for the snapshot (:meth:`JobRecord.to_row` /
:meth:`JobRecord.from_row`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from jobledger.ledger.specs import JobSpec
from jobledger.states import STATES, JobState

Order = tuple[int, str, int]


def before(current: Order | None, order: Order) -> bool:
    """True when ``order`` sorts before ``current`` (or there is no ``current``)."""
    return current is None or order < current


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
            _order(state_order),
            reason,
            exit_code,
            signal,
            started_at,
            ended_at,
            submitted_at,
            _order(intent),
            host,
            run_dir,
            workflow,
            resources,
            native_deps,
            index_offset,
            outcome,
            _order(outcome_order),
            scheduler_id,
            reconciled,
            error,
            _order(cancel_intent),
            None if retry is None else RetryInfo(_must(retry[0]), retry[1], retry[2], retry[3]),
            None
            if elements is None
            else {int(i): ElementRecord(STATES[e[0]], _order(e[1]), *e[2:]) for i, e in elements.items()},
            [tuple(h) for h in history],
            results,
            fetched,
            pid,
            {w: _must(o) for w, o in intents_by.items()},
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
            _order(spec_order),
            {a.number: a for a in built},
            _order(cancel),
            cancel_reason,
            {k: _must(v) for k, v in reused.items()},
            tuple(reused_in),
            outputs_home,
        )


@attrs.define(slots=True)
class DefinitionRecord:
    """One definition of a workflow: one ``workflow`` event.

    ``id`` names the event (its order, the same on every machine); ``digest`` its content
    (two writers that defined the same thing have equal digests).
    """

    id: str
    digest: str
    order: Order
    keys: tuple[str, ...]
    replaces: tuple[str, ...] | None
    """``None``: written by an older version; it replaced every earlier definition."""
    source: str | None = None
    root: str | None = None
    host: str | None = None
    defined_at: float = 0.0

    def to_row(self) -> list[Any]:
        """Plain data for the snapshot."""
        return [
            self.id,
            self.digest,
            self.order,
            list(self.keys),
            None if self.replaces is None else list(self.replaces),
            self.source,
            self.root,
            self.host,
            self.defined_at,
        ]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> DefinitionRecord:
        """Inverse of :meth:`to_row`."""
        ident, digest, order, keys, replaces, source, root, host, defined_at = row
        return cls(
            ident,
            digest,
            _must(order),
            tuple(keys),
            None if replaces is None else tuple(replaces),
            source,
            root,
            host,
            defined_at,
        )


@attrs.define(slots=True)
class RunRecord:
    """The latest explicit run of a workflow."""

    run: str
    order: Order
    definition: str | None = None
    force: bool = False


@attrs.define(slots=True)
class WorkflowRecord:
    """A workflow name: every definition recorded under it, and its latest run."""

    name: str
    definitions: dict[str, DefinitionRecord] = attrs.field(factory=dict)
    latest_run: RunRecord | None = None

    def with_digest(self, digest: str | None) -> DefinitionRecord | None:
        """The latest definition whose content has ``digest``."""
        found = [d for d in self.definitions.values() if d.digest == digest]
        return max(found, key=lambda d: d.order) if found else None

    def current(self) -> list[DefinitionRecord]:
        """Definitions no other definition replaced, oldest first.

        Usually one. Two or more after a ``git merge`` of histories that each defined the
        workflow without seeing the other (a multi-value register), or when scripts of
        different sources define the same name; the next run of the workflow from each
        source replaces what it defined before.
        """
        by_order = sorted(self.definitions.values(), key=lambda d: d.order)
        replaced: set[str] = set()
        for index, definition in enumerate(by_order):
            if definition.replaces is None:
                replaced.update(d.id for d in by_order[:index])
            else:
                replaced.update(definition.replaces)
        return [d for d in by_order if d.id not in replaced]

    def to_row(self) -> list[Any]:
        """Plain data for the snapshot."""
        run = self.latest_run
        return [
            self.name,
            [d.to_row() for d in sorted(self.definitions.values(), key=lambda d: d.order)],
            None if run is None else [run.run, run.order, run.definition, run.force],
        ]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> WorkflowRecord:
        """Inverse of :meth:`to_row`."""
        name, definitions, run = row
        built = [DefinitionRecord.from_row(d) for d in definitions]
        latest = None if run is None else RunRecord(run[0], _must(run[1]), run[2], run[3])
        return cls(name, {d.id: d for d in built}, latest)


def _order(value: Any) -> Order | None:
    return None if value is None else (value[0], value[1], value[2])


def _must(value: Any) -> Order:
    return (value[0], value[1], value[2])
