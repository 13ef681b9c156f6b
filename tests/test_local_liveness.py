"""Local liveness follows the whole unit (its process group or session), not the wrapper.

A wrapper (or the supervisor that started a unit without one) killed with SIGKILL while
its task runs: the job is not lost, retried or final until the task has ended, and then
it is ``lost`` with exit code unknown and the reason.
A cancel from another process ends the job ``cancelled`` whatever its retry policy.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.engine.unit_files import parse_claim
from jobledger.project import Project

pytestmark = pytest.mark.slow

#: Each task holds a lock directory for its whole run; a second one running at the same
#: time records a collision instead.
LOCKED_TASK = """\
# trial {trial}
if mkdir {lock}.lock 2>/dev/null; then
  echo "$EPOCHREALTIME" >> {lock}.starts
  sleep {seconds}
  echo "$EPOCHREALTIME" >> {lock}.ends
  rmdir {lock}.lock
else
  echo "$EPOCHREALTIME" >> {lock}.collisions
fi
"""


def _status(project: Project) -> dict[str, dict]:  # type: ignore[type-arg]
    out = run_cli(project.root, "status", "--json", check=True)
    return {row["name"]: row for row in json.loads(out.stdout)}


def _times(path: Path) -> list[float]:
    return [float(x) for x in path.read_text().split()] if path.exists() else []


def _wait_started(lock: Path, deadline: float) -> None:
    while not lock.with_suffix(".starts").exists():
        assert time.time() < deadline, f"{lock} never started"
        time.sleep(0.02)


@pytest.fixture(params=["supervisor", "launcher", "spawn"])
def start_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Units started by the supervisor (own process group, no shell), the launcher shell
    (own process group) or by posix_spawn (own session)."""
    if request.param == "spawn":
        monkeypatch.setenv("JOBLEDGER_NO_LAUNCHER", "1")
    if request.param == "launcher":
        monkeypatch.setenv("JOBLEDGER_NO_SUPERVISOR", "1")
    return str(request.param)


def _kill_record_writer(claim_path: Path) -> int:
    """SIGKILL what would write the unit's exit record while its task runs: its wrapper,
    or the supervisor that started it without a shell (shared by every unit it runs)."""
    deadline = time.monotonic() + 10
    while (claim := parse_claim(claim_path.read_bytes())) is None:  # created, not yet written
        assert time.monotonic() < deadline, f"{claim_path} stayed empty"
        time.sleep(0.01)
    target = claim.keeper[0] if claim.keeper else claim.pid
    with contextlib.suppress(ProcessLookupError):  # a supervisor killed for an earlier unit
        os.kill(target, signal.SIGKILL)
    return target


@pytest.mark.parametrize("retries", [0, 1])
def test_wrapper_killed_task_keeps_running_no_overlap_honest_state(
    project: Project, start_mode: str, retries: int
) -> None:
    trials = 3
    jobs = [
        jl.Job(
            name=f"t{n}",
            command=LOCKED_TASK.format(trial=n, lock=f"t{n}", seconds=3 + 0.3 * n),
            retries=retries,
            retry_on=["lost"],
        )
        for n in range(trials)
    ]
    handle = jl.run(jl.Workflow(jobs, name="killed"), max_parallel=trials)
    deadline = time.time() + 30
    pids = {}
    for n in range(trials):
        lock = project.root / f"t{n}"
        _wait_started(lock, deadline)
        (run_dir,) = project.jobs_dir.glob(f"t{n}-*")
        pids[n] = _kill_record_writer(run_dir / "claim")
        time.sleep(0.1 * n)
    results = handle.wait(timeout=60, check=False)
    rows = _status(project)
    for n in range(trials):
        lock = project.root / f"t{n}"
        assert not lock.with_suffix(".collisions").exists(), f"t{n}: two attempts ran at the same time"
        starts, ends = _times(lock.with_suffix(".starts")), _times(lock.with_suffix(".ends"))
        first = rows[f"t{n}"]["attempts"][0]
        assert first["state"] == "lost", first
        assert first["exit_code"] is None
        assert f"(pid {pids[n]}) was killed" in first["reason"], first["reason"]
        assert "exit code unknown" in first["reason"]
        # declared lost only once the task had ended
        assert first["ended"] >= ends[0], (first, ends)
        res = results[f"t{n}"]
        if retries == 0:
            assert res.state is jl.JobState.LOST and res.exit_code is None and res.attempts == 1
            assert len(starts) == len(ends) == 1
        else:
            assert res.state is jl.JobState.COMPLETED and res.attempts == 2
            assert len(starts) == len(ends) == 2
            # attempt 2 started only after attempt 1's task had ended
            assert starts[1] >= ends[0]
            assert rows[f"t{n}"]["attempts"][1]["started"] >= ends[0]
    assert run_cli(project.root, "verify").returncode == 0


