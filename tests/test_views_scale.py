"""Views of big projects start answering without reading everything first (issue 18.7).

Work is counted, not timed: the number of events decoded before ``iter_events`` hands out
its first one, the number of job records decoded to draw a grouped graph.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from jobledger.ledger import events as ev
from jobledger.ledger.event_codec import decode_raw
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.store import Ledger

T = TypeVar("T")


def _counting_calls(code: Any, work: Callable[[], T]) -> tuple[int, T]:
    """``work()``'s result and the number of calls of the function with code ``code``."""
    calls = 0

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call" and frame.f_code is code:
            calls += 1

    sys.setprofile(profile)
    try:
        result = work()
    finally:
        sys.setprofile(None)
    return calls, result


def _two_writers(root: Path, records: int) -> Ledger:
    """Two writers taking turns: ``records`` records of 3 events each."""
    left = Ledger(root / "ledger", root / "cache-left").open()
    right = Ledger(root / "ledger", root / "cache-right").open()
    left.record(
        ev.WorkflowDefined(
            name="wf", jobs=[JobSpec(key=f"k{i}", name=f"j{i}", run_dir=f"jobs/j{i}") for i in range(records)]
        )
    )
    for i in range(records):
        writer = (left, right)[i % 2]
        writer.refresh()  # sees the other's events: its clock moves past them
        writer.append(ev.Intent(key=f"k{i}", attempt=1, action="submit"))
        writer.append(ev.Submitted(key=f"k{i}", attempt=1, scheduler_id=str(i)))
        writer.append(ev.StateChanged(key=f"k{i}", attempt=1, state="completed", exit_code=0))
        writer.flush()
    left.close()
    right.close()
    return Ledger(root / "ledger", root / "cache")


def _first(events: Iterator[T]) -> tuple[T, Iterator[T]]:
    return next(events), events


def test_first_event_comes_before_the_ledger_is_read(tmp_path: Path) -> None:
    reader = _two_writers(tmp_path, 200)
    decoded, (first, events) = _counting_calls(decode_raw.__code__, lambda: _first(reader.iter_events()))
    assert first.type == "segment"
    assert decoded <= 2  # the first event of each segment, not the 2 + 1 + 600 of them
    rest = list(events)
    assert len(rest) == 2 + 1 + 600 - 1
    every = [first, *rest]
    assert [e.order for e in every] == sorted(e.order for e in every)
    # the writers took turns: the merge interleaves the two segments
    assert len({e.writer for e in every[-6:]}) == 2


def test_a_writer_in_two_files_is_listed_once(tmp_path: Path) -> None:
    reader = _two_writers(tmp_path, 20)
    before = [e.order for e in reader.iter_events()]
    for path in sorted((tmp_path / "ledger").glob("*.seg")):
        shutil.copy(path, path.with_name(f"zz-copy-{path.name}"))
    after = [e.order for e in reader.iter_events()]
    assert after == before and len(set(after)) == len(after)
