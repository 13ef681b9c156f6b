"""Appended events folded at once give the state every other way of folding gives: the
events read back eagerly, a cold open that sets each job's events aside until it is read,
and a warm open from the snapshot written at close — whatever the readers asked for
between the appends."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import attrs
import pytest

from jobledger.ledger import events as ev
from jobledger.ledger.phases import job_phase
from jobledger.ledger.queries import job_state, key_states
from jobledger.ledger.reducer import EventMismatch, Model
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.state import ProjectState, settled_state, settled_states
from jobledger.ledger.store import Ledger
from test_ledger import _normal
from test_ledger_lazy import _eager

STATES = ["running", "completed", "failed", "timeout", "cancelled", "out_of_memory", "running"]


def _mix(rng: random.Random, keys: list[str]) -> list[Any]:
    """A varied run of events over ``keys`` (lifecycles, arrays, retries, failures...)."""
    out: list[Any] = []
    for _ in range(600):
        key = rng.choice(keys)
        attempt = rng.choice([1, 1, 1, 2, 3])
        kind = rng.randrange(14)
        if kind < 3:
            out.append(
                ev.Intent(
                    key=key,
                    attempt=attempt,
                    host=rng.choice([None, "local", "hpc"]),
                    run_dir=rng.choice([None, f"jobs/{key}-{attempt}"]),
                    resources=rng.choice([None, {"cpus": 2, "time": "01:00:00"}]),
                    native_deps=rng.choice([(), (("slurm", "12"),)]),
                    index_offset=rng.choice([0, 0, 4]),
                    workflow=rng.choice([None, "wf"]),
                )
            )
        elif kind == 3:
            out.append(ev.Intent(key=key, attempt=attempt, action="cancel"))
        elif kind < 6:
            out.append(
                ev.Submitted(
                    key=key,
                    attempt=attempt,
                    scheduler_id=str(rng.randrange(1000)),
                    host=rng.choice([None, "hpc"]),
                    reconciled=rng.random() < 0.2,
                    at=rng.choice([None, 100.0 + rng.random()]),
                )
            )
        elif kind == 6:
            out.append(ev.SubmitFailed(key=key, attempt=attempt, error="no", transient=rng.random() < 0.5))
        elif kind < 10:
            out.append(
                ev.StateChanged(
                    key=key,
                    attempt=attempt,
                    state=rng.choice(STATES),
                    index=rng.choice([None, None, None, 0, 1, 2]),
                    exit_code=rng.choice([None, 0, 1]),
                    signal=rng.choice([None, None, 9]),
                    reason=rng.choice(["", "oom"]),
                    at=rng.choice([None, 200.0 + rng.random()]),
                    pid=rng.choice([None, 4242]),
                )
            )
        elif kind == 10:
            out.append(
                ev.ResultRecorded(
                    key=key, attempt=attempt, index=rng.choice([None, 1]), value=str(rng.random())
                )
            )
        elif kind == 11:
            out.append(
                ev.RetryDecided(key=key, attempt=attempt + 1, reason="again", manual=rng.random() < 0.5)
            )
        elif kind == 12:
            out.append(
                rng.choice([ev.CancelRequested(key=key, reason="stop"), ev.Reused(workflow="wf", key=key)])
            )
        else:
            out.append(
                rng.choice(
                    [
                        ev.OutputsHome(key=key, files={"out.txt": "abc"}),
                        ev.Fetched(key=key, attempt=attempt, files={"o": "d"}),
                        ev.Staged(host="hpc", path=f"/p/{key}", digest="d"),
                        ev.Note(message="hi"),
                    ]
                )
            )
    return out


def _plain(value: Any) -> Any:
    """``value`` with records as maps and tuples as lists."""
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _read(model: Model, keys: list[str]) -> list[Any]:
    """What the readers say of ``keys`` (frozen views, phases, settled and status states)."""
    state = ProjectState(model)
    # as plain data: a result's order is a tuple in the process that folded it, a list
    # once read back from a snapshot (the same values)
    out: list[Any] = [_plain(state.job(k)) for k in keys]
    out += [None if (r := model.jobs.get(k)) is None else job_phase(r) for k in keys]
    out += [settled_state(model, k) for k in keys]
    out.append(settled_states(model, keys))
    out += [job_state(model, k) for k in keys]
    out.append(key_states(model, keys))
    return out


def test_appends_fold_to_the_state_every_reader_sees_again(tmp_path: Path) -> None:
    rng = random.Random(18)
    keys = [f"k{i:02d}" for i in range(40)]
    specs = [
        JobSpec(key=k, name=f"j{k}", run_dir=f"jobs/{k}", array=[0, 1, 2] if i % 7 == 0 else None)
        for i, k in enumerate(keys[:30])
    ]
    ledger = Ledger(tmp_path / "ledger", tmp_path / "cache")
    ledger.record(ev.WorkflowDefined(name="wf", jobs=specs[:20]))
    ledger.record(ev.RunStarted(workflow="wf", run="r1"))
    events = _mix(rng, keys)
    seen = []
    for i, event in enumerate(events, 1):
        ledger.append(event)
        if i % 97 == 0:  # readers between the appends: build some records, not others
            seen.append(_read(ledger.model, rng.sample(keys, 5)))
        if i == 300:
            ledger.record(ev.WorkflowDefined(name="wf", jobs=specs[10:], replaces=()))
        if i % 250 == 0:
            ledger.flush(durable=True)
    assert seen and any(s[0] is not None for s in seen)
    live = _normal(ledger.model)
    live_reads = _read(ledger.model, keys)
    ledger.save_snapshot()  # what close writes after many events
    ledger.close()
    eager = _eager(tmp_path / "ledger")
    assert live == _normal(eager)
    cold = Ledger(tmp_path / "ledger", tmp_path / "other-cache", use_snapshot=False).open()
    assert _read(cold.model, keys) == live_reads
    assert _normal(cold.model) == live
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    assert warm.model.jobs.rows is not None  # type: ignore[attr-defined]
    assert _read(warm.model, keys) == live_reads
    assert _normal(warm.model) == live


def test_an_appended_event_that_does_not_fit_is_refused_and_not_written(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger", tmp_path / "cache")
    ledger.append(ev.StateChanged(key="k", state="running"))
    for bad in (
        ev.StateChanged(key="k", state="exploded"),
        ev.StateChanged(key="k", attempt="two", state="running"),  # type: ignore[arg-type]
    ):
        with pytest.raises(EventMismatch):
            ledger.append(bad)
    ledger.close()
    written = [r.event for r in Ledger(tmp_path / "ledger", tmp_path / "c2").iter_events()]
    assert [type(e).__name__ for e in written] == ["SegmentOpened", "StateChanged"]
