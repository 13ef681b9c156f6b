"""Every event of a ledger's segments in ledger order, read as it is consumed.

A writer's clock only goes up (:class:`~jobledger.ledger.events.HybridClock` ticks past
every value it handed out or saw) and its sequence numbers count up, and a segment holds
one writer's events in the order it wrote them: each segment is already in ``(clock,
writer, seq)`` order. :func:`iter_all_events` therefore merges the segments (a k-way
merge) instead of sorting every event first, and decodes each record only when the merge
reaches it: ``jobledger log`` prints its first line after one record of each segment, not
after the whole ledger.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from pathlib import Path

from jobledger.ledger.book import SegmentBook
from jobledger.ledger.codec import Record, scan
from jobledger.ledger.event_codec import Recorded, decode_raw
from jobledger.ledger.segment import SegmentUnreadable, read_bytes


def _records(path: Path) -> Iterator[Record]:
    """The whole, valid records of segment ``path``, decoded one at a time (damage skipped)."""
    try:
        data = read_bytes(path)
    except (FileNotFoundError, SegmentUnreadable):
        return
    for item in scan(data):
        if isinstance(item, Record):
            yield item


def _events(writer: str, records: Iterator[Record]) -> Iterator[Recorded]:
    for record in records:
        for raw in record.events:
            event = decode_raw(raw, writer)
            if event is not None:
                yield event


def _order(event: Recorded) -> tuple[int, str, int]:
    return (event.clock, event.writer, event.seq)


def iter_all_events(files: list[Path], project_id: str | None) -> Iterator[Recorded]:
    """Every event of ``files`` once (whatever number of files carry its writer), other
    projects' segments and unknown types left out, in ``(clock, writer, seq)`` order.

    Lazy: a segment's records are read as the merge reaches them. A segment whose events
    are not in their writer's order (hand-made; jobledger never writes one) is merged as it
    stands: every event still comes out once.
    """
    book = SegmentBook()
    streams: list[Iterator[Recorded]] = []
    files_of: dict[str, int] = {}
    for path in files:
        records = _records(path)
        first = next(records, None)
        if first is None:
            continue  # no whole record: nothing to list
        writer = book.admit(path.name, [first], project_id)
        if writer is None:  # another project's segment
            continue
        files_of[writer] = files_of.get(writer, 0) + 1
        streams.append(_events(writer, itertools.chain([first], records)))
    shared = {writer for writer, count in files_of.items() if count > 1}
    merged = heapq.merge(*streams, key=_order)
    if not shared:
        yield from merged
        return
    seen: set[tuple[str, int]] = set()
    for event in merged:
        if event.writer in shared and isinstance(event.seq, int):
            ident = (event.writer, event.seq)
            if ident in seen:
                continue  # the same event from a second file of its writer
            seen.add(ident)
        yield event
