"""What a segment says about itself: its writer, its project, what its writer had read.

The first record of every segment holds one ``segment`` event. Besides the writer id,
host and pid, new segments carry

``project``  the project id (``.jobledger/project-id``, committed, the same in every
             clone), so a segment copied in from another project is recognised;
``seen``     ``{writer id: [bytes, digest]}``: how far the writer had read other
             segments when it opened its own (whole-record bytes and the digest of the
             last record read), so a deleted or truncated segment is recognised.

``seen`` lists only the *frontier*: a segment another known header already claims at
least as far is left out, so a header stays small however many segments a project has.
Every segment that someone read is claimed by a header written after it; deleting any
set of segments that were read is therefore found from a claim in a segment that is
still there (only segments nobody has read yet can vanish unnoticed).

Segments written before these fields existed have neither; they read as before.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import LedgerError
from jobledger.ledger.codec import HEADER, HEADER_SIZE, MAGIC, MAX_PAYLOAD, OVERHEAD, Record, scan
from jobledger.ledger.segment import SUFFIX, SegmentUnreadable, list_segments, read_bytes, write_failure

ID_FILE = "project-id"
_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z:_.-]{0,63}")


@attrs.frozen
class SegmentHeader:
    """The ``segment`` event of one file, as far as integrity checks need it."""

    writer: str
    project: str | None
    seen: Mapping[str, tuple[int, bytes]]
    clock: int = 0


def parse_header(record: Record) -> SegmentHeader | None:
    """The header in a segment's first record (at offset 0), if it is one."""
    if record.offset != 0 or not record.events:
        return None
    raw = record.events[0]
    if not (isinstance(raw, list) and len(raw) == 5 and raw[0] == "segment" and isinstance(raw[4], dict)):
        return None
    data: dict[str, Any] = raw[4]
    writer = data.get("writer")
    if not isinstance(writer, str) or not writer:
        return None
    project = data.get("project")
    seen: dict[str, tuple[int, bytes]] = {}
    for name, value in (data.get("seen") or {}).items() if isinstance(data.get("seen"), dict) else ():
        if isinstance(name, str) and isinstance(value, list) and len(value) == 2:
            size, digest = value
            if isinstance(size, int) and isinstance(digest, bytes):
                seen[name] = (size, digest)
    clock = raw[1] if isinstance(raw[1], int) else 0
    return SegmentHeader(writer, project if isinstance(project, str) else None, seen, clock)


def peek_header(path: Path) -> SegmentHeader | None:
    """Read only the first record of ``path`` and return its header, if whole and valid."""
    try:
        head = read_bytes(path, 0, HEADER_SIZE)
        if len(head) < HEADER_SIZE:
            return None
        magic, _version, _reserved, length, _prev = HEADER.unpack_from(head)
        if magic != MAGIC or length > MAX_PAYLOAD:
            return None
        data = read_bytes(path, 0, OVERHEAD + length)
    except (OSError, SegmentUnreadable):
        return None
    for item in scan(data):
        return parse_header(item) if isinstance(item, Record) else None
    return None


def frontier(read: Mapping[str, tuple[int, bytes]], headers: Iterable[SegmentHeader]) -> dict[str, list[Any]]:
    """The ``seen`` map of a new header: what was read that no known header claims as far."""
    claimed: dict[str, int] = {}
    for header in headers:
        for writer, (size, _digest) in header.seen.items():
            if size > claimed.get(writer, 0):
                claimed[writer] = size
    return {
        writer: [size, digest]
        for writer, (size, digest) in sorted(read.items())
        if size > 0 and size > claimed.get(writer, 0)
    }


# ---------------------------------------------------------------------- project id
def id_path(ledger_dir: Path) -> Path:
    """Where the project id lives: ``.jobledger/project-id`` beside ``ledger/``."""
    return ledger_dir.parent / ID_FILE


def read_project_id(ledger_dir: Path) -> str | None:
    """The project id, or None when the file is missing or not a valid id."""
    try:
        text = id_path(ledger_dir).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return text if _ID_RE.fullmatch(text) else None


def adopt_project_id(ledger_dir: Path) -> str | None:
    """The id a project without an id file should have, judged from its segments.

    The earliest segment that names a project gives it; a ledger written before project
    ids existed gets one derived from its oldest segment's name (the same in every clone
    that shares that history); an empty ledger gets none (a new random id is made).
    """
    try:
        files, _odd = list_segments(ledger_dir)
    except LedgerError:
        return None
    named = []
    for path in files:
        header = peek_header(path)
        if header is not None and header.project and _ID_RE.fullmatch(header.project):
            named.append((header.clock, path.name, header.project))
    if named:
        return min(named)[2]
    if files:
        stem = files[0].name[: -len(SUFFIX)]
        return "s-" + hashlib.blake2b(stem.encode(), digest_size=12).hexdigest()
    return None


def ensure_project_id(ledger_dir: Path) -> str:
    """The project id, creating ``.jobledger/project-id`` when it is missing.

    Creation is atomic and never overwrites an id another process wrote first.
    """
    path = id_path(ledger_dir)
    current = read_project_id(ledger_dir)
    if current is not None:
        return current
    if path.exists():
        raise LedgerError(f"{path} does not hold a valid project id; restore it from git")
    value = adopt_project_id(ledger_dir) or secrets.token_hex(12)
    tmp = path.with_name(f".{ID_FILE}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(value + "\n", encoding="ascii")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: use its id
    except OSError as exc:
        raise LedgerError(f"cannot write the project id {path}: {write_failure(exc)}") from exc
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    written = read_project_id(ledger_dir)
    if written is None:
        raise LedgerError(f"{path} does not hold a valid project id; restore it from git")
    return written
