"""Segment files: one per writing process, append-only, fsync-able."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import LedgerError
from jobledger.ledger.codec import ZERO_DIGEST, Damage, Record, encode_packed_record, encode_record, scan

SUFFIX = ".seg"

_WRITE_FAILURES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error",
}


def write_failure(exc: OSError) -> str:
    """A short, plain reason for a failed write (``the disk is full`` for ENOSPC)."""
    return _WRITE_FAILURES.get(exc.errno or 0) or exc.strerror or str(exc)


class SegmentUnreadable(LedgerError):
    """An entry of the ledger directory is not a segment file that can be read."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def _kind(mode: int) -> str | None:
    """What a non-regular directory entry is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def list_segments(directory: Path) -> tuple[list[Path], dict[str, str]]:
    """Segment files of ``directory`` (sorted) and its odd ``*.seg`` entries with reasons.

    Only regular files are segments: a directory, FIFO, socket, device or symbolic link
    named ``*.seg`` is returned as odd (its type is checked with ``lstat``, before any
    open, so a FIFO never blocks a reader).
    """
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return [], {}
    except OSError as exc:
        raise LedgerError(f"cannot list the ledger directory {directory}: {write_failure(exc)}") from exc
    files: list[Path] = []
    odd: dict[str, str] = {}
    for name in names:
        path = directory / name
        try:
            kind = _kind(os.lstat(path).st_mode)
        except FileNotFoundError:
            continue
        except OSError as exc:
            odd[name] = f"cannot be examined: {exc.strerror or exc}"
            continue
        if kind is None:
            files.append(path)
        else:
            odd[name] = f"is {kind}, not a segment file"
    return files, odd


def read_bytes(path: Path, offset: int = 0, limit: int | None = None) -> bytes:
    """The bytes of segment ``path`` from ``offset`` (at most ``limit``); never follows a
    link or blocks.

    Raises :class:`SegmentUnreadable` for an entry that is not a readable regular file
    and :class:`FileNotFoundError` when it vanished.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SegmentUnreadable(path, "is a symbolic link, not a segment file") from None
        raise SegmentUnreadable(path, f"cannot be read: {exc.strerror or exc}") from None
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise SegmentUnreadable(path, f"is {kind}, not a segment file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            fh.seek(offset)
            return fh.read(-1 if limit is None else limit)
    except OSError as exc:
        raise SegmentUnreadable(path, f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


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
    whole records; ``durable=True`` adds an ``fsync`` before returning. A write that
    fails (disk full, read-only, I/O error) raises :class:`LedgerError` naming the file;
    the partial record it may have left is cut off again when possible (otherwise it
    stays as a torn tail, which readers tolerate) and the writer is *broken*: it never
    appends after a failed write, the ledger opens a new segment for the next event.
    """

    def __init__(self, directory: Path, writer_id: str) -> None:
        self.writer_id = writer_id
        self.path = directory / f"{writer_id}{SUFFIX}"
        try:
            self._fd: int | None = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644
            )
        except OSError as exc:
            raise LedgerError(f"cannot create ledger segment {self.path}: {write_failure(exc)}") from exc
        try:
            fsync_dir(directory)
        except OSError as exc:
            self._abandon()
            raise LedgerError(f"cannot create ledger segment {self.path}: {write_failure(exc)}") from exc
        self.prev_digest = ZERO_DIGEST
        self.size = 0
        self._dirty = False
        self.broken = False

    def write(self, events: Sequence[Sequence[Any]], durable: bool = False) -> None:
        """Append one record holding ``events``."""
        if self._fd is None:
            raise LedgerError(f"segment {self.path} is closed")
        self._append(*encode_record(events, self.prev_digest), durable)

    def write_packed(self, packed: Sequence[bytes], durable: bool = False) -> None:
        """Append one record holding events each already packed (msgpack) on its own."""
        if self._fd is None:
            raise LedgerError(f"segment {self.path} is closed")
        self._append(*encode_packed_record(packed, self.prev_digest), durable)

    def _append(self, data: bytes, digest: bytes, durable: bool) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self._abandon()
            raise LedgerError(
                f"cannot append to ledger segment {self.path}: {write_failure(exc)} "
                f"({exc.strerror or exc}); nothing after byte {self.size} was recorded"
            ) from exc
        self.prev_digest = digest
        self.size += len(data)
        self._dirty = True
        if durable:
            self.sync()

    def sync(self) -> None:
        """fsync the file if anything was written since the last sync."""
        if self._fd is not None and self._dirty:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                # after a failed fsync the kernel may have dropped the pages: whether the
                # bytes are on disk is unknown, so this segment takes no more records
                self._abandon(cut=False)
                raise LedgerError(
                    f"cannot sync ledger segment {self.path}: {write_failure(exc)} ({exc.strerror or exc})"
                ) from exc
            self._dirty = False

    def _abandon(self, cut: bool = True) -> None:
        """Stop writing: cut a partial record off (or remove an empty file), close."""
        self.broken = True
        fd, self._fd = self._fd, None
        if fd is None:
            return
        size = getattr(self, "size", 0)
        try:
            if cut:
                os.ftruncate(fd, size)  # our own bytes no reader took as a record
        except OSError:
            pass  # left as a torn tail: readers tolerate it
        finally:
            os.close(fd)
        if cut and size == 0:
            try:
                self.path.unlink()  # an empty segment of ours: nothing to keep
            except OSError:
                pass

    def close(self) -> None:
        """Sync and close."""
        if self._fd is not None:
            self.sync()
            if self._fd is not None:
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
    and is returned as ``torn``. Raises :class:`SegmentUnreadable` when ``path`` is not
    a readable regular file.
    """
    try:
        data = read_bytes(path, cursor.offset)
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
