"""One contract for every backend: the :class:`~jobledger.engine.backend.Backend` protocol
called directly, as the driver calls it, against the local backend, the real SLURM, the
real Grid Engine and the fake PBS Pro, Torque and LSF executables (STYLE.md 12-13).

``prepare`` then ``submit``, ``observe`` until final (exit codes, failures, Python results),
``find`` of an attempt after "a crash" (a fresh backend in place of the one that submitted),
``cancel``, arrays, native dependencies and ``view()``. Real processes, real schedulers,
no ledger: the tests play the driver's part with the values backends return.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

import jobledger as jl
from jobledger.engine.backend import Backend
from jobledger.engine.definitions import define, write_payloads
from jobledger.engine.driver import Driver
from jobledger.engine.types import Submission, SubmitOutcome, Unit, Update
from jobledger.ledger.specs import JobSpec
from jobledger.model.resources import Resources
from jobledger.project import Project
from jobledger.schedulers.base import NativeDependency
from jobledger.states import JobState
from services import require, sge_available, slurm_available

FAKES = Path(__file__).resolve().parent / "fakes"
BACKENDS = ["local", "slurm", "sge", "pbs", "torque", "lsf"]
BATCH = BACKENDS[1:]
TIMEOUT = 150.0


@attrs.define
class Harness:
    """A project, a backend of one kind, and what the driver would otherwise keep."""

    kind: str
    project: Project
    alias: str
    drivers: list[Driver] = attrs.field(factory=list)

    def backend(self) -> Backend:
        """A fresh backend (a new process's, as after a crash of the one before)."""
        driver = Driver(self.project)
        self.drivers.append(driver)
        return driver.backend(self.alias)

    def specs(self, *jobs: jl.Job, name: str = "contract") -> dict[str, JobSpec]:
        """The jobs' specs as defined for the ledger (Python pickles written), by name."""
        driver = self.drivers[0] if self.drivers else Driver(self.project)
        if not self.drivers:
            self.drivers.append(driver)
        wf = jl.Workflow(list(jobs), name=name)
        definition = define(wf, project=self.project, config=driver.config, host=self.alias)
        write_payloads(self.project, definition, list(definition.jobs), only_missing=False)
        return {s.name: s for s in definition.specs}

    def close(self) -> None:
        for driver in self.drivers:
            driver.close()


def submission(spec: JobSpec, attempt: int = 1, native: Sequence[tuple[str, str]] = ()) -> Submission:
    return Submission(
        spec,
        attempt,
        Resources(**spec.resources_for(attempt)),
        "contract",
        tuple(NativeDependency(sid, kind) for sid, kind in native),
    )


def units_of(sub: Submission, outcome: SubmitOutcome, alias: str) -> list[Unit]:
    """The units the driver would watch after ``outcome``."""
    common: dict[str, Any] = {
        "key": sub.key,
        "attempt": sub.attempt,
        "host": alias,
        "scheduler_id": outcome.scheduler_id,
        "attempt_dir": sub.attempt_dir,
        "state": JobState.SUBMITTED,
        "submitted_at": time.time(),
        "index_offset": outcome.index_offset,
        "python": sub.spec.python,
    }
    if sub.spec.array:
        return [Unit(index=i, **common) for i in sub.spec.array]
    return [Unit(index=None, **common)]


def submit(backend: Backend, *subs: Submission) -> list[SubmitOutcome]:
    prepared = backend.prepare(list(subs), {})
    assert all(p.ok for p in prepared), [p.error for p in prepared]
    outcomes = backend.submit(list(subs))
    assert [o.key for o in outcomes] == [s.key for s in subs]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return outcomes


def observe_until_final(
    backend: Backend,
    units: Sequence[Unit],
    *,
    timeout: float = TIMEOUT,
    adopt: bool = True,
    seen: list[Update] | None = None,
) -> dict[tuple[str, int | None], Update]:
    """Call ``tick``/``observe`` as the driver does until every unit has a final update;
    the final updates by ``(key, index)``."""
    watching = {u.ident: u for u in units}
    finals: dict[tuple[str, int | None], Update] = {}
    deadline = time.monotonic() + timeout
    while watching:
        assert time.monotonic() < deadline, f"not final after {timeout}s: {sorted(map(str, watching))}"
        updates = backend.tick() + backend.observe(list(watching.values()), [], True, adopt)
        for update in updates:
            if seen is not None:
                seen.append(update)
            ident = (update.key, update.attempt, update.index)
            unit = watching.get(ident)
            if unit is None:
                continue
            if update.state.is_final:
                finals[(update.key, update.index)] = update
                del watching[ident]
            elif update.state.rank > unit.state.rank:
                watching[ident] = attrs.evolve(unit, state=update.state)
        time.sleep(0.1)
    return finals


@pytest.fixture(params=BACKENDS)
def harness(
    request: pytest.FixtureRequest, project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Harness]:
    kind: str = request.param
    alias = "local"
    if kind != "local":
        alias = "cluster"
        if kind == "slurm":
            require(slurm_available(), "SLURM (make slurm-up)")
        elif kind == "sge":
            require(sge_available(), "Grid Engine (make sge-up)")
        else:
            state = tmp_path / "fakesched"
            state.mkdir()
            monkeypatch.setenv("FAKESCHED_DIR", str(state))
            monkeypatch.setenv("PATH", f"{FAKES / kind / 'bin'}:{os.environ['PATH']}")
        (project.root / "jobledger.toml").write_text(
            f'[hosts.cluster]\nscheduler = "{kind}"\npoll_interval = 0.3\nmax_in_flight = 50\n'
        )
    h = Harness(kind, project, alias)
    yield h
    h.close()
    if kind in ("pbs", "torque", "lsf"):
        subprocess.run(
            [sys.executable, str(FAKES / "fakesched.py"), "shutdown"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def _twice(x: int) -> int:
    print("doubling", x)
    return 2 * x


def _raises() -> None:
    raise KeyError("no such sample")


# ---------------------------------------------------------------------- the contract
def specs_name(specs: dict[str, JobSpec], key: str) -> str:
    return next(name for name, s in specs.items() if s.key == key)


def test_submit_then_observe_until_final(harness: Harness) -> None:
    """Exit codes, failures, Python results, array elements, native dependencies, and
    what ``view()`` tells the planner before and after."""
    root = harness.project.root
    batch = harness.kind != "local"
    jobs = [
        jl.Job(name="ok", command="echo fine; echo ok >> ran.txt"),
        jl.Job(name="bad", command="echo oops >&2; exit 7"),
        jl.Job(name="missing", command=["no-such-command-anywhere-xyz"]),
        jl.Job(name="killed", command=["bash", "-c", "kill -9 $$"]),
        jl.Job(name="value", command=_twice, args=(21,)),
        jl.Job(name="raises", command=_raises),
        jl.Job(
            name="arr",
            command='echo "element $JOBLEDGER_ARRAY_INDEX"; [ "$JOBLEDGER_ARRAY_INDEX" != 2 ] || exit 5',
            array="0-3%2",
        ),
    ]
    if batch:
        jobs += [
            jl.Job(name="up", command="sleep 2; echo up >> order.txt; exit 4"),
            jl.Job(name="down", command="echo down >> order.txt"),
        ]
    specs = harness.specs(*jobs)
    backend = harness.backend()
    view = backend.view()
    assert view.alias == harness.alias and view.throttled_until <= time.time()
    if batch:
        assert "afterany" in view.native_kinds and view.max_in_flight == 50
    else:  # the driver orders local jobs itself; nothing to track
        assert view.native_kinds == frozenset() and view.live_ids is None
    subs = [submission(s) for name, s in specs.items() if name != "down"]
    outcomes = submit(backend, *subs)
    units = [u for sub, out in zip(subs, outcomes, strict=True) for u in units_of(sub, out, harness.alias)]
    if batch:
        up = {s.key: o for s, o in zip(subs, outcomes, strict=True)}[specs["up"].key]
        assert up.scheduler_id in (backend.view().live_ids or ())
        down = submission(specs["down"], native=[(up.scheduler_id or "", "afterany")])
        (second,) = submit(backend, down)
        units += units_of(down, second, harness.alias)
    arr = [u for u in units if u.key == specs["arr"].key]
    assert [u.index for u in arr] == [0, 1, 2, 3]
    finals = observe_until_final(backend, units)
    by_name = {specs_name(specs, k): u for (k, i), u in finals.items() if i is None}
    assert by_name["ok"].state is JobState.COMPLETED and by_name["ok"].exit_code == 0
    assert by_name["bad"].state is JobState.FAILED and by_name["bad"].exit_code == 7
    assert by_name["missing"].state is JobState.FAILED and by_name["missing"].exit_code == 127
    assert by_name["killed"].state is JobState.FAILED
    assert by_name["killed"].exit_code == 137 or by_name["killed"].signal == 9, by_name["killed"]
    assert by_name["value"].state is JobState.COMPLETED
    assert by_name["value"].result is not None and by_name["value"].result["type"] == "int"
    assert by_name["raises"].state is JobState.FAILED and by_name["raises"].result is not None
    assert by_name["raises"].result["error"]["type"] == "KeyError"
    assert "no such sample" in by_name["raises"].result["error"]["message"]
    # every unit ran in its own directory, where the driver reads it
    assert (root / specs["bad"].run_dir / "stderr").read_text().strip() == "oops"
    assert (root / specs["ok"].run_dir / "stdout").read_text().strip() == "fine"
    assert (root / specs["value"].run_dir / "stdout").read_text().strip() == "doubling 21"
    assert (root / "ran.txt").read_text().split() == ["ok"]
    elements = {i: u for (k, i), u in finals.items() if k == specs["arr"].key}
    assert {i: u.state for i, u in elements.items()} == {
        0: JobState.COMPLETED,
        1: JobState.COMPLETED,
        2: JobState.FAILED,
        3: JobState.COMPLETED,
    }
    assert elements[2].exit_code == 5
    for unit in arr:
        assert (root / unit.unit_dir / "stdout").read_text().strip() == f"element {unit.index}"
    if batch:  # the scheduler held "down" until "up" ended (afterany: failed is fine)
        assert by_name["up"].state is JobState.FAILED and by_name["down"].state is JobState.COMPLETED
        assert (root / "order.txt").read_text().split() == ["up", "down"]
        time.sleep(0.4)
        backend.observe(units, [], True)  # one more poll: nothing is live any more
        assert up.scheduler_id not in (backend.view().live_ids or ())


def test_find_after_a_crash_then_a_new_backend_carries_on(harness: Harness) -> None:
    """The process that submitted is gone: a new backend finds the attempt it submitted
    (the scheduler's tag, or the local claim) and observes it to its end; one whose intent
    was written but that was never handed over is not found on a scheduler (it is
    submitted again) and, locally, starts only when a driver adopts it — a process that
    only watches never starts it. Each runs once."""
    root = harness.project.root
    specs = harness.specs(
        jl.Job(name="survivor", command="sleep 1; echo once >> survivor.txt; exit 3"),
        jl.Job(name="never-sent", command="echo once >> never-sent.txt"),
    )
    first = harness.backend()
    sent = submission(specs["survivor"])
    (outcome,) = submit(first, sent)
    unsent = submission(specs["never-sent"])
    assert all(p.ok for p in first.prepare([unsent], {}))  # its intent is written; then the crash
    first.tick()  # the local backend starts what it queued
    harness.drivers[-1].close()  # jobs go on, the backend's memory does not
    second = harness.backend()
    found = second.find(sent)
    assert found is not None
    if harness.kind != "local":
        assert found == outcome.scheduler_id
    again = second.find(unsent)
    if harness.kind == "local":
        assert again is not None  # claims and exit files tell what ran
        unsent_units = units_of(unsent, SubmitOutcome(unsent.key, 1, again), harness.alias)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # watching only: never started
            assert second.tick() + second.observe(unsent_units, [], True, adopt=False) == []
            time.sleep(0.2)
        assert not (root / "never-sent.txt").exists()
    else:
        assert again is None, "a submission that never reached the scheduler was found"
        (resent,) = submit(second, unsent)
        unsent_units = units_of(unsent, resent, harness.alias)
    units = units_of(sent, SubmitOutcome(sent.key, 1, found), harness.alias) + unsent_units
    finals = observe_until_final(second, units)
    assert finals[(sent.key, None)].state is JobState.FAILED
    assert finals[(sent.key, None)].exit_code == 3
    assert finals[(unsent.key, None)].state is JobState.COMPLETED
    assert (root / "survivor.txt").read_text().split() == ["once"]
    assert (root / "never-sent.txt").read_text().split() == ["once"]


def test_cancel_a_running_and_a_queued_attempt(harness: Harness) -> None:
    """Both end cancelled: the running one is stopped, the queued one (held by the local
    CPU budget, or by a scheduler dependency) never runs."""
    root = harness.project.root
    if harness.kind == "local":
        (root / "jobledger.toml").write_text("[hosts.local]\nmax_parallel = 1\n")
    specs = harness.specs(
        jl.Job(name="sleeper", command="echo started > started.txt; sleep 120; echo late > late.txt"),
        jl.Job(name="waiting", command="echo ran > waiting.ran"),
    )
    backend = harness.backend()
    sleeper = submission(specs["sleeper"])
    (first,) = submit(backend, sleeper)
    waiting = submission(specs["waiting"])
    if harness.kind != "local":
        waiting = submission(specs["waiting"], native=[(first.scheduler_id or "", "afterany")])
    (second,) = submit(backend, waiting)
    units = units_of(sleeper, first, harness.alias) + units_of(waiting, second, harness.alias)
    deadline = time.monotonic() + TIMEOUT
    while not (root / "started.txt").exists():
        assert time.monotonic() < deadline, "the job never started"
        backend.tick()
        backend.observe(units, [], True)
        time.sleep(0.1)
    # the driver records its cancel intent first: the units it hands over say so
    asked = [attrs.evolve(u, cancel_requested=True) for u in units]
    early = {(u.key, u.index): u for u in backend.cancel(asked, 2.0) if u.state.is_final}
    rest = [u for u in asked if (u.key, u.index) not in early]
    finals = {**early, **(observe_until_final(backend, rest) if rest else {})}
    assert finals[(sleeper.key, None)].state is JobState.CANCELLED, finals
    assert finals[(waiting.key, None)].state is JobState.CANCELLED, finals
    time.sleep(1)
    assert not (root / "late.txt").exists() and not (root / "waiting.ran").exists()
