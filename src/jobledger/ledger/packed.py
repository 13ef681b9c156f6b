"""A snapshot's job records, kept packed: one buffer of msgpack rows found by the job's
key (:class:`PackedRows`), with each settled job's final state and activity clock and the
snapshot's view index beside them, so that a big finished project is answered without
decoding its records (:mod:`.lazy` builds a record from its row on first use)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import msgpack

from jobledger.gcpause import gc_paused
from jobledger.ledger.viewindex import ViewIndex
from jobledger.ledger.viewindex import decode as decode_view

#: Binary searches of packed rows before a dict of their keys is built (a reader that
#: looks up a few jobs builds none; one that walks them all pays ~10 ms per 100,000 once).
_SEARCHES_BEFORE_INDEX = 1000


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
