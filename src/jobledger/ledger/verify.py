"""Check every record of every segment: digests, chains, framing, event shape."""

from __future__ import annotations

from pathlib import Path

import attrs

from jobledger.ledger.codec import Damage
from jobledger.ledger.segment import SUFFIX, SegmentCursor, read_segment


@attrs.frozen
class Finding:
    """One problem: the segment file, the byte offset and what is wrong."""

    path: Path
    offset: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: byte {self.offset}: {self.kind}: {self.reason}"


@attrs.frozen
class Report:
    """Result of :func:`verify_ledger`."""

    segments: int
    records: int
    events: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return not self.findings


def verify_ledger(ledger_dir: Path) -> Report:
    """Read every segment from its first byte and report every damaged record."""
    findings: list[Finding] = []
    segments = records_total = events_total = 0
    for path in sorted(ledger_dir.glob(f"*{SUFFIX}")):
        segments += 1
        records, damages, cursor = read_segment(path, SegmentCursor())
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
    findings.sort(key=lambda f: (str(f.path), f.offset))
    return Report(segments, records_total, events_total, tuple(findings))
