"""A dict of job records built on first use: from a snapshot's packed rows, or by folding
the events a cold open set aside for the job.

Opening a 250,000-job project must not build a quarter of a million records up front.
Two kinds of job stay *pending* until a reader or the reducer first touches them:

- **packed**: a row of the snapshot's :class:`PackedRows` (one buffer of msgpack rows,
  found by the job's key in a sorted list: no dict of a quarter of a million keys is
  built to open), decoded by ``load``;
- **deferred**: the job's own events (``[raw event, writer, where]`` items, or a
  definition's ``[spec, order, None]``), set aside by the reducer on a cold open and
  folded by ``fold`` on first use. The reducer is a join, so folding a job's events later
  and apart from the other jobs' events gives the same record.

Code that walks every job (a status table) pays the building then, once.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import msgpack

from jobledger.gcpause import gc_paused
from jobledger.ledger.viewindex import ViewIndex
from jobledger.ledger.viewindex import decode as decode_view

_MISSING = object()
#: Binary searches of packed rows before a dict of their keys is built (a reader that
#: looks up a few jobs builds none; one that walks them all pays ~10 ms per 100,000 once).
_SEARCHES_BEFORE_INDEX = 1000
_contains = dict.__contains__


def unpack(blob: bytes | memoryview) -> Any:
    """Decode one packed record."""
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


def pack(value: Any) -> bytes:
    """Encode one record."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


class PackedRows:
    """A snapshot's job rows: job ``keys[i]`` (sorted) is ``buffer[ends[i-1]:ends[i]]``;
    ``codes[i]`` is 0 for an open job, else ``1 +`` the index of its final state in
    ``states``. Rows handed out are ``taken`` (their records live in the dict then)."""

    def __init__(
        self,
        keys: list[str],
        buffer: Any,
        ends: array[int],
        codes: bytes,
        states: Sequence[str],
        activity: array[int] | None = None,
        view: Any = None,
    ) -> None:
        if not (len(keys) == len(ends) == len(codes)) or (len(ends) and ends[-1] > len(buffer)):
            raise ValueError("packed rows do not fit their buffer")
        if activity is not None and len(activity) != len(keys):
            raise ValueError("packed rows' activity clocks do not fit their keys")
        self._activity = activity
        self.view_bytes = view
        """The snapshot's view index as it was read (``None``: none)."""
        self._view_index: ViewIndex | None = None
        self._view_read = view is None
        self.keys = keys
        self._index: dict[str, int] | None = None
        self._searches = 0
        self._buffer = memoryview(buffer)
        self._ends = ends
        self._codes = codes
        self._states = tuple(states)
        self.taken: set[str] = set()

    def _indexed(self) -> dict[str, int]:
        if self._index is None:
            self._index = {key: i for i, key in enumerate(self.keys)}
        return self._index

    def settled_of(self, keys: Iterable[str]) -> dict[str, str]:
        """The final states of those ``keys`` whose rows are packed, not taken and
        settled (one pass; the others are left out)."""
        index, taken, codes, states = self._indexed(), self.taken, self._codes, self._states
        out = {}
        for key in keys:
            i = index.get(key)
            if i is not None and codes[i] and key not in taken:
                out[key] = states[codes[i] - 1]
        return out

    def find(self, key: object) -> int | None:
        """The row of ``key`` when it is packed and not taken (by binary search; once
        many rows were looked for, by a dict of the keys built then)."""
        if type(key) is not str:
            return None
        index = self._index
        if index is None:
            self._searches += 1
            if self._searches > _SEARCHES_BEFORE_INDEX:
                index = self._indexed()
            else:
                keys = self.keys
                i = bisect_left(keys, key)
                if i < len(keys) and keys[i] == key and key not in self.taken:
                    return i
                return None
        found = index.get(key)
        if found is None or key in self.taken:
            return None
        return found

    def __len__(self) -> int:
        return len(self.keys) - len(self.taken)

    def left(self) -> list[tuple[str, int]]:
        """``(key, row)`` of every row not taken, in key order."""
        taken = self.taken
        return [(k, i) for i, k in enumerate(self.keys) if k not in taken]

    def raw(self, i: int) -> memoryview:
        """The packed bytes of row ``i``."""
        return self._buffer[self._ends[i - 1] if i else 0 : self._ends[i]]

    def row(self, i: int) -> Any:
        """Row ``i`` unpacked (and taken)."""
        self.taken.add(self.keys[i])
        return unpack(self.raw(i))

    def activity(self, i: int) -> int | None:
        """Row ``i``'s :func:`~jobledger.ledger.phases.activity_clock` when its job is
        settled (``None`` for an open job, or a snapshot that has none)."""
        if self._activity is None or not self._codes[i]:
            return None
        return int(self._activity[i])

    def view(self) -> ViewIndex | None:
        """The snapshot's view index of these rows, decoded on first use (``None`` when
        the snapshot has none or it is unreadable). It holds for rows not taken only: a
        taken row's record may have changed since."""
        if not self._view_read:
            self._view_read = True
            try:
                with gc_paused():
                    self._view_index = decode_view(self.view_bytes)
            except ValueError:
                pass
        return self._view_index

    def finals(self) -> tuple[bytes, tuple[str, ...]]:
        """Each row's code (0: open, else ``1 +`` an index in the states) and the states."""
        return self._codes, self._states

    def settled(self, i: int) -> str | None:
        """The final state of row ``i``'s job when nothing more will happen to it."""
        code = self._codes[i]
        return self._states[code - 1] if code else None


class PackedFinal(NamedTuple):
    """A settled record still packed: its bytes, final state and activity clock."""

    raw: memoryview
    state: str
    activity: int | None


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
