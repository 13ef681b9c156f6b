"""The snapshot cache: the reduced state plus exactly what it covers.

``.jobledger/cache/snapshot.msgpack`` (git-ignored) holds the state, for every segment
the byte offset read and the digest of the last record read, and the reader's book of
segments (writers, headers, damage, sequence numbers folded). Loading checks that each
covered segment still holds that digest at that offset; otherwise the snapshot is
ignored and the ledger is read from scratch.

Layout: ``MAGIC``, the length of the header (8 bytes, big-endian), the header (one msgpack
map: everything but the job records, plus the job keys, where each job's row ends and a
byte per job telling its final state), then the job rows, packed one by one, end to end,
then the view index of the settled jobs (:mod:`.viewindex`, placed by ``jobs.view``).
The file is mapped, not read: opening a 250,000-job project from its snapshot unpacks the
header only, and a job's row when the job is first used (:class:`~.lazy.LazyJobs`).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import struct
import threading
from array import array
from collections.abc import Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

import attrs
import msgpack

from jobledger.gcpause import gc_paused
from jobledger.ledger.book import SegmentBook
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.packed import PackedRows
from jobledger.ledger.phases import activity_clock
from jobledger.ledger.records import WorkflowRecord
from jobledger.ledger.reducer import Model, dump_job, load_job
from jobledger.ledger.segment import SegmentCursor, fsync_dir
from jobledger.ledger.state import settled
from jobledger.ledger.viewindex import ViewEntry, ViewIndex, entry_of
from jobledger.ledger.viewindex import encode as encode_view
from jobledger.states import STATES, JobState

log = logging.getLogger("jobledger")

SNAPSHOT_VERSION = 9
MAGIC = b"JLSNAP09"
_LENGTH = struct.Struct(">Q")
_STATE_NAMES = tuple(STATES)
_STATE_CODE = {name: i + 1 for i, name in enumerate(_STATE_NAMES)}
_COMPLETED = JobState.COMPLETED


@attrs.define
class Snapshot:
    """What a snapshot restores."""

    model: Model
    cursors: dict[str, SegmentCursor]
    book: SegmentBook


_Entry = ViewEntry | int | None
_Rows = tuple[list[str], list[Any], "array[int]", bytes, "array[int]", list[_Entry], ViewIndex | None]


def _untouched_view(model: Model) -> Any:
    """The loaded snapshot's view index bytes when every job is still a row of it, untouched
    (the index then holds as it is), else ``None``."""
    jobs = model.jobs
    if not isinstance(jobs, LazyJobs) or jobs.rows is None or jobs.rows.taken or jobs.pending:
        return None
    return jobs.rows.view_bytes if not dict.__len__(jobs) else None


def _job_rows(model: Model, carry: bool = True) -> _Rows:
    """Keys (sorted), packed rows, where each row ends, each job's settled-state code,
    each settled job's :func:`activity_clock` (so that the jobs a run reused are known
    without building their records), each job's view entry (see :mod:`.viewindex`) or its
    position in the loaded snapshot's index ``view`` (returned last) it is carried from
    (none of the loaded rows' when not ``carry``)."""
    jobs = model.jobs
    found: list[tuple[str, Any, int, int, _Entry]] = []
    view = None
    if isinstance(jobs, LazyJobs):
        jobs.fold_deferred()
        rows = jobs.rows
        if rows is not None:  # untouched since loaded: as they were
            view = rows.view() if carry else None
            where = view.where() if view is not None else {}
            for key, row in rows.left():
                state = rows.settled(row)
                clock = rows.activity(row)
                code = 0 if state is None else _STATE_CODE[state]
                entry: _Entry = where.get(key) if code else None  # its place in the old index
                found.append(
                    (key, rows.raw(row), code, clock if clock is not None else _UNKNOWN_CLOCK, entry)
                )
    pack = msgpack.Packer(use_bin_type=True).pack
    completed = _STATE_CODE[JobState.COMPLETED.value]
    for key, job in dict.items(jobs):
        # finished jobs: known without decoding them on the next open
        attempts, spec = job.attempts, job.spec
        if attempts and (spec is None or not spec.array) and attempts[max(attempts)].state is _COMPLETED:
            code = completed  # what settled() says of a plain job whose latest attempt completed
        else:
            state = settled(job)
            code = 0 if state is None else _STATE_CODE[state.value]
        entry = entry_of(job, code == completed) if code else None
        found.append((key, pack(dump_job(job)), code, activity_clock(job) if code else 0, entry))
    found.sort(key=itemgetter(0))
    ends = array("Q")
    total = 0
    for item in found:
        total += len(item[1])
        ends.append(total)
    activity = array("Q", [f[3] for f in found])
    entries = [f[4] for f in found]
    return (
        [f[0] for f in found],
        [f[1] for f in found],
        ends,
        bytes(f[2] for f in found),
        activity,
        entries,
        view,
    )


def view_order(model: Model, keys: list[str], entries: list[_Entry]) -> list[int]:
    """The rows with a view entry in the order views read them: the jobs of each workflow's
    current definitions (workflows by name), then the others in key order."""
    row_of = dict(zip(keys, range(len(keys)), strict=True))
    order: dict[int, None] = {}
    for _name, record in sorted(model.workflows.items()):
        for definition in record.current():
            for key in definition.keys:
                i = row_of.get(key)
                if i is not None and entries[i] is not None:
                    order[i] = None
    order.update((i, None) for i, entry in enumerate(entries) if entry is not None)
    return list(order)


#: The activity clock of a settled row carried over from a snapshot that had none: later
#: than any run, so the row is built to answer what a run reused.
_UNKNOWN_CLOCK = 2**64 - 1


def model_to_plain(model: Model) -> dict[str, Any]:
    """Everything of ``model`` but its job records as msgpack-ready data."""
    return {
        "workflows": [w.to_row() for w in model.workflows.values()],
        "writers": model.writers,
        "problems": model.problems,
        "staged": {h: {p: [d, list(o)] for p, (d, o) in files.items()} for h, files in model.staged.items()},
        "max_clock": model.max_clock,
    }


def model_from_plain(data: Mapping[str, Any], rows: PackedRows) -> Model:
    """Inverse of :func:`model_to_plain`; the job records are ``rows`` (kept packed until
    used)."""
    model = Model()
    model.workflows = {row[0]: WorkflowRecord.from_row(row) for row in data["workflows"]}
    model.writers = dict(data["writers"])
    model.problems = list(data["problems"])
    model.staged = {
        h: {p: (d, (o[0], o[1], o[2])) for p, (d, o) in files.items()} for h, files in data["staged"].items()
    }
    model.max_clock = int(data["max_clock"])
    model.jobs = LazyJobs(load_job, dump_job, rows, model._fold_deferred)
    return model


def write_snapshot(path: Path, model: Model, cursors: Mapping[str, SegmentCursor], book: SegmentBook) -> bool:
    """Write atomically; False (and nothing left behind) when the disk refuses."""
    with gc_paused():  # many small rows, no cycles
        same = _untouched_view(model)
        keys, pieces, ends, codes, activity, entries, old = _job_rows(model, same is None)
        if same is not None:  # every row as loaded: so is their index
            view = bytes(same)
        else:
            order = view_order(model, keys, entries)
            view = encode_view(
                [keys[i] for i in order],
                [_STATE_NAMES[codes[i] - 1] for i in order],
                [entries[i] for i in order],  # type: ignore[misc]
                old,
            )
    header = msgpack.packb(
        {
            "version": SNAPSHOT_VERSION,
            "segments": {n: [c.offset, c.digest] for n, c in cursors.items()},
            "model": model_to_plain(model),
            "book": book.dump(),
            "jobs": {
                "keys": keys,
                "ends": ends.tobytes(),
                "codes": codes,
                "states": list(_STATE_NAMES),
                "activity": activity.tobytes(),
                "view": [ends[-1] if ends else 0, len(view)],
            },
        },
        use_bin_type=True,
    )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            fh.write(MAGIC + _LENGTH.pack(len(header)))
            fh.write(header)
            fh.writelines(pieces)
            fh.write(view)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:  # a cache: the ledger is whole without it
        log.debug("no snapshot written to %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def _map(path: Path) -> memoryview | None:
    """The bytes of ``path``, mapped (None when it is missing, empty or unreadable)."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < len(MAGIC) + _LENGTH.size:
                return None
            return memoryview(mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ))
    except (OSError, ValueError):
        return None


def read_snapshot(path: Path, ledger_dir: Path) -> Snapshot | None:
    """The snapshot at ``path`` when it is valid for the segments in ``ledger_dir``."""
    data = _map(path)
    if data is None or data[: len(MAGIC)] != MAGIC:
        return None
    start = len(MAGIC) + _LENGTH.size
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if start + length > len(data):
        return None
    try:
        with gc_paused():
            snap = msgpack.unpackb(data[start : start + length], raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException):
        return None
    if not isinstance(snap, dict) or snap.get("version") != SNAPSHOT_VERSION:
        return None
    cursors: dict[str, SegmentCursor] = {}
    for name, (offset, digest) in snap["segments"].items():
        if not _covers(ledger_dir / name, offset, digest):
            return None  # a segment changed or vanished: rebuild from scratch
        cursors[name] = SegmentCursor(offset, digest)
    try:
        book = SegmentBook.load(snap["book"])
    except (KeyError, TypeError, ValueError):
        return None
    book.foreign = {n for n in book.foreign if (ledger_dir / n).exists()}
    try:
        jobs = snap["jobs"]
        ends = array("Q")
        ends.frombytes(jobs["ends"])
        activity = array("Q")
        activity.frombytes(jobs["activity"])
        body = data[start + length :]
        view_at, view_length = jobs["view"]
        if view_at + view_length > len(body) or (ends and ends[-1] > view_at):
            return None
        view = body[view_at : view_at + view_length]
        rows = PackedRows(jobs["keys"], body, ends, jobs["codes"], jobs["states"], activity, view)
        model = model_from_plain(snap["model"], rows)
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return Snapshot(model, cursors, book)


def _covers(path: Path, offset: int, digest: bytes) -> bool:
    """True when ``path`` still holds the bytes a snapshot read up to ``offset``."""
    if offset == 0:
        return path.exists()
    try:
        with path.open("rb") as fh:
            fh.seek(offset - len(digest))
            return fh.read(len(digest)) == digest
    except OSError:
        return False
