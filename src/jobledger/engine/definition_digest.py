"""The digest of a workflow definition: what tells a re-run "this very definition is
recorded already" (then nothing is written)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import msgpack

from jobledger.ledger.event_codec import encode
from jobledger.ledger.specs import JobSpec, TaskSpec


def definition_digest(name: str, specs: Sequence[JobSpec]) -> str:
    """BLAKE2b-128 of ``[name, [stored map of each spec]]`` packed, hashed spec by spec
    (the bytes of that one msgpack array, never built whole: a 100,000-job definition
    would hold them all at once)."""
    hasher = DigestBuilder(name, len(specs))
    for spec in specs:
        hasher.add(spec)
    return hasher.hexdigest()


class DigestBuilder:
    """:func:`definition_digest` fed one spec at a time, as the specs are made (while
    their data is still in the CPU's caches)."""

    def __init__(self, name: str, count: int) -> None:
        self._hasher = hashlib.blake2b(digest_size=16)
        self._packer = msgpack.Packer(use_bin_type=True, default=_nested)
        self._hasher.update(self._packer.pack_array_header(2))
        self._hasher.update(self._packer.pack(name))
        self._hasher.update(self._packer.pack_array_header(count))
        self._left = count
        self._pending: list[Any] = []

    def add(self, spec: JobSpec) -> None:
        """Hash the next spec."""
        self._left -= 1
        pending = self._pending
        pending.append(_stored_form(spec))
        if len(pending) >= _CHUNK:
            self._flush()

    def add_built(self, spec: JobSpec) -> None:
        """Hash the next spec, one made by :func:`~jobledger.engine.job_specs.job_spec`
        (its map and its tasks' maps are their stored forms, so none is checked)."""
        self._left -= 1
        pending = self._pending
        pending.append({**spec.__dict__, "tasks": [t.__dict__ for t in spec.tasks or ()]})
        if len(pending) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        """Hash the pending maps: packed as one array, less its header (the bytes of the
        maps one after another, as if packed one by one, in one call)."""
        pending = self._pending
        if pending:
            header = len(self._packer.pack_array_header(len(pending)))
            self._hasher.update(memoryview(self._packer.pack(pending))[header:])
            pending.clear()

    def hexdigest(self) -> str:
        """The digest (every announced spec must have been added)."""
        if self._left != 0:
            raise ValueError(f"definition digest: {self._left} spec(s) announced but not added")
        self._flush()
        return self._hasher.hexdigest()


_CHUNK = 512


def _stored_form(obj: Any) -> Any:
    """``obj``'s stored map (what :func:`encode` gives), without copying it when its
    ``__dict__`` already is that map. A spec made by :func:`~jobledger.ledger.specs.sparse`
    (or read by the codec) holds only its fields not at their default; they must also be
    in field order. One made by ``__init__`` or ``attrs.evolve`` holds every field."""
    held = obj.__dict__
    shape = (type(obj), tuple(held))
    usable = _USABLE.get(shape)
    if usable is None:
        usable = _in_field_order(*shape)
        if len(_USABLE) < 1024:
            _USABLE[shape] = usable
    return held if usable else encode(obj)


_USABLE: dict[tuple[type[Any], tuple[str, ...]], bool] = {}
"""Whether a ``__dict__`` holding these names (in this order) is its stored map: specs
repeat a few shapes, so each is checked once."""


def _in_field_order(cls: type[Any], names: tuple[str, ...]) -> bool:
    """True when ``names`` are some of ``cls``'s fields, in field order, not all of them."""
    index = _INDEX.get(cls) or _index(cls)
    if len(names) == len(index):
        return False
    last = -1
    for name in names:
        number = index.get(name)
        if number is None or number <= last:
            return False
        last = number
    return True


_INDEX: dict[type[Any], dict[str, int]] = {}


def _index(cls: type[Any]) -> dict[str, int]:
    found = _INDEX[cls] = {field.name: number for number, field in enumerate(attrs.fields(cls))}
    return found


def _nested(obj: Any) -> Any:
    """What the packer makes of values inside a spec's map: tasks, other mappings."""
    if type(obj) is TaskSpec:
        return _stored_form(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"a job spec holds {type(obj).__name__} {obj!r}, which has no stored form")
