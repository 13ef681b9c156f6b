"""The ledger of a project: every segment, the reduced state, the snapshot cache."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack

from jobledger.errors import LedgerError
from jobledger.gcpause import gc_paused
from jobledger.ledger import events as ev
from jobledger.ledger.codec import Damage
from jobledger.ledger.event_codec import decode_raw, to_raw
from jobledger.ledger.reducer import Model, apply, apply_raw
from jobledger.ledger.segment import (
    SUFFIX,
    SegmentCursor,
    SegmentWriter,
    fsync_dir,
    new_writer_id,
    read_segment,
)
from jobledger.ledger.snapshot import model_from_plain, model_to_plain
from jobledger.ledger.state import ProjectState

SNAPSHOT_VERSION = 3
FORMAT_VERSION = 1
#: Write a snapshot on close when at least this many events were read past the last one.
SNAPSHOT_AFTER = 20_000
#: ... or when at least this many bytes were (a big workflow definition is one event).
SNAPSHOT_AFTER_BYTES = 2_000_000
#: Flush buffered (non-durable) events once this many are waiting.
BUFFER_LIMIT = 1000


class Ledger:
    """Append events and read the state of one project's ledger.

    ``ledger_dir`` holds the committed segment files; ``cache_dir`` the git-ignored
    snapshot. A process writes only to its own segment, created on first append. Use
    :meth:`record` with ``durable=True`` for write-ahead intents: it returns after the
    bytes are fsynced.
    """

    def __init__(self, ledger_dir: Path, cache_dir: Path, *, use_snapshot: bool = True) -> None:
        self.ledger_dir = ledger_dir
        self.cache_dir = cache_dir
        self._use_snapshot = use_snapshot
        self._lock = threading.RLock()
        self._model = Model()
        self._cursors: dict[str, SegmentCursor] = {}
        self._damages: dict[str, list[Damage]] = {}
        self._writer: SegmentWriter | None = None
        self._clock = ev.HybridClock()
        self._seq = 0
        self._buffer: list[list[Any]] = []
        self._read_since_snapshot = 0
        self._bytes_since_snapshot = 0
        self._loaded = False

    # ------------------------------------------------------------------ reading
    def open(self) -> Ledger:
        """Load the snapshot (when valid) and every byte written after it."""
        with self._lock:
            if not self._loaded:
                if not (self._use_snapshot and self._load_snapshot()):
                    self._model = Model()
                    self._cursors = {}
                    self._read_since_snapshot = 0
                    self._bytes_since_snapshot = 0
                self._read_new()
                self._loaded = True
            return self

    def refresh(self) -> int:
        """Read what other writers appended since the last read; returns event count."""
        with self._lock:
            if not self._loaded:
                self.open()
                return self._read_since_snapshot
            return self._read_new()

    def _segment_paths(self) -> list[Path]:
        try:
            return sorted(p for p in self.ledger_dir.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    def read_new_events(self) -> list[ev.Recorded]:
        """Refresh, returning the events other writers appended since the last read."""
        with self._lock:
            if not self._loaded:
                self.open()
            collected: list[ev.Recorded] = []
            self._read_new(collected)
            collected.sort(key=lambda e: e.order)
            return collected

    def _read_new(self, collect: list[ev.Recorded] | None = None) -> int:
        # folding builds many small containers that hold no cycles: pause the collector
        with gc_paused():
            return self._read_new_unpaused(collect)

    def _read_new_unpaused(self, collect: list[ev.Recorded] | None) -> int:
        count = 0
        own = self._writer.path.name if self._writer else None
        model = self._model
        for path in self._segment_paths():
            name = path.name
            if name == own:
                continue
            cursor = self._cursors.get(name) or SegmentCursor()
            records, damages, cursor = read_segment(path, cursor)
            self._cursors[name] = cursor
            if damages:
                self._damages.setdefault(name, []).extend(damages)
            writer = name[: -len(SUFFIX)]
            for record in records:
                count += apply_raw(model, record.events, writer, f"{name} @{record.offset}: ")
                if collect is not None:
                    collect.extend(e for raw in record.events if (e := decode_raw(raw, writer)) is not None)
                self._bytes_since_snapshot += record.size
        self._clock.observe(model.max_clock)
        self._read_since_snapshot += count
        return count

    @property
    def state(self) -> ProjectState:
        """The current reduced state (opens the ledger on first use)."""
        if not self._loaded:
            self.open()
        return ProjectState(self._model)

    @property
    def model(self) -> Model:
        """The reduced state's records (read them; only the reducer changes them)."""
        if not self._loaded:
            self.open()
        return self._model

    def damages(self) -> dict[str, list[Damage]]:
        """Damaged records and torn tails found so far, by segment file name."""
        out = {k: list(v) for k, v in self._damages.items()}
        for name, cursor in self._cursors.items():
            if cursor.torn is not None:
                out.setdefault(name, []).append(cursor.torn)
        return out

    def iter_events(self) -> Iterator[ev.Recorded]:
        """Every event of every segment (re-read from disk), in ``(clock, writer, seq)`` order."""
        collected: list[ev.Recorded] = []
        for path in self._segment_paths():
            records, _damages, _cursor = read_segment(path, SegmentCursor())
            writer = path.name[: -len(SUFFIX)]
            for record in records:
                collected.extend(e for raw in record.events if (e := decode_raw(raw, writer)) is not None)
        collected.sort(key=lambda e: e.order)
        return iter(collected)

    # ------------------------------------------------------------------ writing
    @property
    def writer_id(self) -> str | None:
        """This process's segment id, once it has written."""
        return self._writer.writer_id if self._writer else None

    def _ensure_writer(self) -> SegmentWriter:
        if self._writer is None:
            self.ledger_dir.mkdir(parents=True, exist_ok=True)
            self._writer = SegmentWriter(self.ledger_dir, new_writer_id())
            header = ev.SegmentOpened(
                writer=self._writer.writer_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=FORMAT_VERSION,
                created=time.time(),
            )
            raw = self._make(header)
            self._writer.write([raw], durable=True)
            apply(self._model, header, (raw[1], self._writer.writer_id, raw[2]), raw[3])
        return self._writer

    def _make(self, event: Any) -> list[Any]:
        self._seq += 1
        return to_raw(event, self._clock.tick(), self._seq, time.time())

    def append(self, event: ev.Event) -> ev.Recorded:
        """Buffer one event (applied to the in-memory state at once); see :meth:`flush`."""
        with self._lock:
            if not self._loaded:
                self.open()
            writer = self._writer or self._ensure_writer()
            raw = self._make(event)
            recorded = ev.Recorded(event, raw[1], writer.writer_id, raw[2], raw[3])
            apply(self._model, event, (raw[1], writer.writer_id, raw[2]), raw[3])
            self._buffer.append(raw)
            if len(self._buffer) >= BUFFER_LIMIT:
                self._flush_locked(durable=False)
            return recorded

    def flush(self, durable: bool = False) -> None:
        """Write buffered events as one record; ``durable`` fsyncs before returning."""
        with self._lock:
            self._flush_locked(durable)

    def _flush_locked(self, durable: bool) -> None:
        if self._buffer:
            assert self._writer is not None
            self._writer.write(self._buffer, durable=durable)
            self._buffer = []
        elif durable and self._writer is not None:
            self._writer.sync()

    def record(self, event: ev.Event, *, durable: bool = True) -> ev.Recorded:
        """Append one event and write it now (fsynced unless ``durable=False``)."""
        with self._lock:
            recorded = self.append(event)
            self._flush_locked(durable)
            return recorded

    def close(self) -> None:
        """Flush, sync, close the segment and refresh the snapshot when worthwhile."""
        with self._lock:
            if self._writer is not None:
                self._flush_locked(durable=True)
                self._bytes_since_snapshot += self._writer.size
                self._writer.close()
                self._cursors[self._writer.path.name] = SegmentCursor(
                    self._writer.size, self._writer.prev_digest
                )
                self._writer = None
            if (
                self._loaded
                and self._use_snapshot
                and (
                    self._read_since_snapshot >= SNAPSHOT_AFTER
                    or self._bytes_since_snapshot >= SNAPSHOT_AFTER_BYTES
                )
            ):
                self.save_snapshot()

    def __enter__(self) -> Ledger:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ snapshot
    @property
    def snapshot_path(self) -> Path:
        """Where the snapshot cache lives."""
        return self.cache_dir / "snapshot.msgpack"

    def save_snapshot(self) -> None:
        """Write the state and exactly what it covers (segment, offset, digest)."""
        with self._lock:
            self._flush_locked(durable=True)
            cursors = dict(self._cursors)
            if self._writer is not None:
                cursors[self._writer.path.name] = SegmentCursor(self._writer.size, self._writer.prev_digest)
            blob = msgpack.packb(
                {
                    "version": SNAPSHOT_VERSION,
                    "segments": {n: [c.offset, c.digest] for n, c in cursors.items()},
                    "model": model_to_plain(self._model),
                },
                use_bin_type=True,
            )
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_dir / f".snapshot.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_bytes(blob)
            os.replace(tmp, self.snapshot_path)
            fsync_dir(self.cache_dir)
            self._read_since_snapshot = 0
            self._bytes_since_snapshot = 0

    def _load_snapshot(self) -> bool:
        try:
            blob = self.snapshot_path.read_bytes()
            with gc_paused():
                snap = msgpack.unpackb(blob, raw=False, strict_map_key=False)
        except (OSError, ValueError, msgpack.UnpackException):
            return False
        if not isinstance(snap, dict) or snap.get("version") != SNAPSHOT_VERSION:
            return False
        cursors: dict[str, SegmentCursor] = {}
        for name, (offset, digest) in snap["segments"].items():
            if not _covers(self.ledger_dir / name, offset, digest):
                return False  # a segment changed or vanished: rebuild from scratch
            cursors[name] = SegmentCursor(offset, digest)
        try:
            self._model = model_from_plain(snap["model"])
        except (KeyError, TypeError, ValueError, IndexError):
            return False
        self._cursors = cursors
        self._read_since_snapshot = 0
        return True


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


def open_ledger(ledger_dir: Path, cache_dir: Path) -> Ledger:
    """Open a ledger, raising :class:`LedgerError` when the directory is unusable."""
    if ledger_dir.exists() and not ledger_dir.is_dir():
        raise LedgerError(f"{ledger_dir} is not a directory")
    return Ledger(ledger_dir, cache_dir).open()
