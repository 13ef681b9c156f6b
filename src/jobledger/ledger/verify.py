"""Check the whole ledger: every record's digest and chain, framing, event shape, and
whole files (deleted, truncated, rewritten, duplicated or foreign segments, odd entries)."""

from __future__ import annotations

from pathlib import Path

import attrs

from jobledger.ledger.codec import Damage
from jobledger.ledger.headers import SegmentHeader, adopt_project_id, parse_header, read_project_id
from jobledger.ledger.segment import (
    SUFFIX,
    SegmentCursor,
    SegmentUnreadable,
    list_segments,
    read_bytes,
    read_segment,
)
from jobledger.ledger.wholefile import SegmentFile, foreign, problems


@attrs.frozen
class Finding:
    """One problem: the segment file, the byte offset (None: the whole file) and what is wrong."""

    path: Path
    offset: int | None
    kind: str
    reason: str

    def __str__(self) -> str:
        where = "" if self.offset is None else f" byte {self.offset}:"
        return f"{self.path}:{where} {self.kind}: {self.reason}"


@attrs.frozen
class Report:
    """Result of :func:`verify_ledger`; ``notes`` are information, not damage."""

    segments: int
    records: int
    events: int
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return not self.findings


def verify_ledger(ledger_dir: Path) -> Report:
    """Read every segment from its first byte and report every damaged record and file."""
    findings: list[Finding] = []
    notes: list[str] = []
    segments = records_total = events_total = 0
    files, odd = list_segments(ledger_dir)
    for name, reason in odd.items():
        findings.append(Finding(ledger_dir / name, None, "odd entry", f"{reason}; readers skip it"))
    project_id = read_project_id(ledger_dir)
    if project_id is None:
        project_id = adopt_project_id(ledger_dir)
        judged = f"judged from the segments: {project_id}" if project_id else "the next write creates it"
        notes.append(f"no project id file ({ledger_dir.parent / 'project-id'}): {judged}")
    known: list[SegmentFile] = []
    unnamed = 0
    for path in files:
        try:
            records, damages, cursor = read_segment(path, SegmentCursor())
        except SegmentUnreadable as exc:
            findings.append(Finding(path, None, "odd entry", f"{exc.reason}; readers skip it"))
            continue
        except FileNotFoundError:
            continue
        segments += 1
        all_damage: list[Damage] = list(damages)
        if cursor.torn is not None:
            all_damage.append(cursor.torn)
        for damage in all_damage:
            findings.append(Finding(path, damage.offset, damage.kind, damage.reason))
        for record in records:
            records_total += 1
            for raw in record.events:
                events_total += 1
                if not (isinstance(raw, list) and len(raw) == 5 and isinstance(raw[0], str)):
                    findings.append(Finding(path, record.offset, "event", f"malformed event {raw!r:.80}"))
        header = parse_header(records[0]) if records and records[0].offset == 0 else None
        if header is None or header.project is None:
            unnamed += 1
        writer = header.writer if header is not None else path.name[: -len(SUFFIX)]
        known.append(SegmentFile(path.name, writer, header, cursor.offset))
    if unnamed:
        notes.append(
            f"{unnamed} segment(s) carry no project id (written before project ids existed, "
            "or their first record is damaged): they cannot be checked for another project's"
        )
    for problem in problems(known, project_id):
        for name in problem.files:
            findings.append(Finding(ledger_dir / name, None, problem.kind, problem.reason))
    findings.extend(_rewritten(ledger_dir, known, project_id))
    findings.sort(key=lambda f: (str(f.path), -1 if f.offset is None else f.offset))
    return Report(segments, records_total, events_total, tuple(findings), tuple(notes))


def _rewritten(ledger_dir: Path, files: list[SegmentFile], project_id: str | None) -> list[Finding]:
    """Segments whose bytes differ from what another segment's writer read of them."""
    by_writer: dict[str, list[SegmentFile]] = {}
    for f in files:
        if not foreign(f.header, project_id):
            by_writer.setdefault(f.writer, []).append(f)
    out = []
    for f in files:
        header: SegmentHeader | None = f.header
        if header is None or foreign(header, project_id):
            continue
        for writer, (size, digest) in header.seen.items():
            group = [g for g in by_writer.get(writer, ()) if g.extent >= size]
            if not group:
                continue  # missing or truncated: reported already
            if not any(_digest_at(ledger_dir / g.name, size) == digest for g in group):
                names = " and ".join(g.name for g in group)
                out.append(
                    Finding(
                        ledger_dir / group[0].name,
                        size,
                        "rewritten",
                        f"{names} differ from what {f.name} read: the record ending at byte {size} "
                        "has another digest",
                    )
                )
    return out


def _digest_at(path: Path, offset: int) -> bytes | None:
    try:
        return read_bytes(path, offset - 16, 16)
    except (OSError, SegmentUnreadable):
        return None
