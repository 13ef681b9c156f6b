"""A dict of job records built on first use: from a snapshot's packed rows, or by folding
the events a cold open set aside for the job.

Opening a 250,000-job project must not build a quarter of a million records up front.
Two kinds of job stay *pending* until a reader or the reducer first touches them:

- **packed**: a row of the snapshot's :class:`~.packed.PackedRows` (one buffer of msgpack rows,
  found by the job's key in a sorted list: no dict of a quarter of a million keys is
  built to open), decoded by ``load``;
- **deferred**: the job's own events (``[raw event, writer, where]`` items, or a
  definition's ``[spec, order, None]``), set aside by the reducer on a cold open and
  folded by ``fold`` on first use. The reducer is a join, so folding a job's events later
  and apart from the other jobs' events gives the same record.

Code that walks every job (a status table) pays the building then, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jobledger.gcpause import gc_paused
from jobledger.ledger.packed import PackedFinal, PackedRows

#: The packed rows are defined in :mod:`.packed`; readers of the lazy dict find them here too.
__all__ = ["LazyJobs", "PackedFinal", "PackedRows"]

_MISSING = object()
_contains = dict.__contains__


class LazyJobs(dict):  # type: ignore[type-arg]
    """``{key: job record}`` where some records are still pending (packed or deferred).

    ``pending`` maps a key to its deferred items; ``rows`` holds the packed ones. ``load``
    turns an unpacked row into a record, ``dump`` a record into a row, ``fold`` a key and
    its deferred items into a record (``None`` when none made one).
    """

    def __init__(
        self,
        load: Callable[[Any], Any] | None = None,
        dump: Callable[[Any], Any] | None = None,
        rows: PackedRows | None = None,
        fold: Callable[[str, list[Any]], Any] | None = None,
    ) -> None:
        super().__init__()
        self.pending: dict[str, list[Any]] = {}
        """Key -> deferred items of a record not built yet (none is also packed)."""
        self.load = load
        self.dump = dump
        self.rows = rows
        self._fold = fold

    def _load(self, key: str) -> Any:
        items = self.pending.pop(key, None)
        if items is not None:
            assert self._fold is not None
            value = self._fold(key, items)
            if value is None:
                return None
        else:
            rows = self.rows
            row = None if rows is None else rows.find(key)
            if row is None:
                return None
            assert self.load is not None and rows is not None
            value = self.load(rows.row(row))
        dict.__setitem__(self, key, value)
        return value

    def defer(self, key: str, item: Any) -> bool:
        """Set ``item`` aside for ``key`` unless its record is built or packed."""
        if _contains(self, key):
            return False
        found = self.pending.get(key)
        if found is not None:
            found.append(item)
            return True
        if self.rows is not None and self.rows.find(key) is not None:
            return False
        self.pending[key] = [item]
        return True

    def _packed_row(self, key: str) -> int | None:
        rows = self.rows
        return None if rows is None else rows.find(key)

    def packed_settled(self, key: str) -> str | None:
        """The final state of a still-packed record that is settled (without decoding it)."""
        row = self._packed_row(key)
        return None if row is None or self.rows is None else self.rows.settled(row)

    def packed_settled_many(self, keys: Iterable[str]) -> dict[str, str]:
        """:meth:`packed_settled` of many keys in one pass (keys without one left out)."""
        return {} if self.rows is None else self.rows.settled_of(keys)

    def packed_final(self, key: str) -> PackedFinal | None:
        """The bytes, final state and activity clock of a still-packed record that is
        settled (one lookup; ``None`` for a record built, open or unknown)."""
        row, rows = self._packed_row(key), self.rows
        if row is None or rows is None:
            return None
        state = rows.settled(row)
        return None if state is None else PackedFinal(rows.raw(row), state, rows.activity(row))

    def __getitem__(self, key: str) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if (value := self._load(key)) is not None:
                return value
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if (value := self._load(key)) is not None:
                return value
            return default
        return value

    def __contains__(self, key: object) -> bool:
        return (
            _contains(self, key)
            or key in self.pending
            or (self.rows is not None and self.rows.find(key) is not None)
        )

    def __len__(self) -> int:
        return dict.__len__(self) + len(self.pending) + (len(self.rows) if self.rows is not None else 0)

    def __bool__(self) -> bool:
        return len(self) > 0

    def keys(self) -> list[str]:  # type: ignore[override]
        packed = [k for k, _row in self.rows.left()] if self.rows is not None else []
        return [*dict.keys(self), *self.pending, *packed]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def materialize(self) -> None:
        """Build every pending record."""
        with gc_paused():
            for key in list(self.pending):
                self._load(key)
            rows, load = self.rows, self.load
            if rows is not None and load is not None:
                for key, row in rows.left():
                    dict.__setitem__(self, key, load(rows.row(row)))

    def fold_deferred(self) -> None:
        """Build every record whose events were set aside (packed ones stay packed)."""
        if self.pending:
            with gc_paused():
                for key in list(self.pending):
                    self._load(key)

    def values(self) -> Any:
        self.materialize()
        return dict.values(self)

    def items(self) -> Any:
        self.materialize()
        return dict.items(self)
