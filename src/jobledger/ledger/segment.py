"""Segment files: one per writing process, append-only, fsync-able."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import LedgerError
from jobledger.ledger.codec import ZERO_DIGEST, Damage, Record, encode_record, scan

SUFFIX = ".seg"


def new_writer_id() -> str:
    """A unique, sortable writer id: ``<utc time>-<host>-<pid>-<random>``."""
    host = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname())[:24]
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{stamp}-{host or 'host'}-{os.getpid()}-{secrets.token_hex(3)}"


def fsync_dir(path: Path) -> None:
    """Make a directory entry durable (needed after creating or renaming a file in it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentWriter:
    """Appends records to a new segment file owned by this process alone.

    Every :meth:`write` is one ``write(2)`` of whole records, so a killed process leaves
    whole records; ``durable=True`` adds an ``fsync`` before returning.
    """

    def __init__(self, directory: Path, writer_id: str) -> None:
        self.writer_id = writer_id
        self.path = directory / f"{writer_id}{SUFFIX}"
        try:
            self._fd: int | None = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644
            )
        except OSError as exc:
            raise LedgerError(f"cannot create ledger segment {self.path}: {exc}") from exc
        fsync_dir(directory)
        self.prev_digest = ZERO_DIGEST
        self.size = 0
        self._dirty = False

    def write(self, events: Sequence[Sequence[Any]], durable: bool = False) -> None:
        """Append one record holding ``events``."""
        if self._fd is None:
            raise LedgerError(f"segment {self.path} is closed")
        data, digest = encode_record(events, self.prev_digest)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.prev_digest = digest
        self.size += len(data)
        self._dirty = True
        if durable:
            self.sync()

    def sync(self) -> None:
        """fsync the file if anything was written since the last sync."""
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def close(self) -> None:
        """Sync and close."""
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None


@attrs.define
class SegmentCursor:
    """How far a reader has read one segment."""

    offset: int = 0
    digest: bytes = ZERO_DIGEST
    torn: Damage | None = None


def read_segment(path: Path, cursor: SegmentCursor) -> tuple[list[Record], list[Damage], SegmentCursor]:
    """Read the whole records after ``cursor`` in ``path``.

    Returns the records, the damage found, and the cursor to continue from. An
    incomplete final record leaves the cursor before it (it may still be being written)
    and is returned as ``torn``.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(cursor.offset)
            data = fh.read()
    except FileNotFoundError:
        return [], [], cursor
    records: list[Record] = []
    damages: list[Damage] = []
    offset, digest, torn = cursor.offset, cursor.digest, None
    for item in scan(data, 0, digest):
        if isinstance(item, Record):
            records.append(attrs.evolve(item, offset=item.offset + cursor.offset))
            offset = cursor.offset + item.offset + item.size
            digest = item.digest
        elif item.kind == "torn":
            torn = attrs.evolve(item, offset=item.offset + cursor.offset)
        else:
            damages.append(attrs.evolve(item, offset=item.offset + cursor.offset))
            if item.kind == "corrupt":
                offset = cursor.offset + item.offset + max(item.length, 1)
    return records, damages, SegmentCursor(offset, digest, torn)
