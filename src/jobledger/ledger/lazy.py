"""A dict of job records built on first use: from a snapshot's packed rows, or by folding
the events a cold open set aside for the job.

Opening a 250,000-job project must not build a quarter of a million records up front.
Two kinds of job stay *pending* until a reader or the reducer first touches them:

- **packed**: a snapshot row (msgpack bytes), decoded by ``load``;
- **deferred**: the job's own events (``[raw event, writer, where]`` items, or a
  definition's ``[spec, order, None]``), set aside by the reducer on a cold open and
  folded by ``fold`` on first use. The reducer is a join, so folding a job's events later
  and apart from the other jobs' events gives the same record.

Code that walks every job (a status table) pays the building then, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


class LazyJobs(dict):  # type: ignore[type-arg]
    """``{key: job record}`` where some records are still pending (packed or deferred).

    ``load`` turns an unpacked row into a record, ``dump`` a record into a row, ``fold``
    a key and its deferred items into a record (``None`` when none of them made one).
    """

    def __init__(
        self,
        blobs: dict[str, Any] | None = None,
        load: Callable[[Any], Any] | None = None,
        dump: Callable[[Any], Any] | None = None,
        settled: dict[str, str] | None = None,
        fold: Callable[[str, list[Any]], Any] | None = None,
    ) -> None:
        super().__init__()
        self.pending: dict[str, Any] = blobs if blobs is not None else {}
        """Key -> packed row (bytes) or deferred items (a list) of records not built yet."""
        self._decode = load
        self._encode = dump
        self._fold = fold
        self.settled = settled or {}
        """Key -> final state of packed records that nothing more will happen to."""

    def _load(self, key: str) -> Any:
        token = self.pending.pop(key)
        if type(token) is list:
            assert self._fold is not None
            value = self._fold(key, token)
            if value is None:
                return None
        else:
            assert self._decode is not None
            value = self._decode(unpack(token))
            self.settled.pop(key, None)
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
        return self.settled.get(key) if key in self.pending else None

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

    def packed(self) -> dict[str, bytes]:
        """Every record as a blob (built ones packed again, untouched ones as they were)."""
        self.fold_deferred()
        assert self._encode is not None
        out = dict(self.pending)
        for key, value in dict.items(self):
            out[key] = pack(self._encode(value))
        return out


def packed_jobs(jobs: dict[str, Any], dump: Callable[[Any], Any]) -> dict[str, bytes]:
    """Blobs for a plain or lazy jobs dict (``dump`` turns a record into a row)."""
    if isinstance(jobs, LazyJobs):
        return jobs.packed()
    return {key: pack(dump(value)) for key, value in jobs.items()}
