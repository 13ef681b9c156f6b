"""The reading half of a project's ledger: the segments other writers appended, folded
into the reduced state (after the snapshot cache when it is valid), and the damage met."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from jobledger.gcpause import gc_paused
from jobledger.ledger import events as ev
from jobledger.ledger.book import SegmentBook
from jobledger.ledger.codec import Damage
from jobledger.ledger.event_codec import Recorded, decode_raw
from jobledger.ledger.headers import read_project_id
from jobledger.ledger.reducer import Model, apply_raw
from jobledger.ledger.segment import (
    SegmentCursor,
    SegmentUnreadable,
    SegmentWriter,
    list_segments,
    read_segment,
)
from jobledger.ledger.snapshot import read_snapshot
from jobledger.ledger.state import ProjectState
from jobledger.ledger.stream import iter_all_events
from jobledger.ledger.wholefile import SegmentFile

_Self = TypeVar("_Self", bound="LedgerReader")


class LedgerReader:
    """Reads one project's ledger: :class:`~jobledger.ledger.store.Ledger` adds writing.

    Damage found while reading (damaged records, torn tails, odd directory entries,
    missing, truncated, duplicated or foreign segments, see :meth:`health`) is logged
    once per process and damage as a warning on the ``jobledger`` logger; whatever is
    whole is still read. A writer carried by two files is folded once; a segment of
    another project is not folded.
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
        """This process's own segment (the writing half opens it; its events are folded
        as they are appended, never read back)."""
        self._clock = ev.HybridClock()
        self._read_since_snapshot = 0
        self._bytes_since_snapshot = 0
        self._loaded = False

    def open(self: _Self) -> _Self:
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

    @property
    def snapshot_path(self) -> Path:
        """Where the snapshot cache lives."""
        return self.cache_dir / "snapshot.msgpack"

    def _load_snapshot(self) -> bool:
        snap = read_snapshot(self.snapshot_path, self.ledger_dir)
        if snap is None:
            return False
        self._model, self._cursors, self._book = snap.model, snap.cursors, snap.book
        self._read_since_snapshot = 0
        return True
