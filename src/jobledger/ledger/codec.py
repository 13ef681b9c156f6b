"""Byte format of ledger records (pure).

A segment file is a sequence of records. Each record::

    offset  size  field
    0       2     magic  b"JL"
    2       1     format version (1)
    3       1     reserved, 0
    4       4     payload length N, unsigned big-endian
    8       16    digest of the previous record in this file (zeros for the first)
    24      N     payload: a msgpack array of events
    24+N    16    digest: BLAKE2b-128 of bytes [0, 24+N) of this record

Because each record carries its predecessor's digest and its own, a reader can check
every record on its own, notice a broken chain, and find the next good record after a
damaged one. An event is the msgpack array ``[type, clock, seq, time, data]``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import msgpack

MAGIC = b"JL"
VERSION = 1
HEADER = struct.Struct(">2sBBI16s")
HEADER_SIZE = HEADER.size  # 24
DIGEST_SIZE = 16
OVERHEAD = HEADER_SIZE + DIGEST_SIZE
ZERO_DIGEST = bytes(DIGEST_SIZE)
MAX_PAYLOAD = 1 << 30

_packer = msgpack.Packer(use_bin_type=True)


def record_digest(data: bytes | memoryview) -> bytes:
    """BLAKE2b-128 of a record's header and payload."""
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def encode_record(events: Sequence[Sequence[Any]], prev_digest: bytes) -> tuple[bytes, bytes]:
    """Return ``(record bytes, its digest)`` for ``events`` chained to ``prev_digest``."""
    return _frame(_packer.pack(list(events)), prev_digest)


def array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` items."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def encode_packed_record(packed: Sequence[bytes], prev_digest: bytes) -> tuple[bytes, bytes]:
    """:func:`encode_record` of events each already packed on its own (the same bytes)."""
    return _frame(array_header(len(packed)) + b"".join(packed), prev_digest)


def _frame(payload: bytes, prev_digest: bytes) -> tuple[bytes, bytes]:
    head = HEADER.pack(MAGIC, VERSION, 0, len(payload), prev_digest)
    body = head + payload
    digest = record_digest(body)
    return body + digest, digest


@attrs.frozen
class Record:
    """One decoded record."""

    offset: int
    size: int
    prev_digest: bytes
    digest: bytes
    events: list[list[Any]]


@attrs.frozen
class Damage:
    """A problem found while reading: ``kind`` is ``torn``, ``corrupt`` or ``chain``."""

    offset: int
    kind: str
    reason: str
    length: int = 0


def _check(buf: memoryview, offset: int) -> tuple[str, str, int] | tuple[None, bytes, int]:
    """Validate the record at ``offset``: ``(None, digest, size)`` or ``(kind, reason, 0)``."""
    end = len(buf)
    if end - offset < HEADER_SIZE:
        return "torn", f"incomplete record header ({end - offset} bytes)", 0
    magic, version, _reserved, length, _prev = HEADER.unpack_from(buf, offset)
    if magic != MAGIC or version != VERSION:
        return "corrupt", "bad record header (magic or version)", 0
    if length > MAX_PAYLOAD:
        return "corrupt", f"implausible payload length {length}", 0
    size = HEADER_SIZE + length + DIGEST_SIZE
    if end - offset < size:
        return "torn", f"incomplete record ({end - offset} of {size} bytes)", 0
    stored = bytes(buf[offset + size - DIGEST_SIZE : offset + size])
    if record_digest(buf[offset : offset + size - DIGEST_SIZE]) != stored:
        return "corrupt", "digest mismatch", 0
    return None, stored, size


def scan(data: bytes, start: int = 0, prev_digest: bytes = ZERO_DIGEST) -> Iterator[Record | Damage]:
    """Yield every whole, valid record from ``start`` and a :class:`Damage` for each problem.

    After a damaged record the scan looks for the next record that verifies on its own
    and carries on from there (its chain break is reported). An incomplete final record
    is reported as ``torn``. Nothing raises on bad bytes.
    """
    buf = memoryview(data)
    offset = start
    end = len(buf)
    expected_prev = prev_digest
    while offset < end:
        kind, info, size = _check(buf, offset)
        if kind is None:
            assert isinstance(info, bytes)
            prev = bytes(buf[offset + 8 : offset + HEADER_SIZE])
            if prev != expected_prev:
                yield Damage(offset, "chain", "previous-record digest does not match")
            try:
                events = msgpack.unpackb(
                    buf[offset + HEADER_SIZE : offset + size - DIGEST_SIZE],
                    raw=False,
                    strict_map_key=False,
                )
            except (ValueError, msgpack.UnpackException) as exc:  # digest ok, content not msgpack
                yield Damage(offset, "corrupt", f"undecodable payload: {exc}")
                events = []
            if not isinstance(events, list):
                yield Damage(offset, "corrupt", "payload is not an array of events")
                events = []
            yield Record(offset, size, prev, info, events)
            expected_prev = info
            offset += size
            continue
        assert isinstance(info, str)
        resync = _find_next(buf, offset + 1)
        if resync is None:
            if kind == "torn" or _looks_torn(buf, offset):
                yield Damage(offset, "torn", info, end - offset)
            else:
                yield Damage(offset, "corrupt", info, end - offset)
            return
        yield Damage(offset, "corrupt", info, resync - offset)
        offset = resync
        # the record found next cannot chain to the damaged one: accept its own prev
        expected_prev = bytes(buf[offset + 8 : offset + HEADER_SIZE])


def _looks_torn(buf: memoryview, offset: int) -> bool:
    """A damaged last record whose declared size runs past the end looks torn."""
    if len(buf) - offset < HEADER_SIZE:
        return True
    magic, version, _r, length, _p = HEADER.unpack_from(buf, offset)
    return bool(magic == MAGIC and version == VERSION and offset + OVERHEAD + length > len(buf))


def _find_next(buf: memoryview, offset: int) -> int | None:
    """Offset of the next record that verifies by its own digest, if any."""
    data = buf.obj if isinstance(buf.obj, bytes) else bytes(buf)
    pos = offset
    while True:
        pos = data.find(MAGIC, pos)
        if pos < 0:
            return None
        kind, _info, _size = _check(buf, pos)
        if kind is None:
            return pos
        pos += 1
