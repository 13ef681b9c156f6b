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
    hasher = hashlib.blake2b(digest_size=16)
    packer = msgpack.Packer(use_bin_type=True, default=_nested)
    hasher.update(packer.pack_array_header(2))
    hasher.update(packer.pack(name))
    hasher.update(packer.pack_array_header(len(specs)))
    for spec in specs:
        hasher.update(packer.pack(_stored_form(spec)))
    return hasher.hexdigest()


def _stored_form(obj: Any) -> Any:
    """``obj``'s stored map (what :func:`encode` gives), without copying it when its
    ``__dict__`` already is that map. A spec made by :func:`~jobledger.ledger.specs.sparse`
    (or read by the codec) holds only its fields not at their default; they must also be
    in field order. One made by ``__init__`` or ``attrs.evolve`` holds every field."""
    held = obj.__dict__
    index = _INDEX.get(type(obj)) or _index(type(obj))
    if len(held) == len(index):
        return encode(obj)
    last = -1
    for name in held:
        if index[name] <= last:
            return encode(obj)
        last = index[name]
    return held


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
