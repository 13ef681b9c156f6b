"""A dict of job records built on first use: from a snapshot's packed rows, or by folding
the events a cold open set aside for the job.

Opening a 250,000-job project must not build a quarter of a million records up front.
Two kinds of job stay *pending* until a reader or the reducer first touches them:

- **packed**: row ``i`` of the snapshot's :class:`PackedRows` (one buffer of msgpack
  rows), decoded by ``load``;
- **deferred**: the job's own events (``[raw event, writer, where]`` items, or a
  definition's ``[spec, order, None]``), set aside by the reducer on a cold open and
  folded by ``fold`` on first use. The reducer is a join, so folding a job's events later
  and apart from the other jobs' events gives the same record.

Code that walks every job (a status table) pays the building then, once.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgpack

from jobledger.gcpause import gc_paused

_MISSING = object()
_contains = dict.__contains__


def unpack(blob: bytes | memoryview) -> Any:
    """Decode one packed record."""
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


def pack(value: Any) -> bytes:
    """Encode one record."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


class PackedRows:
    """A snapshot's job rows: row ``i`` is ``buffer[ends[i-1]:ends[i]]``; ``codes[i]`` is 0
    for an open job, else ``1 +`` the index of its final state in ``states``."""

    def __init__(self, buffer: Any, ends: array[int], codes: bytes, states: Sequence[str]) -> None:
        if len(ends) != len(codes) or (len(ends) and ends[-1] > len(buffer)):
            raise ValueError("packed rows do not fit their buffer")
        self._buffer = memoryview(buffer)
        self._ends = ends
        self._codes = codes
        self._states = tuple(states)

    def raw(self, i: int) -> memoryview:
        """The packed bytes of row ``i``."""
        return self._buffer[self._ends[i - 1] if i else 0 : self._ends[i]]

    def row(self, i: int) -> Any:
        """Row ``i`` unpacked."""
        return unpack(self.raw(i))

    def settled(self, i: int) -> str | None:
        """The final state of row ``i``'s job when nothing more will happen to it."""
        code = self._codes[i]
        return self._states[code - 1] if code else None


class LazyJobs(dict):  # type: ignore[type-arg]
    """``{key: job record}`` where some records are still pending (packed or deferred).

    ``pending`` maps a key to its row number in ``rows`` or to its deferred items (a
    list). ``load`` turns an unpacked row into a record, ``dump`` a record into a row,
    ``fold`` a key and its deferred items into a record (``None`` when none made one).
    """

    def __init__(
        self,
        pending: dict[str, Any] | None = None,
        load: Callable[[Any], Any] | None = None,
        dump: Callable[[Any], Any] | None = None,
        rows: PackedRows | None = None,
        fold: Callable[[str, list[Any]], Any] | None = None,
    ) -> None:
        super().__init__()
        self.pending: dict[str, Any] = pending if pending is not None else {}
        """Key -> row number or deferred items (a list) of records not built yet."""
        self.load = load
        self.dump = dump
        self.rows = rows
        self._fold = fold

    def _load(self, key: str) -> Any:
        token = self.pending.pop(key)
        if type(token) is list:
            assert self._fold is not None
            value = self._fold(key, token)
            if value is None:
                return None
        else:
            assert self.load is not None and self.rows is not None
            value = self.load(self.rows.row(token))
        dict.__setitem__(self, key, value)
        return value

    def defer(self, key: str, item: Any) -> bool:
        """Set ``item`` aside for ``key`` unless its record is built or packed."""
        if _contains(self, key):
            return False
        found = self.pending.get(key)
        if found is None:
            self.pending[key] = [item]
            return True
        if type(found) is list:
            found.append(item)
            return True
        return False

    def packed_settled(self, key: str) -> str | None:
        """The final state of a still-packed record that is settled (without decoding it)."""
        token = self.pending.get(key)
        if type(token) is int and self.rows is not None:
            return self.rows.settled(token)
        return None

    def __getitem__(self, key: str) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if key in self.pending and (value := self._load(key)) is not None:
                return value
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if key in self.pending and (value := self._load(key)) is not None:
                return value
            return default
        return value

    def __contains__(self, key: object) -> bool:
        return _contains(self, key) or key in self.pending

    def __len__(self) -> int:
        return dict.__len__(self) + len(self.pending)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[str]:
        return iter([*dict.keys(self), *self.pending])

    def keys(self) -> list[str]:  # type: ignore[override]
        return [*dict.keys(self), *self.pending]

    def materialize(self) -> None:
        """Build every pending record."""
        with gc_paused():
            for key in list(self.pending):
                self._load(key)

    def fold_deferred(self) -> None:
        """Build every record whose events were set aside (packed ones stay packed)."""
        deferred = [k for k, v in self.pending.items() if type(v) is list]
        if deferred:
            with gc_paused():
                for key in deferred:
                    self._load(key)

    def values(self) -> Any:
        self.materialize()
        return dict.values(self)

    def items(self) -> Any:
        self.materialize()
        return dict.items(self)
