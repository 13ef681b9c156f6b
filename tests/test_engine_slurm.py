"""The engine on a real SLURM cluster (make slurm-up): arrays, native dependencies,
timeouts, cancellation, crash + resume without double submission, controller restarts,
one squeue per poll cycle, rejections, final states with and without accounting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.project import Project
from jobledger.session import session_for
from services import require, slurm_accounting, slurm_available

pytestmark = pytest.mark.slurm

CONFIG = '[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 0.5\n'


@pytest.fixture
def slurm_project(project: Project) -> Project:
    require(slurm_available(), "SLURM (make slurm-up)")
    (project.root / "jobledger.toml").write_text(CONFIG)
    return project


def _sq(*args: str) -> str:
    return subprocess.run(["squeue", "-h", *args], capture_output=True, text=True, check=False).stdout


def _cli(project: Project, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_cli(project.root, *args, timeout=timeout)


def _submissions(project: Project) -> dict[str, list[str]]:
    """scheduler ids recorded per job key (one entry per successful sbatch)."""
    out: dict[str, list[str]] = {}
    for event in project.ledger.iter_events():
        if event.type == "submitted" and not event.data.get("reconciled"):
            out.setdefault(event.data["key"], []).append(event.data["scheduler_id"])
    return out


def test_pi_array_and_merge(slurm_project: Project) -> None:
    estimate = jl.Job(
        name="estimate",
        command='echo "block $JOBLEDGER_ARRAY_INDEX"; exit 0',
        array=10,
        host="slurm",
        cpus=1,
        memory="64M",
        time="5:00",
    )
    merge = jl.Job(
        name="merge", command="cat jobs/estimate-*/*/stdout | wc -l", after=[estimate], host="slurm"
    )
    handle = jl.run(jl.Workflow([merge], name="pi"))
    # the whole DAG is queued at once: merge waits in SLURM on a native dependency
    events = [e for e in slurm_project.ledger.iter_events() if e.type == "intent"]
    assert len(events) == 2 and events[1].data["native_deps"]
    results = handle.wait(timeout=120, check=False)
    est = results["estimate"]
    assert est.state is jl.JobState.COMPLETED
    assert [(e.index, e.exit_code) for e in est.elements] == [(i, 0) for i in range(10)]
    assert [e.stdout for e in est.elements] == [f"block {i}" for i in range(10)]
    assert results["merge"].stdout == "10"
    assert len(_submissions(slurm_project)) == 2  # one sbatch for the whole array


def test_failed_upstream_dependents_never_run(slurm_project: Project) -> None:
    bad = jl.Job(name="bad", command="echo broken >&2; exit 3", host="slurm")
    child = jl.Job(name="child", command="touch child-ran", after=[bad], host="slurm")
    grandchild = jl.Job(name="grandchild", command="touch grandchild-ran", after=[child], host="slurm")
    res = jl.run(jl.Workflow([grandchild], name="deps"), wait=True, check=False, timeout=120)
    assert res["bad"].state is jl.JobState.FAILED and res["bad"].exit_code == 3
    assert res["bad"].stderr == "broken"
    assert res["child"].state is jl.JobState.DEPENDENCY_FAILED
    assert res["grandchild"].state is jl.JobState.DEPENDENCY_FAILED
    assert not Path("child-ran").exists() and not Path("grandchild-ran").exists()


def test_external_scancel_is_recorded_cancelled(slurm_project: Project) -> None:
    """(A job over its time limit ending ``timeout`` is covered, with a retry that
    escalates the limit, by tests/test_retries.py::test_slurm_timeout_then_escalated_time_succeeds.)"""
    victim = jl.Job(name="victim", command="sleep 300", host="slurm")
    handle = jl.run(jl.Workflow([victim], name="limits"))
    deadline = time.time() + 60
    sid = None
    while sid is None:
        info = next(j for j in slurm_project.ledger.state.jobs("limits") if j.name == "victim")
        sid = info.current.scheduler_id if info.current else None
        assert time.time() < deadline
        time.sleep(0.2)
    while "RUNNING" not in _sq("-j", sid, "-o", "%T"):
        assert time.time() < deadline
        time.sleep(0.2)
    subprocess.run(["scancel", sid], check=True)
    res = handle.wait(timeout=120, check=False)
    assert res["victim"].state is jl.JobState.CANCELLED
    rows = {r["name"]: r for r in json.loads(_cli(slurm_project, "status", "--json").stdout)}
    assert rows["victim"]["state"] == "cancelled"


def test_rejected_submission_names_the_partition(slurm_project: Project) -> None:
    job = jl.Job(name="misplaced", command="true", host="slurm", partition="no-such-partition")
    res = jl.run(job, wait=True, check=False, timeout=60)["misplaced"]
    assert res.state is jl.JobState.FAILED
    assert "no-such-partition" in res.reason or "invalid partition" in res.reason.lower()
    assert "misplaced" in res.reason


CRASH = textwrap.dedent(
    """
    import jobledger as jl, sys
    p = sys.argv[1]
    jobs = [jl.Job(name=f"{p}s{i}", command=f"echo s{i} >> ran.txt; sleep 1", host="slurm") for i in range(6)]
    tail = jl.Job(name=f"{p}tail", command="echo tail >> ran.txt", after=jobs, host="slurm")
    jl.run(jl.Workflow([tail], name="crash"), wait=True, check=False)
    """
)


@pytest.mark.parametrize("fault", ["after-intent:3", "before-outcome:2", "after-submit:4"])
def test_driver_killed_around_sbatch_then_resumed(slurm_project: Project, fault: str) -> None:
    Path("crash.py").write_text(CRASH)
    env = env_with_src()
    env["JOBLEDGER_FAULT"] = fault
    prefix = f"c{os.getpid()}{fault.replace(':', '').replace('-', '')}"
    proc = subprocess.run([sys.executable, "crash.py", prefix], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    out = _cli(slurm_project, "resume")
    assert out.returncode == 0, out.stderr
    lines = Path("ran.txt").read_text().split()
    assert sorted(lines) == sorted([f"s{i}" for i in range(6)] + ["tail"])
    slurm_project.ledger.refresh()
    # the cluster saw exactly one job per key (the six same-shape ones as elements of one
    # array): SLURM's own records of the jobs that start in this project, one line each
    root = str(slurm_project.root)
    mine = [
        line
        for line in _sq("-t", "all", "--array", "-o", "%i|%k|%Z").splitlines()
        if line.rpartition("|")[2] == root or line.rpartition("|")[2].startswith(root + "/")
    ]
    assert len(mine) == 7, f"7 jobs submitted as {len(mine)}: {mine}"


def test_exit_codes_after_jobs_vanished_from_squeue(slurm_project: Project) -> None:
    """No accounting: jobs leave squeue after MinJobAge; the exit files still tell."""
    Path("vanish.py").write_text(
        "import jobledger as jl\n"
        "jobs = [jl.Job(name='ok', command='true', host='slurm'), jl.Job(name='three', command='exit 3', host='slurm')]\n"
        "jl.run(jl.Workflow(jobs, name='vanish'))\n"
    )
    env = env_with_src()
    subprocess.run([sys.executable, "vanish.py"], env=env, check=True, timeout=60)
    ids = [
        e.data["scheduler_id"]
        for e in Project(slurm_project.root).ledger.iter_events()
        if e.type == "submitted"
    ]
    min_age = int(
        subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
        .stdout.split("MinJobAge")[1]
        .split("=")[1]
        .split()[0]
    )
    deadline = time.time() + min_age + 60
    while _sq("-t", "all", "-j", ",".join(ids)).strip():
        assert time.time() < deadline, "jobs did not leave squeue"
        time.sleep(1)
    out = _cli(slurm_project, "wait", "--timeout", "60")
    rows = {r["name"]: r for r in json.loads(_cli(slurm_project, "status", "--json").stdout)}
    assert rows["ok"]["state"] == "completed" and rows["ok"]["exit_code"] == 0
    assert rows["three"]["state"] == "failed" and rows["three"]["exit_code"] == 3
    assert out.returncode == 1


@pytest.mark.slurmdbd
def test_final_state_from_sacct_when_run_dir_is_not_visible(slurm_project: Project) -> None:
    require(
        None if slurm_accounting() else "sacct does not answer (no slurmdbd)",
        "SLURM accounting (make slurm-up SLURM_ACCOUNTING=slurmdbd)",
    )
    Path("acct.py").write_text(
        "import jobledger as jl\n"
        "jl.run(jl.Workflow([jl.Job(name='seven', command='exit 7', host='slurm')], name='acct'))\n"
    )
    subprocess.run([sys.executable, "acct.py"], env=env_with_src(), check=True, timeout=60)
    sid = next(
        e.data["scheduler_id"]
        for e in Project(slurm_project.root).ledger.iter_events()
        if e.type == "submitted"
    )
    deadline = time.time() + 120
    while _sq("-t", "all", "-j", sid).strip() or not list(slurm_project.jobs_dir.glob("seven-*/exit")):
        assert time.time() < deadline
        time.sleep(1)
    for path in slurm_project.jobs_dir.glob("seven-*/exit"):
        path.unlink()  # as if the run directory lived on a file system we cannot see
    _cli(slurm_project, "wait", "--timeout", "60")
    rows = {r["name"]: r for r in json.loads(_cli(slurm_project, "status", "--json").stdout)}
    assert rows["seven"]["state"] == "failed" and rows["seven"]["exit_code"] == 7


def test_one_squeue_per_poll_with_200_jobs(slurm_project: Project) -> None:
    jobs = [jl.Job(name=f"w{i}", command="sleep 2", host="slurm", cpus=1) for i in range(200)]
    handle = jl.run(jl.Workflow(jobs, name="wide"))
    session = session_for(slurm_project)
    session.stop_background()
    backend = session.driver.backend("slurm")
    before = backend.client.status_calls  # type: ignore[attr-defined]
    cycles = 0
    deadline = time.monotonic() + 300
    while not session.step(["wide"]).final["wide"] and time.monotonic() < deadline:
        cycles += 1
        session.driver.wait_for_change(0.5)
    cycles += 1
    calls = backend.client.status_calls - before  # type: ignore[attr-defined]
    assert all(r.state is jl.JobState.COMPLETED for r in handle.fetch().values())
    assert 0 < calls <= cycles, f"{calls} squeue calls in {cycles} cycles"
    polls = [calls]
    print(f"200 jobs: {calls} squeue calls over {cycles} engine cycles")
    assert polls


@pytest.mark.slow
def test_slurmctld_restart_while_running(slurm_project: Project) -> None:
    first = jl.Job(name="first", command="sleep 3; echo first >> order.txt", host="slurm")
    second = jl.Job(name="second", command="echo second >> order.txt", after=[first], host="slurm")
    third = jl.Job(name="third", command="echo third >> order.txt", after=[second], host="local")
    handle = jl.run(jl.Workflow([third], name="restart"))
    time.sleep(1)
    pid = int(Path("/var/tmp/jobledger-slurm/run/slurmctld.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 30
    while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        assert time.time() < deadline
        time.sleep(0.2)
    time.sleep(2)
    subprocess.run(
        ["bash", str(Path(__file__).resolve().parents[1] / "infra" / "slurm-up.sh")],
        check=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "SLURM_MIN_JOB_AGE": os.environ.get("TEST_SLURM_MIN_JOB_AGE", "10")},
    )
    res = handle.wait(timeout=180, check=False)
    assert [r.state for r in res.values()] == [jl.JobState.COMPLETED] * 3
    assert Path("order.txt").read_text().split() == ["first", "second", "third"]
