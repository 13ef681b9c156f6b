"""The ledger of a project: appending events to this process's segment (reading the
others' is :mod:`.reading`), and the snapshot cache written at close."""

from __future__ import annotations

import gc
import os
import socket
import time
from pathlib import Path
from typing import Any

import msgpack

from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.ledger.event_codec import ENCODERS, Recorded, encoder, to_raw
from jobledger.ledger.headers import SegmentHeader, ensure_project_id, frontier
from jobledger.ledger.reading import LedgerReader
from jobledger.ledger.reducer import FITS, HANDLERS, EventMismatch, apply
from jobledger.ledger.segment import (
    SegmentCursor,
    SegmentWriter,
    new_writer_id,
)
from jobledger.ledger.snapshot import write_snapshot
from jobledger.ledger.wholefile import SeqSet

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


class Ledger(LedgerReader):
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
        super().__init__(ledger_dir, cache_dir, use_snapshot=use_snapshot)
        self._seq = 0
        self._buffer: list[bytes] = []
        """Appended events not written yet, each packed on its own (bytes hold nothing the
        cyclic collector walks, however long they wait)."""
        self._pack = msgpack.Packer(use_bin_type=True).pack
        self._own_seqs = SeqSet()
        """Sequence numbers this process wrote (and folded) itself: the book's set."""
        self._appended = 0
        """Events written since the collector last froze what is alive (see FREEZE_EVERY)."""

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


def open_ledger(ledger_dir: Path, cache_dir: Path) -> Ledger:
    """Open a ledger, raising :class:`LedgerError` when the directory is unusable."""
    if ledger_dir.exists() and not ledger_dir.is_dir():
        raise LedgerError(f"{ledger_dir} is not a directory")
    return Ledger(ledger_dir, cache_dir).open()
