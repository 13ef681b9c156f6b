"""The workflow records of the read model: every definition of a workflow name and its
latest run (see :mod:`.records` for the job records)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from jobledger.ledger.order import Order, order_of


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
            order_of(order),
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
    info: tuple[int, Any] | None = attrs.field(default=None, init=False, eq=False, repr=False)
    """The frozen view last made of it and how many definitions it had then (see
    :func:`jobledger.ledger.infos.workflow_info`); definitions are only ever added."""

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
        latest = None if run is None else RunRecord(run[0], order_of(run[1]), run[2], run[3])
        return cls(name, {d.id: d for d in built}, latest)
