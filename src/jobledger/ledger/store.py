"""The ledger of a project: every segment, the reduced state, the snapshot cache."""

from __future__ import annotations

import gc
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
from jobledger.ledger.book import SegmentBook
from jobledger.ledger.codec import Damage
from jobledger.ledger.event_codec import ENCODERS, Recorded, decode_raw, encoder, to_raw
from jobledger.ledger.headers import SegmentHeader, ensure_project_id, frontier, read_project_id
from jobledger.ledger.reducer import FITS, HANDLERS, EventMismatch, Model, apply, apply_raw
from jobledger.ledger.segment import (
    SegmentCursor,
    SegmentUnreadable,
    SegmentWriter,
    list_segments,
    new_writer_id,
    read_segment,
)
from jobledger.ledger.snapshot import read_snapshot, write_snapshot
from jobledger.ledger.state import ProjectState
from jobledger.ledger.stream import iter_all_events
from jobledger.ledger.wholefile import SegmentFile, SeqSet

FORMAT_VERSION = 1
_tuple_new = tuple.__new__
#: Write a snapshot on close when at least this many events were read past the last one.
SNAPSHOT_AFTER = 20_000
#: ... or when at least this many bytes were (a big workflow definition is one event).
SNAPSHOT_AFTER_BYTES = 2_000_000
#: Flush buffered (non-durable) events once this many are waiting.
BUFFER_LIMIT = 1000
#: After this many events appended (and applied to the in-memory state) since the last
#: time, a write moves the objects alive to the collector's permanent generation, as
#: :func:`~jobledger.gcpause.gc_paused` does after bulk work: otherwise each full collection
#: walks every job record built so far again (a third of the CPU of a million appends).
#: The records hold no cycles; they are still freed by reference counting. (A million
#: appends: 2.1-2.7 s of full collections; 0.7-0.9 s freezing every 100,000, 0.3 s every
#: 25,000.)
FREEZE_EVERY = 25_000


