"""The snapshot cache: the reduced state plus exactly what it covers.

``.jobledger/cache/snapshot.msgpack`` (git-ignored) holds the state, for every segment
the byte offset read and the digest of the last record read, and the reader's book of
segments (writers, headers, damage, sequence numbers folded). Loading checks that each
covered segment still holds that digest at that offset; otherwise the snapshot is
ignored and the ledger is read from scratch. Job records stay packed one by one and are
decoded on first use (:class:`~.lazy.LazyJobs`), so opening a 250,000-job project from
its snapshot does not build every record up front.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import msgpack

from jobledger.gcpause import gc_paused
from jobledger.ledger.book import SegmentBook
from jobledger.ledger.lazy import LazyJobs, packed_jobs
from jobledger.ledger.records import WorkflowRecord
from jobledger.ledger.reducer import Model, dump_job, load_job
from jobledger.ledger.segment import SegmentCursor, fsync_dir
from jobledger.ledger.state import settled

log = logging.getLogger("jobledger")

SNAPSHOT_VERSION = 6


@attrs.define
class Snapshot:
    """What a snapshot restores."""

    model: Model
    cursors: dict[str, SegmentCursor]
    book: SegmentBook


def _settled_index(model: Model) -> dict[str, str]:
    """Key -> final state of every job nothing more will happen to (so that opening a big
    project does not decode finished jobs to learn they are finished)."""
    jobs = model.jobs
    if isinstance(jobs, LazyJobs):
        jobs.fold_deferred()
    index: dict[str, str] = dict(getattr(jobs, "settled", {}))
    for key, job in dict.items(jobs):
        state = settled(job)
        if state is None:
            index.pop(key, None)
        else:
            index[key] = state.value
    return index


def model_to_plain(model: Model) -> dict[str, Any]:
    """Everything of ``model`` as msgpack-ready data (job records packed one by one)."""
    return {
        "settled": _settled_index(model),
        "workflows": [w.to_row() for w in model.workflows.values()],
        "writers": model.writers,
        "problems": model.problems,
        "staged": {h: {p: [d, list(o)] for p, (d, o) in files.items()} for h, files in model.staged.items()},
        "max_clock": model.max_clock,
        "jobs": packed_jobs(model.jobs, dump_job),
    }


def model_from_plain(data: Mapping[str, Any]) -> Model:
    """Inverse of :func:`model_to_plain` (job records stay packed until used)."""
    model = Model()
    model.workflows = {row[0]: WorkflowRecord.from_row(row) for row in data["workflows"]}
    model.writers = dict(data["writers"])
    model.problems = list(data["problems"])
    model.staged = {
        h: {p: (d, (o[0], o[1], o[2])) for p, (d, o) in files.items()} for h, files in data["staged"].items()
    }
    model.max_clock = int(data["max_clock"])
    model.jobs = LazyJobs(
        dict(data["jobs"]), load_job, dump_job, dict(data.get("settled") or {}), model._fold_deferred
    )
    return model


def write_snapshot(path: Path, model: Model, cursors: Mapping[str, SegmentCursor], book: SegmentBook) -> bool:
    """Write atomically; False (and nothing left behind) when the disk refuses."""
    blob = msgpack.packb(
        {
            "version": SNAPSHOT_VERSION,
            "segments": {n: [c.offset, c.digest] for n, c in cursors.items()},
            "model": model_to_plain(model),
            "book": book.dump(),
        },
        use_bin_type=True,
    )
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:  # a cache: the ledger is whole without it
        log.debug("no snapshot written to %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def read_snapshot(path: Path, ledger_dir: Path) -> Snapshot | None:
    """The snapshot at ``path`` when it is valid for the segments in ``ledger_dir``."""
    try:
        blob = path.read_bytes()
        with gc_paused():
            snap = msgpack.unpackb(blob, raw=False, strict_map_key=False)
    except (OSError, ValueError, msgpack.UnpackException):
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
        model = model_from_plain(snap["model"])
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
