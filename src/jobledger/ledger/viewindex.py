"""The snapshot's view index: what views show of each settled job, as columns.

A finished 100,000-job project is read by views (``jobledger report``, ``graph``) for a
dozen fields per job. Decoding each packed record for them costs seconds, so the snapshot
also keeps, for every settled job with one attempt and no array (most jobs of a finished
big project), those fields as columns (one msgpack map of lists, with the jobs' keys and
final states, in the order views read them: the jobs of each workflow's current
definitions first), written with the snapshot and decoded only when a view asks
(:meth:`~.packed.PackedRows.view`).

An entry holds what :class:`~.queries.SettledJob` gives a view, read from the record the
snapshot packed: the job's name, its attempt's exit code, signal, reason, times, number,
host (the attempt's, else the definition's), scheduler id, cores (``cpus`` × ``nodes``)
and time limit, the run directory of a job that did not complete, and its dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgpack

if TYPE_CHECKING:
    from jobledger.ledger.records import JobRecord


class ViewEntry(NamedTuple):
    """What views show of one settled job with one attempt and no array."""

    name: str
    exit_code: int | None
    signal: int | None
    reason: str
    submitted_at: float | None
    started_at: float | None
    ended_at: float | None
    number: int
    host: str | None
    scheduler_id: str | None
    cores: float
    """``cpus`` × ``nodes`` its attempt asked for (1 each when not asked)."""
    time_limit: float | None
    """Seconds of the attempt's time limit (``None``: none asked)."""
    run_dir: str | None
    """Only for a job that did not complete (its stderr is shown); else ``None``."""
    after: Sequence[Sequence[str]]


_COLUMNS = ViewEntry._fields


def entry_of(job: JobRecord, completed: bool) -> ViewEntry | None:
    """The entry of a settled ``job`` (``completed``: its final state is ``completed``), or
    ``None`` when the index does not cover it (several attempts, an array, no definition)."""
    spec = job.spec
    if spec is None or spec.array or len(job.attempts) != 1:
        return None
    (att,) = job.attempts.values()
    res = att.resources or {}
    try:
        cores = float(res.get("cpus") or 1) * float(res.get("nodes") or 1)
        limit = res.get("time")
        time_limit = float(limit) if limit else None
    except (TypeError, ValueError):
        return None
    return ViewEntry(
        spec.name,
        att.exit_code,
        att.signal,
        att.reason,
        att.submitted_at,
        att.started_at,
        att.ended_at,
        att.number,
        att.host or spec.host,
        att.scheduler_id,
        cores,
        time_limit,
        None if completed else (att.run_dir or spec.run_dir),
        [[str(k), str(kind)] for k, kind in spec.after],
    )


def encode(
    keys: Sequence[str],
    states: Sequence[str],
    entries: Sequence[ViewEntry | int],
    old: ViewIndex | None = None,
) -> bytes:
    """The index of jobs ``keys`` settled in ``states``, in the order views read them (see
    :func:`~.snapshot.view_order`): each one's entry, or its position in ``old`` (the
    index it is carried over from)."""
    columns: dict[str, Any] = {"keys": list(keys), "states": list(states)}
    carried = all(type(entry) is int for entry in entries)
    for k, name in enumerate(_COLUMNS):
        before: list[Any] = getattr(old, name) if old is not None else []
        if carried:
            columns[name] = list(map(before.__getitem__, entries))  # type: ignore[arg-type]
        else:
            columns[name] = [before[e] if type(e) is int else e[k] for e in entries]  # type: ignore[index]
    return msgpack.packb(columns, use_bin_type=True)  # type: ignore[no-any-return]


class ViewIndex:
    """The decoded index: job ``keys[i]``, settled in ``states[i]`` (a state's value), has
    each field of :class:`ViewEntry` at ``i`` of the list of the same name."""

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError("the view index is not a map")
        self.keys: list[str] = data["keys"]
        self.states: list[str] = data["states"]
        size = len(self.keys)
        for name in (*_COLUMNS, "states"):
            column = data[name]
            if type(column) is not list or len(column) != size:
                raise ValueError(f"the view index's column {name} does not fit its keys")
            setattr(self, name, column)
        self._where: dict[str, int] | None = None

    name: list[str]
    exit_code: list[int | None]
    signal: list[int | None]
    reason: list[str]
    submitted_at: list[float | None]
    started_at: list[float | None]
    ended_at: list[float | None]
    number: list[int]
    host: list[str | None]
    scheduler_id: list[str | None]
    cores: list[float]
    time_limit: list[float | None]
    run_dir: list[str | None]
    after: list[list[list[str]]]

    def where(self) -> dict[str, int]:
        """Key -> its position in the index."""
        if self._where is None:
            self._where = dict(zip(self.keys, range(len(self.keys)), strict=True))
        return self._where

    def entry(self, i: int) -> ViewEntry:
        """The entry at position ``i``."""
        return ViewEntry._make([getattr(self, name)[i] for name in _COLUMNS])


def decode(buffer: bytes | memoryview) -> ViewIndex:
    """The index in ``buffer`` (``ValueError`` when it is not one)."""
    try:
        data = msgpack.unpackb(buffer, raw=False, strict_map_key=False)
        return ViewIndex(data)
    except (KeyError, TypeError, msgpack.UnpackException) as exc:
        raise ValueError(f"unreadable view index: {exc}") from exc
