"""Views of big projects start answering without reading everything first (issue 18.7).

Work is counted, not timed: the number of events decoded before ``iter_events`` hands out
its first one, the number of job records decoded to draw a grouped graph.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pytest

import jobledger as jl
from big_ledger import seed
from jobledger.ledger import events as ev
from jobledger.ledger.event_codec import decode_raw
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.queries import settled_jobs
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.store import Ledger
from jobledger.project import Project
from jobledger.view.graph import build_graph
from jobledger.view.graph.groups import collapsed, collapsed_graph, group_graph, grouped_graph
from jobledger.view.report import summarize
from jobledger.view.status import status_rows

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


# ---------------------------------------------------------------- packed jobs
@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 400-job project (1 in 7 failed, 3 running) saved with a snapshot."""
    return seed(tmp_path_factory.mktemp("seeded") / "big", 400, failed_every=7)


def _decoded(project: Project) -> int:
    jobs = project.ledger.model.jobs
    assert isinstance(jobs, LazyJobs)
    return sum(1 for key in jobs if dict.__contains__(jobs, key))  # records built


def test_grouped_graph_decodes_only_open_jobs(seeded: Path) -> None:
    project = Project(seeded)
    assert _decoded(project) <= 3  # the running ones may have been decoded on open
    graph = collapsed_graph(project.ledger.state, ["big"])
    assert _decoded(project) <= 3
    assert {n.name for n in graph.nodes} == {"sim-* (200 jobs)", "post-* (200 jobs)"}
    assert [(e.source, e.target) for e in graph.edges] == [("group:sim-*", "group:post-*")]
    counts = dict(graph.node("group:post-*").array_counts)
    failed = sum(1 for number in range(200, 397) if number % 7 == 6)  # the seed's rule
    assert counts == {"completed": 197 - failed, "failed": failed, "running": 3}


def test_settled_jobs_read_from_packed_records_as_decoded(seeded: Path) -> None:
    project = Project(seeded)
    state = project.ledger.state
    keys = state.workflow("big").job_keys  # type: ignore[union-attr]
    briefs = settled_jobs(state.model, keys)
    assert len(briefs) == 397  # every job but the 3 running
    fast = build_graph(state, ["big"])  # the graph's own read of the packed records
    shared = build_graph(state, ["big"], settled=briefs)  # the report's
    slow = build_graph(state, ["big"], settled={})  # every job decoded
    assert fast == shared == slow
    grouped = collapsed(slow)
    assert grouped_graph(state, ["big"]) == grouped_graph(state, ["big"], settled=briefs) == grouped
    assert collapsed_graph(state, ["big"], full=True) == slow


def test_status_rows_of_packed_jobs_are_the_decoded_rows(seeded: Path) -> None:
    project = Project(seeded)
    state = project.ledger.state
    fast = status_rows(state, ["big"])
    assert _decoded(project) <= 3
    slow = status_rows(state, ["big"], settled={})  # every job decoded
    for row in (*fast, *slow):
        if row["state"] == "running":
            del row["elapsed"]  # measured until now
    assert [json.dumps(r) for r in fast] == [json.dumps(r) for r in slow]
    assert summarize(state, fast, now=1.0) == summarize(state, slow, now=1.0)


def test_grouping_without_a_node_per_job_equals_grouping_the_full_graph(project: Project) -> None:
    rng = random.Random(3)
    jobs: list[jl.Job] = []
    for i in range(150):
        ups = rng.sample(jobs, k=min(len(jobs), rng.choice([0, 1, 2]))) if jobs else []
        name = f"{rng.choice('abc')}-{i}" if i % 13 else f"alone-{'abcdefghijkl'[i // 13]}"
        jobs.append(jl.Job(name=name, command="true", after=ups, array=3 if i % 11 == 0 else None))
    jl.init(jl.Workflow(jobs, name="random"))
    state = project.ledger.state
    full = build_graph(state, ["random"])
    grouped = group_graph(full)
    assert collapsed_graph(state, ["random"]) == grouped_graph(state, ["random"]) == grouped
    assert sum(1 for n in grouped.nodes if not n.key.startswith("group:")) == 12  # the lone ones
    assert collapsed_graph(state, ["random"], full=True) == full
