"""A cold open sets each job's events aside until the job is read: the state it gives is
the eager fold's, whatever is read when (and events that do not fit are still listed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack

from jobledger.ledger import events as ev
from jobledger.ledger.codec import Record, scan
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.reducer import Model, apply_raw
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.state import settled, settled_state, settled_states
from jobledger.ledger.store import Ledger
from test_ledger import _normal, _raw_segment


def _eager(ledger_dir: Path) -> Model:
    """Every event folded at once into a model whose jobs are a plain dict."""
    model = Model()
    model.jobs = {}
    for seg in sorted(ledger_dir.glob("*.seg")):
        for item in scan(seg.read_bytes()):
            assert isinstance(item, Record)
            apply_raw(model, item.events, seg.stem, f"{seg.name} @{item.offset}: ")
    return model


def _write(root: Path) -> None:
    led = Ledger(root / "ledger", root / "cache").open()
    specs = [JobSpec(key=f"k{i}", name=f"j{i}", run_dir=f"jobs/j{i}") for i in range(6)]
    led.record(ev.WorkflowDefined(name="wf", jobs=specs[:4]))
    for i in range(8):  # k6, k7: named by no definition
        key = f"k{i}"
        led.append(ev.Intent(key=key, attempt=1, action="submit", host="local"))
        led.append(ev.Submitted(key=key, attempt=1, scheduler_id=str(i)))
        led.append(ev.StateChanged(key=key, attempt=1, state="running"))
        led.append(
            ev.StateChanged(key=key, attempt=1, state="failed" if i % 3 else "completed", exit_code=i % 3)
        )
    led.append(ev.RetryDecided(key="k1", attempt=2, reason="again"))
    led.append(ev.ResultRecorded(key="k0", attempt=1, value="v"))
    led.append(ev.CancelRequested(key="k7", reason="no"))
    led.record(ev.WorkflowDefined(name="wf", jobs=specs[2:], replaces=()))
    led.close()
    # events that do not fit: set aside like the others, listed once folded
    _raw_segment(
        root / "ledger",
        [
            ["state", 10**17, 1, 0.0, {"key": "k2", "attempt": 1, "state": "exploded"}],
            ["state", 10**17 + 1, 2, 0.0, {"key": "k9", "attempt": "one", "state": "running"}],
            ["submitted", 10**17 + 2, 3, 0.0, {"key": "k3", "attempt": 2, "scheduler_id": "x", "at": "noon"}],
            ["state", 10**17 + 3, 4, 0.0, {"key": "k3", "attempt": 2, "state": "running", "at": "noon"}],
        ],
    )


def test_cold_open_defers_jobs_and_equals_the_eager_fold(tmp_path: Path) -> None:
    _write(tmp_path)
    lazy = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    jobs = lazy.model.jobs
    assert isinstance(jobs, LazyJobs)
    # nothing was folded yet, but every job is counted and known
    assert len(jobs.pending) == len(jobs) == 8 and "k7" in jobs and "k9" not in jobs
    eager = _eager(tmp_path / "ledger")
    assert lazy.model.max_clock == eager.max_clock
    assert sorted(lazy.model.problems) == sorted(eager.problems) and len(eager.problems) == 2
    assert _normal(lazy.model) == _normal(eager)


def test_events_read_after_some_jobs_were_built(tmp_path: Path) -> None:
    _write(tmp_path)
    lazy = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    assert lazy.model.jobs["k1"].attempts[2].retry is not None  # k1 built, the others not
    other = Ledger(tmp_path / "ledger", tmp_path / "other-cache").open()
    for key in ("k1", "k4", "k8"):
        other.append(ev.StateChanged(key=key, attempt=3, state="running"))
    other.close()
    assert lazy.refresh() >= 3
    assert lazy.model.jobs.pending.get("k4") is not None  # set aside with its older events
    assert lazy.model.jobs["k1"].attempts[3].state.value == "running"
    assert _normal(lazy.model) == _normal(_eager(tmp_path / "ledger"))


def test_snapshot_of_a_cold_open_folds_what_was_set_aside(tmp_path: Path) -> None:
    _write(tmp_path)
    cold = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    cold.save_snapshot()
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    # the settled index covers the jobs that were set aside at save time
    jobs = warm.model.jobs
    assert isinstance(jobs, LazyJobs) and not jobs.pending and jobs.rows is not None and len(jobs.rows) == 8
    assert jobs.packed_settled("k0") == "completed" and jobs.packed_settled("k3") is None
    eager_jobs = _eager(tmp_path / "ledger").jobs
    for key, job in eager_jobs.items():
        state = settled(job)
        assert jobs.packed_settled(key) == (None if state is None else state.value), key
    eager: Any = _normal(_eager(tmp_path / "ledger"))
    assert _normal(warm.model) == eager


def test_a_snapshot_that_does_not_fit_is_ignored(tmp_path: Path) -> None:
    _write(tmp_path)
    cold = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    cold.save_snapshot()
    path = cold.snapshot_path
    good = path.read_bytes()
    eager: Any = _normal(_eager(tmp_path / "ledger"))
    old = msgpack.packb({"version": 6, "segments": {}, "model": {}, "book": {}})
    for bad in (b"", old, good[:-3], good[:40], good[:8] + b"\xff" * 8 + good[16:]):
        path.write_bytes(bad)
        opened = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
        assert isinstance(opened.model.jobs, LazyJobs) and opened.model.jobs.rows is None
        assert _normal(opened.model) == eager


def test_events_read_after_a_warm_open(tmp_path: Path) -> None:
    _write(tmp_path)
    Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open().save_snapshot()
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    other = Ledger(tmp_path / "ledger", tmp_path / "other-cache").open()
    for key in ("k4", "k8"):  # k4 is packed in the snapshot, k8 is new
        other.append(ev.StateChanged(key=key, attempt=3, state="running"))
    other.close()
    assert warm.refresh() >= 2
    jobs = warm.model.jobs
    assert isinstance(jobs, LazyJobs) and list(jobs.pending) == ["k8"] and "k4" not in jobs.pending
    assert jobs.packed_settled("k4") is None and len(jobs) == 9
    assert jobs["k4"].attempts[3].state.value == "running"
    assert _normal(warm.model) == _normal(_eager(tmp_path / "ledger"))


def test_settled_states_in_one_pass_equal_one_by_one(tmp_path: Path) -> None:
    """The bulk read of packed settled states (a waiter's, a scope's) gives what reading
    each job gives: rows taken since the snapshot, open jobs and unknown keys included,
    and with the keys' dict built after many single lookups too."""
    _write(tmp_path)
    Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open().save_snapshot()
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    jobs = warm.model.jobs
    assert isinstance(jobs, LazyJobs) and jobs.rows is not None
    assert jobs["k2"] is not None  # a row taken: its record is read, not its packed row
    keys = [f"k{i}" for i in range(10)] * 10  # more than the bulk path's threshold
    expected = {key: settled(jobs.get(key)) for key in keys}
    assert settled_states(warm.model, keys) == expected
    assert "k2" not in jobs.packed_settled_many(keys)
    for _ in range(1100):  # single lookups past the count that builds the keys' dict
        jobs.rows.find("k5")
    assert {key: settled_state(warm.model, key) for key in keys} == expected
    assert jobs.rows.find("k2") is None and jobs.rows.find("nope") is None
