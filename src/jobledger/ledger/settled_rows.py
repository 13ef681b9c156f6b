"""Settled jobs read straight from their packed snapshot records: what a view shows of
a job (its definition and its one attempt, :func:`settled_job`) or a graph shows of it
(:func:`settled_nodes`), without building the record, its attempts and their histories."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import attrs
import msgpack

from jobledger.gcpause import gc_paused
from jobledger.ledger.event_codec import decode_spec
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.records import AttemptRecord, JobRecord
from jobledger.ledger.reducer import Model
from jobledger.ledger.specs import JobSpec
from jobledger.states import STATES, JobState


class SettledJob(NamedTuple):
    """A settled job with one attempt and no array, as views show it (read from its packed
    record by :func:`settled_job`); fields of the attempt as in
    :class:`~jobledger.ledger.records.AttemptRecord`."""

    key: str
    spec: JobSpec
    state: JobState
    number: int
    exit_code: int | None
    signal: int | None
    reason: str
    started_at: float | None
    ended_at: float | None
    submitted_at: float | None
    host: str | None
    run_dir: str | None
    scheduler_id: str | None
    resources: Mapping[str, Any] | None
    retry_reason: str
    manual: bool


class SettledNode(NamedTuple):
    """What a graph shows of a settled job with one attempt and no array (read from its
    packed record by :func:`settled_nodes`, or from a :class:`SettledJob` by :func:`node_of`)."""

    key: str
    name: str
    host: str
    state: JobState
    exit_code: int | None
    after: Sequence[Sequence[str]]


def node_of(job: SettledJob) -> SettledNode:
    """The graph's part of a settled job."""
    spec = job.spec
    return SettledNode(
        job.key, spec.name, job.host or spec.host or "local", job.state, job.exit_code, spec.after
    )


#: Positions in a packed record (``JobRecord.to_row``/``AttemptRecord.to_row`` follow the
#: order of the classes' fields).
_JOB_FIELDS = len(attrs.fields_dict(JobRecord))
_AT = {name: i for i, name in enumerate(attrs.fields_dict(AttemptRecord))}
_ATTEMPT_FIELDS = len(_AT)
_EXIT, _HOST = _AT["exit_code"], _AT["host"]
assert _EXIT < _HOST
_DEFAULT_HOST = attrs.fields_dict(JobSpec)["host"].default
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, msgpack.UnpackException)


def settled_job(model: Model, key: str) -> SettledJob | None:
    """What a view shows of job ``key`` when its record is still packed, settled, has one
    attempt and no array (most jobs of a finished big project), read without decoding the
    record; ``None`` otherwise (read :meth:`ProjectState.job` then)."""
    return settled_jobs(model, (key,)).get(key)


def settled_jobs(model: Model, keys: Iterable[str]) -> dict[str, SettledJob]:
    """:func:`settled_job` of each of ``keys`` that has one (one reader for all of them)."""
    read = _Reader().read
    return {k: found for k, raw, state in _packed_finals(model, keys) if (found := read(k, raw, state))}


def settled_nodes(model: Model, keys: Iterable[str]) -> dict[str, SettledNode]:
    """What a graph shows of each of ``keys`` that is packed, settled, with one attempt and
    no array: less than :func:`settled_jobs` reads (no definition built, two fields of
    the attempt)."""
    read = _Reader().read_node
    return {k: found for k, raw, state in _packed_finals(model, keys) if (found := read(k, raw, state))}


def _packed_finals(model: Model, keys: Iterable[str]) -> Iterator[tuple[str, memoryview, JobState]]:
    """``(key, packed bytes, final state)`` of each of ``keys`` still packed and settled."""
    jobs = model.jobs
    if not isinstance(jobs, LazyJobs):
        return
    final_of = jobs.packed_final
    with gc_paused():
        for key in keys:
            found = final_of(key)
            if found is not None:
                yield key, found.raw, STATES[found.state]


class _Reader:
    """Reads the parts of packed job records that views show, record after record."""

    def __init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self._end = 0

    def read(self, key: str, blob: bytes | memoryview, state: JobState) -> SettledJob | None:
        unpacker = self._unpacker
        unpacker.feed(blob)
        self._end += len(blob)
        skip = unpacker.skip
        try:
            fields = unpacker.read_array_header()
            skip()  # key
            data = unpacker.unpack()
            skip()  # order of the definition
            attempts = unpacker.read_array_header()
            att = unpacker.unpack() if attempts else None
            for _ in range(attempts - 1):
                skip()
            for _ in range(fields - 4):
                skip()
        except _UNREADABLE:
            self._fresh()  # this record is not one: start clean for the next
            return None
        if unpacker.tell() != self._end:
            self._fresh()
            return None
        if (fields != _JOB_FIELDS or attempts != 1 or type(data) is not dict or type(att) is not list
                or len(att) != _ATTEMPT_FIELDS):  # fmt: skip
            return None
        try:
            spec = decode_spec(data)
            if spec.array:
                return None
            retry = att[_AT["retry"]]
            return SettledJob(
                key,
                spec,
                state,
                att[_AT["number"]],
                att[_AT["exit_code"]],
                att[_AT["signal"]],
                att[_AT["reason"]],
                att[_AT["started_at"]],
                att[_AT["ended_at"]],
                att[_AT["submitted_at"]],
                att[_AT["host"]],
                att[_AT["run_dir"]],
                att[_AT["scheduler_id"]],
                att[_AT["resources"]],
                retry[1] if retry else "",
                bool(retry and retry[2]),
            )
        except _UNREADABLE:
            return None

    def read_node(self, key: str, blob: bytes | memoryview, state: JobState) -> SettledNode | None:
        unpacker = self._unpacker
        unpacker.feed(blob)
        self._end += len(blob)
        skip, unpack = unpacker.skip, unpacker.unpack
        exit_code = host = None
        width = 0
        try:
            fields = unpacker.read_array_header()
            skip()  # key
            data = unpack()
            skip()  # order of the definition
            attempts = unpacker.read_array_header()
            if attempts == 1:
                width = unpacker.read_array_header()
                rest = width
                if width == _ATTEMPT_FIELDS:  # the fields in order: skip to the two read
                    for _ in range(_EXIT):
                        skip()
                    exit_code = unpack()
                    for _ in range(_HOST - _EXIT - 1):
                        skip()
                    host = unpack()
                    rest -= _HOST + 1
                for _ in range(rest):
                    skip()
            else:
                for _ in range(attempts):
                    skip()
            for _ in range(fields - 4):
                skip()
        except _UNREADABLE:
            self._fresh()
            return None
        if unpacker.tell() != self._end:
            self._fresh()
            return None
        if (fields != _JOB_FIELDS or attempts != 1 or width != _ATTEMPT_FIELDS or type(data) is not dict
                or data.get("array") or type(name := data.get("name")) is not str):  # fmt: skip
            return None
        spec_host = data.get("host", _DEFAULT_HOST)
        return SettledNode(key, name, host or spec_host or "local", state, exit_code, data.get("after", ()))
