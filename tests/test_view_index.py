"""The snapshot's view index (issue 18.7): ``report``, ``graph`` and the jobs' states that
``status`` counts are read from it for settled jobs, and show exactly what reading every
job's record shows: on a fresh snapshot, after new events, after the snapshot is written
again, and when the index cannot be read."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest

from big_ledger import seed
from jobledger.ledger import events as ev
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.queries import key_states, view_rows
from jobledger.ledger.snapshot import MAGIC
from jobledger.ledger.store import Ledger
from jobledger.view.graph.groups import collapsed_graph
from jobledger.view.report import build_report
from jobledger.view.report.columns import report_jobs
from jobledger.view.report.paged import CHARS, FIELDS, encode_columns

JOBS = 1200  # past the paged table (500) and the grouped graph (100)
NOW = 1_900_000_000.0


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished project (1 job in 7 failed, none running) saved with a snapshot."""
    return seed(tmp_path_factory.mktemp("index") / "big", JOBS, failed_every=7, running=0)


@pytest.fixture
def root(seeded: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "big"
    shutil.copytree(seeded, copy, symlinks=True)
    return copy


def _ledger(root: Path, snapshot: bool = True) -> Ledger:
    return Ledger(root / ".jobledger" / "ledger", root / ".jobledger" / "cache", use_snapshot=snapshot).open()


def _covered(led: Ledger) -> int:
    keys = led.state.workflow("big").job_keys  # type: ignore[union-attr]
    found = view_rows(led.model, keys)
    return 0 if found is None else sum(1 for i in found.rows if i >= 0)


def _same_views(root: Path) -> None:
    """The report and the graphs read through the index equal those read from the records."""
    warm, cold = _ledger(root), _ledger(root, snapshot=False)
    assert isinstance(cold.model.jobs, LazyJobs) and cold.model.jobs.rows is None  # no index
    assert build_report(warm.state, root, now=NOW) == build_report(cold.state, root, now=NOW)
    for full in (None, True):
        assert collapsed_graph(warm.state, ["big"], full) == collapsed_graph(cold.state, ["big"], full)
    keys = [*warm.state.workflow("big").job_keys, "not-a-key"]  # type: ignore[union-attr]
    assert key_states(warm.model, keys) == key_states(cold.model, keys)  # status, resume, wait


def _sim(led: Ledger, number: int) -> str:
    key = led.state.workflow("big").job_keys[number]  # type: ignore[union-attr]
    assert led.state.job(key).name == f"sim-{number}"  # type: ignore[union-attr]
    return key


def test_views_read_from_the_index_show_what_the_records_hold(root: Path) -> None:
    led = _ledger(root)
    assert _covered(led) == JOBS
    keys = list(led.state.workflow("big").job_keys)  # type: ignore[union-attr]
    found = view_rows(led.model, keys)
    assert found is not None and found.aligned  # in the order the views read
    jobs = report_jobs(led.state, led.state.workflows())
    assert not jobs.full and jobs.states.count("failed") == len(range(6, JOBS, 7))
    assert all(not dict.__contains__(led.model.jobs, key) for key in keys)  # no record built
    _same_views(root)


def test_a_job_changed_after_the_snapshot_is_read_from_its_events(root: Path) -> None:
    writer = Ledger(root / ".jobledger" / "ledger", root / ".jobledger" / "other-cache").open()
    key = _sim(writer, 5)
    writer.append(ev.Intent(key=key, attempt=2, action="submit", host="local"))
    writer.append(ev.Submitted(key=key, attempt=2, scheduler_id="retry-5", host="local", at=NOW - 9))
    writer.append(ev.StateChanged(key=key, attempt=2, state="failed", exit_code=3, at=NOW - 5))
    writer.close()
    led = _ledger(root)
    assert _covered(led) == JOBS - 1
    jobs = report_jobs(led.state, led.state.workflows())
    at = jobs.keys.index(key)
    shown = (jobs.states[at], jobs.exits[at], jobs.attempts[at], jobs.scheduler_ids[at])
    assert shown == ("failed", "3", 2, "retry-5")
    _same_views(root)
    led.save_snapshot()  # rows carried over from the index, one job from its record
    assert _covered(_ledger(root)) == JOBS - 1  # two attempts: not in the index
    _same_views(root)


def test_a_snapshot_written_again_keeps_its_index(root: Path) -> None:
    led = _ledger(root)
    before = led.snapshot_path.read_bytes()
    led.save_snapshot()  # nothing touched: the index is carried as it is
    assert led.snapshot_path.read_bytes() == before
    assert _covered(_ledger(root)) == JOBS
    _same_views(root)


def test_an_unreadable_index_is_left_aside(root: Path) -> None:
    path = _ledger(root).snapshot_path
    data = bytearray(path.read_bytes())
    start = len(MAGIC) + 8
    (length,) = struct.unpack(">Q", data[len(MAGIC) : start])
    header = msgpack.unpackb(bytes(data[start : start + length]), raw=False, strict_map_key=False)
    at, size = header["jobs"]["view"]
    assert size > 0
    body = start + length
    data[body + at : body + at + size] = b"\xc1" * size  # a byte msgpack never uses
    path.write_bytes(bytes(data))
    led = _ledger(root)
    assert isinstance(led.model.jobs, LazyJobs) and led.model.jobs.rows is not None  # the rest is used
    assert _covered(led) == 0
    _same_views(root)


def _rows_of(blob: dict[str, Any]) -> list[list[Any]]:
    """What report.js makes of the table's data (``rowsOf``)."""
    n, columns = blob["n"], blob["c"]
    out: dict[str, list[Any]] = {}
    for field in sorted(FIELDS, key=lambda f: "like" in columns[f]):
        column = columns[field]
        if "list" in column:
            out[field] = column["list"]
        elif "codes" in column:
            out[field] = [column["values"][i] for i in column["codes"]]
        elif "chars" in column:
            out[field] = [column["values"][CHARS.index(c)] for c in column["chars"]]
        else:
            values = list(out[column["like"]]) if column["like"] else [""] * n
            for row, value in column["at"].items():
                values[int(row)] = value
            out[field] = values
    return [list(row) for row in zip(*(out[f] for f in FIELDS), strict=True)]


def test_the_table_data_travels_as_columns_and_comes_back_as_rows() -> None:
    n = 300
    columns: dict[str, list[Any]] = {
        "ident": [f"j-{i}" if i % 50 else f"j-{i}-abcdef12" for i in range(n)],
        "name": [f"j-{i}" for i in range(n)],
        "workflow": ["w"] * n,
        "state": ["failed" if i % 7 == 6 else "completed" for i in range(n)],
        "label": [
            "completed (2/3)" if i == 4 else ("failed" if i % 7 == 6 else "completed") for i in range(n)
        ],
        "exit": [str(i % 3) for i in range(n)],
        "attempts": [1 + (i % 2) for i in range(n)],
        "elapsed": [i / 10 for i in range(n)],  # more values than CHARS: a list
        "runtime": [f"{i % 120} s" for i in range(n)],  # more than CHARS: codes
        "host": ["local", 'quote"<back\\slash'] * (n // 2),
        "scheduler_id": [str(1000 + i) for i in range(n)],
        "started": [float(i % 5) for i in range(n)],
        "clock": ["2026-01-01 00:00:00"] * n,
        "details": ["<b>x</b>" if i == 8 else "" for i in range(n)],
        "key": [f"{i:032x}" for i in range(n)],
    }
    text = encode_columns(columns)
    assert "<" not in text
    blob = json.loads(text)
    assert (
        "chars" in blob["c"]["state"] and "codes" in blob["c"]["runtime"] and "list" in blob["c"]["elapsed"]
    )
    assert _rows_of(blob) == [list(row) for row in zip(*(columns[f] for f in FIELDS), strict=True)]