def test_cpus_of_a_killed_wrapper_stay_taken_while_its_task_runs(project: Project, start_mode: str) -> None:
    """With one CPU, the next job starts only once the task of the killed wrapper ended
    (the launcher, which is handed jobs ahead, keeps the CPU taken too)."""
    shared = "cpu"
    first = jl.Job(name="first", command=LOCKED_TASK.format(trial=0, lock=shared, seconds=2))
    second = jl.Job(name="second", command=LOCKED_TASK.format(trial=1, lock=shared, seconds=0.2))
    handle = jl.run(jl.Workflow([first, second], name="one-cpu"), max_parallel=1)
    deadline = time.time() + 30
    _wait_started(project.root / shared, deadline)
    (run_dir,) = [p for p in project.jobs_dir.glob("*-*") if (p / "claim").exists()]
    _kill_record_writer(run_dir / "claim")
    results = handle.wait(timeout=60, check=False)
    assert not (project.root / f"{shared}.collisions").exists(), "a second job shared the only CPU"
    starts, ends = _times(project.root / f"{shared}.starts"), _times(project.root / f"{shared}.ends")
    assert len(starts) == len(ends) == 2 and starts[1] >= ends[0]
    assert sorted(r.state.value for r in results.values()) == ["completed", "lost"]


def test_the_whole_session_counts_for_a_spawned_unit(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit spawned in its own session stays alive while a process it moved to another
    process group of that session runs, even once its own group is gone."""
    monkeypatch.setenv("JOBLEDGER_NO_LAUNCHER", "1")
    inner = (
        "import os, time; os.setpgid(0, 0); open('inner.pgid', 'w').write(str(os.getpgid(0))); "
        "time.sleep(2); open('inner.done', 'w').write(repr(time.time()))"
    )
    handle = jl.run(jl.Job(name="session", command=f'python3 -c "{inner}" & wait'))
    deadline = time.time() + 30
    while not (Path("inner.pgid").exists() and Path("inner.pgid").read_text()):
        assert time.time() < deadline
        time.sleep(0.02)
    (run_dir,) = project.jobs_dir.glob("session-*")
    wrapper = int((run_dir / "claim").read_text().split()[0])
    assert int(Path("inner.pgid").read_text()) != wrapper
    os.killpg(wrapper, signal.SIGKILL)  # the wrapper's whole group; the inner group runs on
    res = handle.wait(timeout=60, check=False)["session"]
    assert res.state is jl.JobState.LOST and res.exit_code is None
    (row,) = _status(project).values()
    assert row["ended"] >= float(Path("inner.done").read_text())


VICTIM = textwrap.dedent(
    """
    import sys
    import jobledger as jl

    def job(name):
        return jl.Job(name=name, command="echo $$ > " + name + ".started; sleep 30",
                      retries=2, retry_on=["failed", "cancelled", "lost"])

    if __name__ == "__main__":
        jl.run(job(sys.argv[1]), wait=True, timeout=120, check=False)
    """
)


@pytest.mark.parametrize("how", ["cli", "stop"])
def test_cancel_from_another_process_sticks_whatever_the_retry_policy(
    project: Project, start_mode: str, how: str
) -> None:
    Path("victim.py").write_text(VICTIM)
    env = env_with_src()
    if start_mode == "spawn":
        env["JOBLEDGER_NO_LAUNCHER"] = "1"
    rnd = random.Random(f"{start_mode}-{how}")
    for trial in range(4):
        name = f"victim{trial}"
        proc = subprocess.Popen([sys.executable, "victim.py", name], env=env)
        deadline = time.time() + 60
        while not Path(f"{name}.started").exists():
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.02)
        time.sleep(rnd.uniform(0.0, 0.5))  # at any phase of the driver's cycle
        if how == "cli":
            out = run_cli(project.root, "cancel", name, "--grace", "5")
        else:
            # the same job defined in a second script
            code = f"import jobledger as jl, victim; print(jl.stop(victim.job({name!r}), grace=5))"
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
            )
        assert out.returncode == 0, out.stderr
        assert proc.wait(timeout=60) == 0
        row = _status(project)[name]
        assert row["state"] == "cancelled", row
        assert len(row["attempts"]) == 1, f"trial {trial}: retried after a cancel: {row['attempts']}"
        assert "cancel" in row["reason"], row["reason"]
    assert run_cli(project.root, "verify").returncode == 0


QUEUED = textwrap.dedent(
    """
    import jobledger as jl

    hog = jl.Job(name="hog", command="touch hog.started; sleep 3")
    later = jl.Job(name="later", command="touch later.ran", retries=2, retry_on=["cancelled", "failed"])
    if __name__ == "__main__":
        jl.run(jl.Workflow([hog, later], name="queued"), wait=True, timeout=120, max_parallel=1, check=False)
    """
)


def test_cancel_of_a_unit_queued_in_the_driver_keeps_it_from_ever_running(
    project: Project, start_mode: str
) -> None:
    """The canceller cannot know whether the driver is starting the unit: it takes the
    unit's claim first, so the wrapper (handed ahead, or started later) never runs it."""
    Path("queued.py").write_text(QUEUED)
    env = env_with_src()
    if start_mode == "spawn":
        env["JOBLEDGER_NO_LAUNCHER"] = "1"
    proc = subprocess.Popen([sys.executable, "queued.py"], env=env)
    deadline = time.time() + 60
    while not Path("hog.started").exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.02)
    out = run_cli(project.root, "cancel", "later")
    assert out.returncode == 0, out.stderr
    assert proc.wait(timeout=60) == 0
    rows = _status(project)
    assert rows["hog"]["state"] == "completed"
    assert rows["later"]["state"] == "cancelled" and len(rows["later"]["attempts"]) == 1, rows["later"]
    assert not Path("later.ran").exists(), "a cancelled job ran"
    assert run_cli(project.root, "verify").returncode == 0