class Ledger:
    """Append events and read the state of one project's ledger.

    ``ledger_dir`` holds the committed segment files; ``cache_dir`` the git-ignored
    snapshot. A process writes only to its own segment, created on first append. Use
    :meth:`record` with ``durable=True`` for write-ahead intents: it returns after the
    bytes are fsynced.

    Damage found while reading (damaged records, torn tails, odd directory entries,
    missing, truncated, duplicated or foreign segments, see :meth:`health`) is logged
    once per process and damage as a warning on the ``jobledger`` logger; whatever is
    whole is still read. A writer carried by two files is folded once; a segment of
    another project is not folded. When a write fails (disk full) the events buffered in
    memory are dropped and the next read starts again from what is on disk.
    """

    def __init__(self, ledger_dir: Path, cache_dir: Path, *, use_snapshot: bool = True) -> None:
        self.ledger_dir = ledger_dir
        self.cache_dir = cache_dir
        self._use_snapshot = use_snapshot
        self._lock = threading.RLock()
        self._model = Model()
        self._cursors: dict[str, SegmentCursor] = {}
        self._book = SegmentBook()
        self._project_id: str | None = None
        self._writer: SegmentWriter | None = None
        self._clock = ev.HybridClock()
        self._seq = 0
        self._buffer: list[bytes] = []
        """Appended events not written yet, each packed on its own (bytes hold nothing the
        cyclic collector walks, however long they wait)."""
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._own_seqs = SeqSet()
        """Sequence numbers this process wrote (and folded) itself: the book's set."""
        self._appended = 0
        """Events written since the collector last froze what is alive (see FREEZE_EVERY)."""
        self._read_since_snapshot = 0
        self._bytes_since_snapshot = 0
        self._loaded = False

    # ------------------------------------------------------------------ reading
    def open(self) -> Ledger:
        """Load the snapshot (when valid) and every byte written after it."""
        with self._lock:
            if not self._loaded:
                self._project_id = read_project_id(self.ledger_dir)
                if not (self._use_snapshot and self._load_snapshot()):
                    self._model = Model()
                    self._cursors = {}
                    self._book = SegmentBook()
                    self._read_since_snapshot = 0
                    self._bytes_since_snapshot = 0
                self._read_new()
                self._loaded = True
                self._warn()
            return self

    def refresh(self) -> int:
        """Read what other writers appended since the last read; returns event count."""
        with self._lock:
            if not self._loaded:
                self.open()
                return self._read_since_snapshot
            count = self._read_new()
            self._warn()
            return count

    def _segment_paths(self) -> list[Path]:
        files, odd = list_segments(self.ledger_dir)
        self._book.odd = odd
        return files

    def read_new_events(self) -> list[Recorded]:
        """Refresh, returning the events other writers appended since the last read."""
        with self._lock:
            if not self._loaded:
                self.open()
            collected: list[Recorded] = []
            self._read_new(collected)
            self._warn()
            collected.sort(key=lambda e: e.order)
            return collected

    def _read_new(self, collect: list[Recorded] | None = None) -> int:
        # folding builds many small containers that hold no cycles: pause the collector
        with gc_paused():
            return self._read_new_unpaused(collect)

    def _read_new_unpaused(self, collect: list[Recorded] | None) -> int:
        count = 0
        own = self._writer.path.name if self._writer else None
        model = self._model
        book = self._book
        for path in self._segment_paths():
            name = path.name
            if name == own or name in book.foreign:
                continue
            cursor = self._cursors.get(name) or SegmentCursor()
            try:
                records, damages, cursor = read_segment(path, cursor)
            except SegmentUnreadable as exc:
                book.odd[name] = exc.reason
                continue
            writer = book.admit(name, records, self._project_id)
            if writer is None:  # another project's segment: not ours to fold
                continue
            self._cursors[name] = cursor
            if damages:
                book.damages.setdefault(name, []).extend(damages)
            for record in records:
                events = book.select(writer, record.events)
                count += apply_raw(model, events, writer, f"{name} @{record.offset}: ")
                if collect is not None:
                    collect.extend(e for raw in events if (e := decode_raw(raw, writer)) is not None)
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
        out = {k: list(v) for k, v in self._book.damages.items()}
        for name, cursor in self._cursors.items():
            if cursor.torn is not None:
                out.setdefault(name, []).append(cursor.torn)
        return out

    def health(self) -> list[str]:
        """Every damage this reader has met, one line each (empty when the ledger is whole).

        Damaged records, torn tails, entries of the ledger directory that are not segment
        files, and whole-file damage: a segment missing or truncated (another segment had
        read more of it), one writer in two files, a segment of another project.
        """
        with self._lock:
            if not self._loaded:
                self.open()
            return [text for _key, text in self._health_items()]

    def _health_items(self) -> list[tuple[Any, str]]:
        extra: tuple[SegmentFile, ...] = ()
        writer = self._writer
        if writer is not None and writer.path.name in self._book.headers:
            name = writer.path.name
            extra = (SegmentFile(name, writer.writer_id, self._book.headers[name], writer.size),)
        return self._book.health(self.ledger_dir, self._cursors, self._project_id, extra)

    def _warn(self) -> None:
        self._book.warn(self.ledger_dir, self._health_items())

    def iter_events(self) -> Iterator[Recorded]:
        """Every event of every segment (re-read from disk), in ``(clock, writer, seq)`` order.

        Each event once, whatever number of files carry its writer; other projects'
        segments and entries that are not segment files are left out. Lazy: the segments
        (each in order already) are merged as the events are consumed.
        """
        files = self._segment_paths()
        return iter_all_events(files, read_project_id(self.ledger_dir))

    # ------------------------------------------------------------------ writing
    @property
    def writer_id(self) -> str | None:
        """This process's segment id, once it has written."""
        return self._writer.writer_id if self._writer else None

    def _ensure_writer(self) -> SegmentWriter:
        if self._writer is None:
            try:
                self.ledger_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger directory {self.ledger_dir}: {exc}") from exc
            project_id = self._project_id = ensure_project_id(self.ledger_dir)
            writer = SegmentWriter(self.ledger_dir, new_writer_id())
            seen = frontier(self._read_so_far(), self._book.headers.values())
            opened = ev.SegmentOpened(
                writer=writer.writer_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=FORMAT_VERSION,
                created=time.time(),
                project=project_id,
                seen=seen,
            )
            header = self._make(opened)
            writer.write([header], durable=True)  # raises LedgerError when the disk is full
            self._writer = writer
            claims = {w: (v[0], v[1]) for w, v in seen.items()}
            own_header = SegmentHeader(writer.writer_id, project_id, claims, header[1])
            self._book.own(writer.path.name, writer.writer_id, own_header)
            self._book.folded(writer.writer_id, header[2])
            self._own_seqs = self._book.applied[writer.writer_id]
            apply(self._model, opened, (header[1], writer.writer_id, header[2]), header[3])
        return self._writer

    def _read_so_far(self) -> dict[str, tuple[int, bytes]]:
        """How far each writer was read (the furthest of its files)."""
        read: dict[str, tuple[int, bytes]] = {}
        for name, cursor in self._cursors.items():
            writer = self._book.writers.get(name)
            if writer is None or name in self._book.foreign:
                continue
            if cursor.offset > read.get(writer, (0, b""))[0]:
                read[writer] = (cursor.offset, cursor.digest)
        return read

    def _make(self, event: Any) -> list[Any]:
        self._seq += 1
        return to_raw(event, self._clock.tick(), self._seq, time.time())

    def append(self, event: ev.Event) -> Recorded:
        """Buffer one event (applied to the in-memory state at once); see :meth:`flush`."""
        with self._lock:
            writer = self._writer
            if writer is None:  # not loaded implies no writer
                if not self._loaded:
                    self.open()
                writer = self._ensure_writer()
            self._seq = seq = self._seq + 1
            clock, when = self._clock.stamp()
            wid = writer.writer_id
            cls: type[Any] = type(event)
            model = self._model
            if clock > model.max_clock:  # noqa: PLR1730 (apply() inlined: once per event)
                model.max_clock = clock
            handler = HANDLERS.get(cls)
            if handler is not None:
                try:
                    handler(model, event, (clock, wid, seq), when)
                except EventMismatch:
                    raise
                except FITS as exc:
                    raise EventMismatch(f"{cls.TYPE} event does not fit: {exc!r:.200}") from None
            his = self._own_seqs.his  # the book's set of own events: almost always the next
            if his and his[-1] + 1 == seq:
                his[-1] = seq
            else:
                self._own_seqs.add(seq)
            data = (ENCODERS.get(cls) or encoder(cls))(event)
            buffer = self._buffer
            buffer.append(self._pack([cls.TYPE, clock, seq, when, data]))
            if len(buffer) >= BUFFER_LIMIT:
                self._flush_locked(durable=False)
            return _tuple_new(Recorded, (event, clock, wid, seq, when))

    def flush(self, durable: bool = False) -> None:
        """Write buffered events as one record; ``durable`` fsyncs before returning."""
        with self._lock:
            self._flush_locked(durable)

    def _flush_locked(self, durable: bool) -> None:
        try:
            if self._buffer:
                assert self._writer is not None
                self._writer.write_packed(self._buffer, durable=durable)
                self._appended += len(self._buffer)
                self._buffer = []
                if self._appended >= FREEZE_EVERY:
                    self._appended = 0
                    if gc.isenabled():
                        gc.collect(1)  # young garbage cycles go first, not into the frozen set
                        gc.freeze()
            elif durable and self._writer is not None:
                self._writer.sync()
        except LedgerError:
            if self._writer is not None and self._writer.broken:
                self._abandon_writer()
            raise

    def _abandon_writer(self) -> None:
        """After a failed write: drop what is only in memory; the next write opens a new segment."""
        self._buffer = []
        self._writer = None
        self._loaded = False  # the in-memory state holds events that never reached the disk

    def record(self, event: ev.Event, *, durable: bool = True) -> Recorded:
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
            if write_snapshot(self.snapshot_path, self._model, cursors, self._book):
                self._read_since_snapshot = 0
                self._bytes_since_snapshot = 0

    def _load_snapshot(self) -> bool:
        snap = read_snapshot(self.snapshot_path, self.ledger_dir)
        if snap is None:
            return False
        self._model, self._cursors, self._book = snap.model, snap.cursors, snap.book
        self._read_since_snapshot = 0
        return True


def open_ledger(ledger_dir: Path, cache_dir: Path) -> Ledger:
    """Open a ledger, raising :class:`LedgerError` when the directory is unusable."""
    if ledger_dir.exists() and not ledger_dir.is_dir():
        raise LedgerError(f"{ledger_dir} is not a directory")
    return Ledger(ledger_dir, cache_dir).open()
