"""The results a wait returns are built on first use, and then behave as a plain dict."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import jobledger as jl
from jobledger.project import Project
from jobledger.session.results import LazyResults


def _keywords(**given: Any) -> dict[str, Any]:
    return given


def _counting(values: dict[str, Any]) -> tuple[LazyResults, list[int]]:
    calls: list[int] = []

    def build() -> dict[str, Any]:
        calls.append(1)
        return dict(values)

    return LazyResults(build), calls


def test_nothing_is_built_until_read_and_everything_reads_like_a_dict() -> None:
    reads = [
        lambda r: r["a"],
        lambda r: list(r),
        len,
        lambda r: "a" in r,
        lambda r: dict(r),
        lambda r: {**r},
        lambda r: list(r.items()),
        lambda r: list(r.values()),
        lambda r: r.get("a"),
        lambda r: _keywords(**r),
        lambda r: "{a}".format_map(r),
        bool,
        copy.deepcopy,
        lambda r: r == {"a": 1, "b": 2},
        repr,
        lambda r: pickle.loads(pickle.dumps(r)),
        copy.copy,
        lambda r: r | {},
    ]
    for read in reads:
        results, calls = _counting({"a": 1, "b": 2})
        assert calls == []
        read(results)
        assert calls == [1], read
        assert dict(results) == {"a": 1, "b": 2}
        read(results)
        assert calls == [1]  # built once


def test_a_write_first_keeps_what_was_built(project: Project) -> None:
    results, calls = _counting({"a": 1})
    results["b"] = 2
    assert dict(results) == {"a": 1, "b": 2} and calls == [1]


def test_wait_returns_the_results_of_every_job(project: Project) -> None:
    wf = jl.Workflow([jl.Job(name="x", command="echo hi"), jl.Job(name="y", command="exit 3")], name="w")
    handle = jl.run(wf, check=False)
    results = handle.wait(progress=False, check=False)
    assert isinstance(results, dict)
    assert sorted(results) == ["x", "y"]
    assert results["x"].state.value == "completed" and results["y"].exit_code == 3
    again = jl.run(wf, check=False).wait(progress=False, check=False)
    assert again["x"].reused and not again["y"].reused
