"""A reader's book of segment files: whose each is, what was folded, what is damaged.

The :class:`~jobledger.ledger.store.Ledger` keeps one. It decides which events of a
record still need folding (a writer carried by two files is folded once), skips foreign
segments, and gathers every kind of damage a reader can see into one list of
``(key, text)`` items, which the ledger turns into one warning per damage and process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobledger.ledger.codec import Damage, Record
from jobledger.ledger.event_codec import Recorded, decode_raw
from jobledger.ledger.headers import SegmentHeader, parse_header
from jobledger.ledger.segment import SUFFIX, SegmentCursor, SegmentUnreadable, read_segment
from jobledger.ledger.wholefile import SegmentFile, SeqSet, foreign, problems

log = logging.getLogger("jobledger")
#: damages already reported by this process: (ledger directory, damage key)
_WARNED: set[tuple[str, Any]] = set()
_SHOWN = 3


def _seq(raw: Any) -> int | None:
    if isinstance(raw, list) and len(raw) == 5 and isinstance(raw[2], int):
        return raw[2]
    return None


class SegmentBook:
    """Per segment file: writer id, header, damage; per writer: sequence numbers folded."""

    def __init__(self) -> None:
        self.writers: dict[str, str] = {}
        self.headers: dict[str, SegmentHeader] = {}
        self.foreign: set[str] = set()
        self.applied: dict[str, SeqSet] = {}
        self.odd: dict[str, str] = {}
        self.damages: dict[str, list[Damage]] = {}
        self._files_of: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ reading
    def admit(self, name: str, records: list[Record], project_id: str | None) -> str | None:
        """The writer id of file ``name`` (from its header when read), None when foreign."""
        if name in self.foreign:
            return None
        writer = self.writers.get(name)
        if writer is not None:
            return writer
        header = parse_header(records[0]) if records and records[0].offset == 0 else None
        if header is not None:
            self.headers[name] = header
        writer = header.writer if header is not None else name[: -len(SUFFIX)]
        self.writers[name] = writer
        if foreign(header, project_id):
            self.foreign.add(name)
            return None
        self._files_of.setdefault(writer, set()).add(name)
        return writer

    def own(self, name: str, writer: str, header: SegmentHeader) -> None:
        """Register this process's new segment."""
        self.writers[name] = writer
        self.headers[name] = header
        self._files_of.setdefault(writer, set()).add(name)

    def folded(self, writer: str, seq: int) -> None:
        """Note one event this process wrote (and folded) itself."""
        self.applied.setdefault(writer, SeqSet()).add(seq)

    def select(self, writer: str, events: list[Any]) -> list[Any]:
        """The events of a record not folded yet, now marked as folded."""
        if not events:
            return events
        applied = self.applied.get(writer)
        if applied is None:
            applied = self.applied[writer] = SeqSet()
        lo, hi = _seq(events[0]), _seq(events[-1])
        if lo is not None and hi is not None and lo <= hi:
            if len(self._files_of.get(writer, ())) <= 1 or applied.disjoint(lo, hi):
                applied.add(lo, hi)
                return events
            if applied.covers(lo, hi):
                return []
        out = []
        for raw in events:
            seq = _seq(raw)
            if seq is not None:
                if seq in applied:
                    continue
                applied.add(seq)
            out.append(raw)
        return out

    # ------------------------------------------------------------------ damage
    def health(
        self,
        ledger_dir: Path,
        cursors: Mapping[str, SegmentCursor],
        project_id: str | None,
        extra: tuple[SegmentFile, ...] = (),
    ) -> list[tuple[Any, str]]:
        """Every damage a reader knows of, as ``(key, one-line text)``."""
        items: list[tuple[Any, str]] = []
        for name, reason in sorted(self.odd.items()):
            items.append((("odd", name), f"{name} {reason} (skipped)"))
        for name, found in sorted(self.damages.items()):
            if found:
                first = min(d.offset for d in found)
                text = f"{name}: {len(found)} damaged record(s), the first at byte {first}"
                items.append((("bytes", name), text))
        for name, cursor in sorted(cursors.items()):
            torn = cursor.torn
            # a file that grew since is being written (a reader may see a write half done)
            if torn is not None and _size(ledger_dir / name) == torn.offset + torn.length:
                items.append((("torn", name), f"{name}: torn tail at byte {torn.offset}"))
        files = [
            SegmentFile(name, writer, self.headers.get(name), cursors[name].offset if name in cursors else 0)
            for name, writer in self.writers.items()
            if name in cursors or name in self.foreign
        ]
        files.extend(extra)
        for problem in problems(files, project_id):
            if problem.kind == "missing" and (ledger_dir / problem.files[0]).exists():
                continue  # created after this reader listed the directory
            if problem.kind == "truncated" and _size(ledger_dir / problem.files[0]) >= problem.claimed:
                continue  # grew after this reader read it
            items.append(((problem.kind, problem.files), str(problem)))
        return items

    def warn(self, ledger_dir: Path, items: list[tuple[Any, str]]) -> None:
        """Log one warning line for the damages this process has not reported yet."""
        where = str(ledger_dir)
        new = [text for key, text in items if (where, key) not in _WARNED]
        if not new:
            return
        _WARNED.update((where, key) for key, _text in items)
        shown = "; ".join(new[:_SHOWN]) + (f"; and {len(new) - _SHOWN} more" if len(new) > _SHOWN else "")
        log.warning("ledger %s is damaged: %s; run `jobledger verify` for details", ledger_dir, shown)

    # ------------------------------------------------------------------ snapshot
    def dump(self) -> dict[str, Any]:
        """Plain data for the snapshot."""
        return {
            "writers": self.writers,
            "headers": {
                n: [h.writer, h.project, {w: list(v) for w, v in h.seen.items()}, h.clock]
                for n, h in self.headers.items()
            },
            "foreign": sorted(self.foreign),
            "applied": {w: s.ranges() for w, s in self.applied.items()},
            "damages": {
                n: [[d.offset, d.kind, d.reason, d.length] for d in ds] for n, ds in self.damages.items()
            },
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> SegmentBook:
        """The book a snapshot holds."""
        book = cls()
        book.writers = dict(data["writers"])
        for name, (writer, project, seen, clock) in data["headers"].items():
            claims = {w: (v[0], v[1]) for w, v in seen.items()}
            book.headers[name] = SegmentHeader(writer, project, claims, clock)
        book.foreign = set(data["foreign"])
        book.applied = {w: SeqSet(r) for w, r in data["applied"].items()}
        book.damages = {n: [Damage(*d) for d in ds] for n, ds in data["damages"].items()}
        for name, writer in book.writers.items():
            if name not in book.foreign:
                book._files_of.setdefault(writer, set()).add(name)
        return book


def all_events(files: list[Path], project_id: str | None) -> list[Recorded]:
    """Every event of ``files`` once (whatever number of files carry its writer), other
    projects' segments and unknown types left out, in ``(clock, writer, seq)`` order."""
    collected: dict[tuple[str, int], Recorded] = {}
    book = SegmentBook()
    for path in files:
        try:
            records, _damages, _cursor = read_segment(path, SegmentCursor())
        except SegmentUnreadable:
            continue
        writer = book.admit(path.name, records, project_id)
        if writer is None:
            continue
        for record in records:
            for raw in record.events:
                event = decode_raw(raw, writer)
                if event is not None:
                    seq = event.seq if isinstance(event.seq, int) else -1 - len(collected)
                    collected.setdefault((writer, seq), event)
    return sorted(collected.values(), key=lambda e: e.order)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
