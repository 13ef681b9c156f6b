"""Engine + local backend: run, observe, reuse, resume after crashes, stop, bad inputs."""

from __future__ import annotations

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
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project


def _cli(
    project: Project, *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_cli(project.root, *args, timeout=timeout, check=check)


def _status(project: Project) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(_cli(project, "status", "--json").stdout)


def _spawned(project: Project) -> int:
    return sum(
        1 for e in project.ledger.iter_events() if e.type == "intent" and e.data.get("action") == "submit"
    )


# ---------------------------------------------------------------- basics
def test_states_dependencies_and_outputs(project: Project) -> None:
    a = jl.Job(name="a", command="echo A")
    bad = jl.Job(name="bad", command="echo oops >&2; exit 3", after=[a])
    ok_dep = jl.Job(name="ok_dep", command="echo never", after=[bad])
    any_dep = jl.Job(name="any_dep", command="echo ran", after=[jl.Dependency(bad, "afterany")])
    results = jl.run(jl.Workflow([ok_dep, any_dep], name="deps"), wait=True, check=False, timeout=60)
    assert results["a"].state is jl.JobState.COMPLETED and results["a"].stdout == "A"
    assert results["bad"].state is jl.JobState.FAILED and results["bad"].exit_code == 3
    assert results["bad"].stderr == "oops"
    assert results["ok_dep"].state is jl.JobState.DEPENDENCY_FAILED
    assert "bad" in results["ok_dep"].reason
    assert results["any_dep"].state is jl.JobState.COMPLETED
    assert not (project.root / results["ok_dep"].run_dir / "claim").exists()
    rows = {r["name"]: r for r in _status(project)}
    assert rows["bad"]["exit_code"] == 3 and rows["ok_dep"]["state"] == "dependency_failed"
    for field in ("name", "key", "state", "host", "scheduler_id", "exit_code", "reused"):
        assert field in rows["a"]


def test_rerun_reuses_and_edit_reruns_downstream(project: Project) -> None:
    def make(b_text: str) -> jl.Workflow:
        a = jl.Job(name="a", command="echo a >> runs.txt")
        b = jl.Job(name="b", command=f"echo {b_text} >> runs.txt", after=[a])
        c = jl.Job(name="c", command="echo c >> runs.txt", after=[b])
        d = jl.Job(name="d", command="echo d >> runs.txt", after=[a])
        return jl.Workflow([c, d], name="edit")

    jl.run(make("b"), wait=True, check=False, timeout=60)
    assert sorted(Path("runs.txt").read_text().split()) == ["a", "b", "c", "d"]
    before = _spawned(project)
    handle = jl.run(make("b"))
    handle.wait(timeout=60)
    assert _spawned(project) == before  # nothing spawned
    assert sorted(handle.reused) == ["a", "b", "c", "d"]
    assert all(r["reused"] for r in _status(project))
    jl.run(make("B"), wait=True, check=False, timeout=60)  # edit b: b and c run again, a and d do not
    assert Path("runs.txt").read_text().split()[4:] == ["B", "c"]
    jl.run(make("B"), wait=True, check=False, timeout=60, force=True)
    assert len(Path("runs.txt").read_text().split()) == 10


def test_python_function_results_and_exceptions(project: Project) -> None:
    def square(x: int) -> int:
        print("squaring", x)
        return x * x

    def boom() -> None:
        raise ValueError("no good value")

    sq = jl.Job(name="sq", command=square, args=(7,))
    bad = jl.Job(name="boom", command=boom)
    res = jl.run(jl.Workflow([sq, bad], name="py"), wait=True, check=False, timeout=60)
    assert res["sq"].value == 49 and res["sq"].stdout == "squaring 7"
    assert res["boom"].state is jl.JobState.FAILED
    assert res["boom"].error is not None and res["boom"].error["type"] == "ValueError"
    assert "no good value" in res["boom"].reason
    assert "Traceback" in res["boom"].stderr
    rows = {r["name"]: r for r in _status(project)}
    assert "ValueError: no good value" in rows["boom"]["reason"]


def test_array_with_throttle_and_index_variables(project: Project) -> None:
    job = jl.Job(
        name="arr",
        command='echo "$JOBLEDGER_ARRAY_INDEX $SLURM_ARRAY_TASK_ID"; date +%s.%N >> starts; sleep 0.3; date +%s.%N >> ends',
        array="0-5%2",
    )
    res = jl.run(job, wait=True, check=False, timeout=60)["arr"]
    assert res.state is jl.JobState.COMPLETED
    assert [e.stdout for e in res.elements] == [f"{i} {i}" for i in range(6)]
    starts = sorted(float(x) for x in Path("starts").read_text().split())
    ends = sorted(float(x) for x in Path("ends").read_text().split())
    for t in starts:  # never more than 2 running at once
        assert sum(1 for s in starts if s <= t) - sum(1 for e in ends if e <= t) <= 2


def test_failing_array_index_is_reported(project: Project) -> None:
    job = jl.Job(name="arr", command='[ "$JOBLEDGER_ARRAY_INDEX" != 2 ]', array=4)
    res = jl.run(job, wait=True, check=False, timeout=60)["arr"]
    assert res.state is jl.JobState.FAILED
    assert [e.index for e in res.elements if e.state is jl.JobState.FAILED] == [2]
    row = _status(project)[0]
    assert row["attempts"][0]["failed_indices"] == [2]


def test_concurrency_bounded_by_cpus(project: Project) -> None:
    jobs = [
        jl.Job(name=f"j{i}", command="date +%s.%N >> starts; sleep 0.4; date +%s.%N >> ends", cpus=2)
        for i in range(4)
    ]
    jl.run(jobs, wait=True, check=False, timeout=60, max_parallel=4)
    starts = sorted(float(x) for x in Path("starts").read_text().split())
    ends = sorted(float(x) for x in Path("ends").read_text().split())
    for t in starts:
        assert sum(1 for s in starts if s <= t) - sum(1 for e in ends if e <= t) <= 2


# ---------------------------------------------------------------- stop
def test_stop_kills_the_whole_process_group(project: Project) -> None:
    job = jl.Job(name="sleeper", command="sleep 300 & echo $! > child.pid; wait")
    handle = jl.run(job)
    deadline = time.time() + 20
    while not Path("child.pid").exists() or not Path("child.pid").read_text().strip():
        assert time.time() < deadline
        time.sleep(0.05)
    child = int(Path("child.pid").read_text())
    os.kill(child, 0)
    assert jl.stop(handle, grace=2) == ["sleeper"]
    assert jl.check(handle)["sleeper"] is jl.JobState.CANCELLED
    deadline = time.time() + 10
    while _alive(child):
        assert time.time() < deadline, "the child sleeper survived stop()"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------- bad inputs
def test_command_not_found_records_127(project: Project) -> None:
    res = jl.run(
        jl.Job(name="nope", command=["definitely-not-a-command-xyz"]), wait=True, check=False, timeout=60
    )["nope"]
    assert res.state is jl.JobState.FAILED and res.exit_code == 127
    assert "not found" in res.stderr
    assert _status(project)[0]["exit_code"] == 127


def test_nonexistent_workdir_is_rejected_before_anything_is_recorded(project: Project) -> None:
    with pytest.raises(jl.ModelError, match=r"working directory .*/nope does not exist"):
        jl.run(jl.Job(name="w", command="true", workdir="/nope"))
    assert list(project.ledger.state.workflows()) == []


_LOCK = __import__("threading").Lock()


def test_unpicklable_callable_is_a_clear_error(project: Project) -> None:
    import threading

    lock = threading.Lock()

    def closes_over_lock(x: object = lock) -> None:
        pass

    with pytest.raises(jl.HashingError, match="job 'u'"):
        jl.run(jl.Job(name="u", command=closes_over_lock))

    def uses_global_lock() -> None:
        with _LOCK:
            pass

    with pytest.raises(jl.ModelError, match=r"job 'g'.*cannot be pickled"):
        jl.run(jl.Job(name="g", command=uses_global_lock))
    assert list(project.ledger.state.workflows()) == []


def test_unknown_dependency_and_host(project: Project) -> None:
    with pytest.raises(jl.UnknownDependencyError):
        jl.run(jl.Job(name="x", command="true", after=["ghost"]))
    with pytest.raises(jl.ConfigError, match="unknown host alias 'marsbase'"):
        jl.run(jl.Job(name="x", command="true", host="marsbase"))
    assert list(project.ledger.state.workflows()) == []


def test_second_driver_gets_a_clear_error(project: Project) -> None:
    script = textwrap.dedent(
        """
        import jobledger as jl, sys
        wf = jl.Workflow([jl.Job(name="slow", command="sleep 3")], name="locked")
        try:
            jl.run(wf, wait=True, check=False)
        except jl.LockError as exc:
            print("LOCKED:", exc); sys.exit(7)
        """
    )
    Path("drv.py").write_text(script)
    first = subprocess.Popen([sys.executable, "drv.py"], env=env_with_src())
    time.sleep(1.0)
    second = subprocess.run(
        [sys.executable, "drv.py"], env=env_with_src(), capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 7
    assert "is being driven by pid" in second.stdout and str(first.pid) in second.stdout
    assert first.wait(timeout=60) == 0
    assert verify_ledger(project.ledger_dir).ok


def test_injection_is_inert(project: Project) -> None:
    name = 'it\'s $(touch pwned) "quoted" job'  # a newline in a name is refused (test_bad_inputs)
    arg = 'a\'b "c" $(touch pwned) `touch pwned` ;touch pwned\nline2'
    res = jl.run(jl.Job(name=name, command=["printf", "%s", arg]), wait=True, check=False, timeout=60)[name]
    assert res.state is jl.JobState.COMPLETED
    assert res.read_stdout() == arg
    assert not list(project.root.rglob("pwned")) and not Path("/tmp/pwned").exists()


# ---------------------------------------------------------------- crash and resume
CRASH_SCRIPT = textwrap.dedent(
    """
    import jobledger as jl
    jobs = {}
    for i in range(30):
        deps = [jobs[f"j{k}"] for k in (i - 1, i - 3) if k >= 0 and i % 4 != 0]
        jobs[f"j{i}"] = jl.Job(name=f"j{i}", command=f"echo j{i} >> shared.txt; sleep 1", after=deps)
    jl.run(jl.Workflow(list(jobs.values()), name="crash"), wait=True, check=False)
    """
)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(project: Project) -> None:
    Path("crash.py").write_text(CRASH_SCRIPT)
    rnd = random.Random(1234)
    plans = ["after-intent:1", "after-spawn:1", "after-intent:2", "after-spawn:3", "after-intent:4"]
    kills = 0
    round_number = 0
    while kills < 22 and round_number < 60:
        env = env_with_src()
        if round_number < len(plans):
            env["JOBLEDGER_FAULT"] = plans[round_number]
        proc = subprocess.Popen(
            [sys.executable, "crash.py"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if round_number >= len(plans):
            time.sleep(rnd.uniform(0.05, 0.5))
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=120)
        kills += code == -signal.SIGKILL
        if code == 0:
            break
        if round_number % 3 == 2:
            _cli(project, "status", "--json")
        round_number += 1
    assert kills >= 20
    resumed = _cli(project, "resume", check=False, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    lines = Path("shared.txt").read_text().split()
    assert sorted(lines) == sorted(f"j{i}" for i in range(30)), f"duplicates or missing: {sorted(lines)}"
    assert _cli(project, "verify").returncode == 0
    assert all(r["state"] == "completed" for r in _status(project))


def test_resume_picks_up_jobs_that_kept_running(project: Project) -> None:
    Path("long.py").write_text(
        "import jobledger as jl\n"
        "a = jl.Job(name='a', command='sleep 1.5; echo a >> out.txt')\n"
        "b = jl.Job(name='b', command='echo b >> out.txt', after=[a])\n"
        "jl.run(jl.Workflow([b], name='long'), wait=True, check=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "long.py"], env=env_with_src())
    deadline = time.time() + 20
    while not list(project.jobs_dir.glob("a-*/claim")):
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = _cli(project, "resume", timeout=120)
    assert out.returncode == 0, out.stderr
    assert Path("out.txt").read_text().split() == ["a", "b"]
    intents = _spawned(project)
    assert intents == 2


def _big_array(size: int) -> object:
    import numpy as np

    return np.arange(size // 8, dtype=np.int64)


def test_large_return_value_stored_once_and_fetched_intact(project: Project) -> None:
    import hashlib

    import numpy as np

    size = 100 * 1024 * 1024
    job = jl.Job(name="big", command=_big_array, args=(size,))
    res = jl.run(job, wait=True, check=False, timeout=180)["big"]
    assert res.state is jl.JobState.COMPLETED
    pickles = list(project.jobs_dir.rglob("result.pkl"))
    assert len(pickles) == 1 and pickles[0].stat().st_size >= size  # stored once, in the run dir
    value = jl.fetch(res)["big"].value
    assert isinstance(value, np.ndarray) and value.nbytes == size
    assert np.array_equal(value, np.arange(size // 8, dtype=np.int64))
    # the ledger holds the digest, not the bytes
    (event,) = [e for e in project.ledger.iter_events() if e.type == "result"]
    digest = hashlib.blake2b(pickles[0].read_bytes(), digest_size=16).hexdigest()
    assert event.data["value"] == digest and event.data["size"] == pickles[0].stat().st_size
    assert sum(p.stat().st_size for p in project.ledger_dir.glob("*.seg")) < 1_000_000
