"""Failure policy: retries with backoff, escalation, attempts in the ledger, resume-safe."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src
from jobledger.model.retry import RetryPolicy
from jobledger.project import Project
from services import require, slurm_available

FLAKY = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "try $n"; [ $n -ge 3 ]'


def _status(project: Project) -> list[dict]:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-m", "jobledger.cli.main", "status", "--json"], cwd=project.root,
                         capture_output=True, text=True, env=env_with_src(), check=True)  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_fails_twice_then_succeeds(project: Project) -> None:
    job = jl.Job(name="flaky", command=FLAKY, retries=3, retry_on={"failed"})
    res = jl.run(job, wait=True, check=False, timeout=60)["flaky"]
    assert res.state is jl.JobState.COMPLETED and res.attempts == 3
    assert Path("count").read_text().strip() == "3"
    (row,) = _status(project)
    assert [a["state"] for a in row["attempts"]] == ["failed", "failed", "completed"]
    assert row["attempts"][1]["retry_reason"] == "attempt 1 ended failed"
    assert [a["run_dir"].rsplit("/", 1)[-1] for a in row["attempts"]][1:] == ["attempt-2", "attempt-3"]
    # the key did not change across attempts: a re-run reuses the successful attempt
    again = jl.run(job, wait=True, check=False, timeout=60)["flaky"]
    assert again.reused and Path("count").read_text().strip() == "3"


def test_no_retries_by_default(project: Project) -> None:
    job = jl.Job(name="once", command=FLAKY)
    assert job.retry == RetryPolicy()
    res = jl.run(job, wait=True, check=False, timeout=60)["once"]
    assert res.state is jl.JobState.FAILED and res.attempts == 1
    assert Path("count").read_text().strip() == "1"


def test_retry_on_does_not_cover_plain_failures_by_default(project: Project) -> None:
    job = jl.Job(name="default-policy", command=FLAKY, retries=3)
    res = jl.run(job, wait=True, check=False, timeout=60)["default-policy"]
    assert res.state is jl.JobState.FAILED and res.attempts == 1


def test_backoff_and_escalation_per_attempt(project: Project) -> None:
    job = jl.Job(name="grow", command=FLAKY, retries=2, retry_on={"failed"}, backoff=(0.2, 2, 1),
                 escalate={"memory": 2.0}, memory="1G", time=lambda attempt: 60 * attempt)  # fmt: skip
    res = jl.run(job, wait=True, check=False, timeout=60)["grow"]
    assert res.state is jl.JobState.COMPLETED
    (row,) = _status(project)
    asked = [(a["resources"]["memory"], a["resources"]["time"]) for a in row["attempts"]]
    assert asked == [(1024, 60), (2048, 120), (4096, 180)]
    gaps = [row["attempts"][i + 1]["submitted"] - row["attempts"][i]["ended"] for i in range(2)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4


def test_escalation_capped_by_host_limits(project: Project) -> None:
    (project.root / "jobledger.toml").write_text('[hosts.local]\nlimits = { memory = "3G" }\n')
    job = jl.Job(
        name="capped", command=FLAKY, retries=2, retry_on={"failed"}, escalate={"memory": 2.0}, memory="1G"
    )
    jl.run(job, wait=True, check=False, timeout=60)
    (row,) = _status(project)
    assert [a["resources"]["memory"] for a in row["attempts"]] == [1024, 2048, 3072]


def test_policy_from_defaults(project: Project) -> None:
    (project.root / "jobledger.toml").write_text('[defaults]\nretries = 3\nretry_on = ["failed"]\n')
    res = jl.run(jl.Job(name="from-defaults", command=FLAKY), wait=True, check=False, timeout=60)[
        "from-defaults"
    ]
    assert res.state is jl.JobState.COMPLETED and res.attempts == 3


def test_give_up_then_dependents_fail_and_manual_retry(project: Project) -> None:
    job = jl.Job(name="stubborn", command=FLAKY, retries=1, retry_on={"failed"})
    child = jl.Job(name="child", command="echo child", after=[job])
    res = jl.run(jl.Workflow([child], name="give-up"), wait=True, check=False, timeout=60)
    assert res["stubborn"].state is jl.JobState.FAILED and res["stubborn"].attempts == 2
    assert res["child"].state is jl.JobState.DEPENDENCY_FAILED
    out = subprocess.run([sys.executable, "-m", "jobledger.cli.main", "retry", "stubborn"], cwd=project.root,
                         capture_output=True, text=True, env=env_with_src(), timeout=120)  # fmt: skip
    assert "attempt 3 recorded" in out.stdout
    rows = {r["name"]: r for r in _status(project)}
    assert rows["stubborn"]["state"] == "completed"
    assert rows["stubborn"]["attempts"][-1]["manual"] is True


RESUME = textwrap.dedent(
    """
    import jobledger as jl
    job = jl.Job(name="crashy", command='echo run >> runs.txt; [ $(wc -l < runs.txt) -ge 2 ]',
                 retries=2, retry_on={"failed"})
    jl.run(job, wait=True, check=False)
    """
)


def test_driver_killed_between_failure_and_retry(project: Project) -> None:
    Path("crashy.py").write_text(RESUME)
    env = env_with_src()
    env["JOBLEDGER_FAULT"] = "after-retry:1"
    proc = subprocess.run([sys.executable, "crashy.py"], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    out = subprocess.run([sys.executable, "-m", "jobledger.cli.main", "resume"], cwd=project.root,
                         capture_output=True, text=True, env=env_with_src(), timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert Path("runs.txt").read_text().split() == ["run", "run"]
    attempt2 = [e for e in Project(project.root).ledger.iter_events()
                if e.type == "intent" and e.data.get("attempt") == 2 and e.data.get("action") == "submit"]  # fmt: skip
    assert len(attempt2) == 1


@pytest.mark.slurm
@pytest.mark.slow
def test_slurm_timeout_then_escalated_time_succeeds(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    (project.root / "jobledger.toml").write_text('[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 1.0\n')
    # the first attempt outlives its minute (SLURM's smallest limit); the second need not
    line = "if [ -e tried ]; then echo finished; else touch tried; sleep 100; fi"
    job = jl.Job(name="long", command=line, host="slurm", time="1:00",
                 retries=1, retry_on={"timeout"}, escalate={"time": 2})  # fmt: skip
    res = jl.run(job, wait=True, check=False, timeout=400)["long"]
    assert res.state is jl.JobState.COMPLETED and res.attempts == 2
    (row,) = _status(project)
    assert [a["state"] for a in row["attempts"]] == ["timeout", "completed"]
    assert [a["resources"]["time"] for a in row["attempts"]] == [60, 120]


@pytest.mark.slurm
def test_slurm_requeue_and_external_scancel(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    (project.root / "jobledger.toml").write_text('[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 0.5\n')
    requeued = jl.Job(
        name="requeued", command='echo "run $SLURM_RESTART_COUNT" >> requeue.log; sleep 6', host="slurm"
    )
    victim = jl.Job(
        name="victim",
        command="echo go >> victim.log; sleep 4",
        host="slurm",
        retries=1,
        retry_on={"cancelled"},
        time="10:00",  # another shape than `requeued`: two jobs of their own, not one array
    )
    handle = jl.run(jl.Workflow([requeued, victim], name="outside"))
    import time

    deadline = time.time() + 60
    ids: dict[str, str] = {}
    while len(ids) < 2 or not (Path("requeue.log").exists() and Path("victim.log").exists()):
        assert time.time() < deadline
        for info in Project(project.root).ledger.state.jobs("outside"):
            if info.current and info.current.scheduler_id:
                ids[info.name] = info.current.scheduler_id
        time.sleep(0.2)
    subprocess.run(["scontrol", "requeue", ids["requeued"]], check=True)
    subprocess.run(["scancel", ids["victim"]], check=True)
    # SLURM holds a requeued job back (BeginTime) for a while; let it go now
    # (an update while the job is still COMPLETING succeeds and changes nothing: repeat it
    # until the job runs again)
    for _ in range(100):
        state = subprocess.run(["squeue", "-h", "-j", ids["requeued"], "-o", "%T"],
                               capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
        if state == "PENDING":
            time.sleep(3)  # a job released the moment it is requeued can fail to start again
            released = subprocess.run(["scontrol", "update", f"jobid={ids['requeued']}", "StartTime=now"],
                                      capture_output=True, check=False)  # fmt: skip
            if released.returncode == 0:
                break
        time.sleep(0.2)
    res = handle.wait(timeout=180, check=False)
    # requeue: SLURM runs the same job again under the same id; one attempt, it completes
    assert res["requeued"].state is jl.JobState.COMPLETED and res["requeued"].attempts == 1
    assert len(Path("requeue.log").read_text().splitlines()) == 2
    # cancelled from outside: the policy (retry_on cancelled) gives it a second attempt
    assert res["victim"].state is jl.JobState.COMPLETED and res["victim"].attempts == 2
