"""The one codec between event classes and the on-disk form ``[type, clock, seq, time, data]``.

``data`` is a msgpack map of the fields that differ from their defaults. Decoding is on the
hot path of opening a ledger (a million events), so it does not call the classes'
``__init__``: the decoded map becomes the new instance's ``__dict__`` and the class
supplies the defaults (see :func:`jobledger.ledger.specs.with_class_defaults`). Fields are
checked where they are used (the reducer), which names the event that does not fit.

Older ledgers read through *upcasters*, one per changed shape:

- ``note`` events with ``kind`` ``staged``/``outputs``/``fetched`` (before these had types
  of their own) become :class:`Staged`, :class:`OutputsHome`, :class:`Fetched`;
- job records of ``workflow`` events written before definitions were complete have no
  ``tasks`` (their :class:`JobSpec` is not submittable from the ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs

from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec, TaskSpec
from jobledger.model.names import safe_name

_new = object.__new__
_set = object.__setattr__


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    """An instance of ``cls`` holding ``data`` (stored fields only) without ``__init__``."""
    obj = _new(cls)
    _set(obj, "__dict__", data)
    return obj


# ------------------------------------------------------------------------- envelope
class Recorded(NamedTuple):
    """An event with its identity (``writer``, ``seq``) and logical ``clock``.

    A named tuple: one is built per appended event, and a tuple is the cheapest object to
    build (a fifth of what setting five slots costs).
    """

    event: Any
    clock: int
    writer: str
    seq: int
    time: float

    @property
    def order(self) -> tuple[int, str, int]:
        """Total order key, identical on every machine."""
        return (self.clock, self.writer, self.seq)

    @property
    def type(self) -> str:
        """The on-disk type name."""
        return str(self.event.TYPE)

    @property
    def data(self) -> dict[str, Any]:
        """Every field that holds something, as plain data (what ``jobledger log`` prints)."""
        return readable(self.event)


_tuple_new = tuple.__new__


def recorded(event: Any, clock: int, writer: str, seq: int, when: float) -> Recorded:
    """A :class:`Recorded` built in one call (one per appended event)."""
    return _tuple_new(Recorded, (event, clock, writer, seq, when))


# ------------------------------------------------------------------------- decoding
def _task(data: Any) -> TaskSpec:
    return _build(TaskSpec, data) if isinstance(data, dict) else data  # type: ignore[no-any-return]


def decode_spec(data: Any) -> JobSpec:
    """A :class:`JobSpec` from its stored map (old records get the fields they lack)."""
    if not isinstance(data, dict):
        return data  # type: ignore[no-any-return]
    key = data.get("key")
    if not isinstance(key, str):
        raise TypeError(f"a job record without a key: {data!r:.80}")
    if "name" not in data:
        data["name"] = key[:12]
    if "run_dir" not in data:
        data["run_dir"] = f"jobs/{safe_name(str(data['name']))}-{key[:8]}"
    tasks = data.get("tasks")
    if tasks is not None:
        data["tasks"] = [_task(t) for t in tasks]
    return _build(JobSpec, data)  # type: ignore[no-any-return]


def _workflow(data: dict[str, Any]) -> dict[str, Any]:
    data["jobs"] = [decode_spec(j) for j in data.get("jobs", ())]
    return data


_NOTE_KINDS: dict[str, type[Any]] = {"staged": ev.Staged, "outputs": ev.OutputsHome, "fetched": ev.Fetched}


def _note(data: dict[str, Any]) -> Any:
    """Upcaster: typed file events were ``note`` events with a ``kind`` before."""
    kind = data.get("kind")
    target = _NOTE_KINDS.get(kind) if isinstance(kind, str) else None
    if target is None:
        return _build(ev.Note, data)
    fields = {a.name for a in attrs.fields(target)}
    return _build(target, {k: v for k, v in data.items() if k in fields})


def _workflow_event(data: dict[str, Any]) -> Any:
    return _build(ev.WorkflowDefined, _workflow(data))


#: On-disk type -> ``(class, builder)``: with no builder an event is its class holding the
#: stored map as ``__dict__`` (the reducer's hot path builds those inline); a builder makes
#: the event of the types that need preparing or upcasting.
DECODERS: dict[str, tuple[type[Any], Callable[[dict[str, Any]], Any] | None]] = {
    etype: (cls, None) for etype, cls in ev.BY_TYPE.items()
}
DECODERS["workflow"] = (ev.WorkflowDefined, _workflow_event)
DECODERS["note"] = (ev.Note, _note)


def decode(etype: str, data: Any) -> Any:
    """The event of on-disk type ``etype`` holding ``data``; ``None`` for unknown types."""
    if type(data) is not dict:
        raise TypeError(f"{etype} event data is {type(data).__name__}, not a map")
    found = DECODERS.get(etype)
    if found is None:
        return None
    cls, builder = found
    return _build(cls, data) if builder is None else builder(data)


def decode_raw(raw: Any, writer: str) -> Recorded | None:
    """A :class:`~jobledger.ledger.events.Recorded` from the on-disk array (``None`` when
    the type is unknown or the array is malformed)."""
    if not (isinstance(raw, list) and len(raw) == 5 and isinstance(raw[0], str)):
        return None
    etype, clock, seq, when, data = raw
    try:
        event = decode(etype, data)
    except TypeError:
        return None
    return None if event is None else recorded(event, clock, writer, seq, when)


# ------------------------------------------------------------------------- encoding
_FIELDS: dict[type[Any], tuple[tuple[str, Any], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple((a.name, getattr(cls, a.name, attrs.NOTHING)) for a in attrs.fields(cls))
    return found


_SCALARS = frozenset({str, int, float, bool, type(None), bytes})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _plain(v) for v in value]
    if kind is dict:
        return {k: v if type(v) in _SCALARS else _plain(v) for k, v in value.items()}
    if kind is JobSpec or kind is TaskSpec:
        return encode(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _compile_encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """:func:`encode` for one class, unrolled over its fields (appending a million events
    encodes a million of them).

    An instance built by ``__init__`` holds every field in its ``__dict__``: those are read
    by subscript; one built by the decoder holds the stored fields only (and, from a newer
    version, fields this one does not know): those take the path that reads each field with
    its default.
    """
    fields = _fields(cls)
    names: dict[str, Any] = {"S": _SCALARS, "P": _plain}
    fast = ["def encode(obj):", " h = obj.__dict__", f" if len(h) != {len(fields)}:", "  return slow(obj)"]
    fast += [" try:", "  out = {}"]
    slow = ["def slow(obj):", " h = obj.__dict__", " out = {}"]
    for i, (name, default) in enumerate(fields):
        names[f"D{i}"] = default
        if default is attrs.NOTHING or default is None:  # nothing else equals these
            test = f"v is not D{i}"
        else:
            test = f"v is not D{i} and v != D{i}"
        store = f"out[{name!r}] = v if type(v) in S else P(v)"
        fast += [f"  v = h[{name!r}]", f"  if {test}:", f"   {store}"]
        slow += [f" v = h.get({name!r}, D{i})", f" if {test}:", f"  {store}"]
    fast += ["  return out", " except KeyError:", "  return slow(obj)"]
    slow.append(" return out")
    exec("\n".join(slow), names)  # noqa: S102 (source built above from field names)
    exec("\n".join(fast), names)  # noqa: S102
    return names["encode"]  # type: ignore[no-any-return]


ENCODERS: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}
"""Compiled encoder by class (filled on first use; see :func:`encoder`)."""


def _encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    found = ENCODERS.get(cls)
    if found is None:
        found = ENCODERS[cls] = _compile_encoder(cls)
    return found


def encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """:func:`encode` for instances of ``cls`` (compiled once per class)."""
    return ENCODERS.get(cls) or _encoder(cls)


def encode(obj: Any) -> dict[str, Any]:
    """The stored fields of an event (or spec) as a plain map: those not at their default."""
    return (ENCODERS.get(type(obj)) or _encoder(type(obj)))(obj)


def readable(obj: Any) -> dict[str, Any]:
    """The stored fields of an event, and the defaults of its other fields that say
    something (``action="submit"``, ``attempt=1``), as plain data."""
    out: dict[str, Any] = {}
    for name, default in _fields(type(obj)):
        value = getattr(obj, name)
        stored = name in obj.__dict__ and not (value is default or value == default)
        if value is None or (not stored and isinstance(value, (tuple, list, dict)) and not value):
            continue
        out[name] = _plain(value)
    return out


def to_raw(event: Any, clock: int, seq: int, when: float) -> list[Any]:
    """The on-disk array of ``event``."""
    return [event.TYPE, clock, seq, when, encode(event)]
