"""A dict of job records whose values stay packed until first used (snapshot loading).

A snapshot of a 250,000-job project holds millions of small objects; unpacking them all
would cost seconds on every open. Instead each job record is stored as its own msgpack
blob and decoded when the reducer or a reader first touches it. Code that walks every
job (a status table) pays the decoding then, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from jobledger.gcpause import gc_paused

_MISSING = object()


def unpack(blob: bytes) -> Any:
    """Decode one packed record."""
    return msgpack.unpackb(blob, raw=False, strict_map_key=False)


def pack(value: Any) -> bytes:
    """Encode one record."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


class LazyJobs(dict):  # type: ignore[type-arg]
    """``{key: job record}`` where some records are still packed bytes.

    ``load`` turns an unpacked row into a record; ``dump`` a record into a row.
    """

    def __init__(
        self,
        blobs: dict[str, bytes],
        load: Callable[[Any], Any],
        dump: Callable[[Any], Any],
        settled: dict[str, str] | None = None,
        activity: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self._blobs = blobs
        self._decode = load
        self._encode = dump
        self.settled = settled or {}
        """Key -> final state of packed records that nothing more will happen to."""
        self.activity = activity or {}
        """Key -> :func:`~jobledger.ledger.phases.activity_clock` of settled packed records."""

    def _load(self, key: str) -> Any:
        value = self._decode(unpack(self._blobs.pop(key)))
        self.settled.pop(key, None)
        self.activity.pop(key, None)
        dict.__setitem__(self, key, value)
        return value

    def blob(self, key: str) -> bytes | None:
        """The packed bytes of a record not decoded yet (``None`` once decoded or unknown)."""
        return self._blobs.get(key)

    def packed_settled(self, key: str) -> str | None:
        """The final state of a still-packed record that is settled (without decoding it)."""
        return self.settled.get(key) if key in self._blobs else None

    def packed_activity(self, key: str) -> int | None:
        """The activity clock of a still-packed settled record (without decoding it)."""
        return self.activity.get(key) if key in self._blobs else None

    def __getitem__(self, key: str) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if key in self._blobs:
                return self._load(key)
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            if key in self._blobs:
                return self._load(key)
            return default
        return value

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._blobs

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._blobs)

    def __iter__(self) -> Iterator[str]:
        return iter([*dict.keys(self), *self._blobs])

    def keys(self) -> list[str]:  # type: ignore[override]
        return [*dict.keys(self), *self._blobs]

    def materialize(self) -> None:
        """Decode every remaining record."""
        with gc_paused():
            for key in list(self._blobs):
                self._load(key)

    def values(self) -> Any:
        self.materialize()
        return dict.values(self)

    def items(self) -> Any:
        self.materialize()
        return dict.items(self)

    def packed(self) -> dict[str, bytes]:
        """Every record as a blob (decoded ones packed again, untouched ones as they were)."""
        out = dict(self._blobs)
        for key, value in dict.items(self):
            out[key] = pack(self._encode(value))
        return out


def packed_jobs(jobs: dict[str, Any], dump: Callable[[Any], Any]) -> dict[str, bytes]:
    """Blobs for a plain or lazy jobs dict (``dump`` turns a record into a row)."""
    if isinstance(jobs, LazyJobs):
        return jobs.packed()
    return {key: pack(dump(value)) for key, value in jobs.items()}
