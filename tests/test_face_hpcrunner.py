"""The hpc-runner face: every code block of ``seeds/hpc-runner.rst`` with the import changed.

The blocks run on the local backend in a temporary project. ``python`` is a tiny shell
stand-in put first on PATH, so a 100-element array finishes in about a second; it prints
what it was asked to run (with the array index), fails for ``fail*.py`` and sleeps for
``sleep*.py``. This machine may have ``sbatch``/``qsub`` on PATH, so auto-detection is
pinned with ``HPC_SCHEDULER=local`` except where detection itself is tested.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobledger as jl
from jobledger import (
    ArrayJobResult,
    JobArray,
    JobResult,
    JobStatus,
    Pipeline,
    PipelineError,
    get_config,
    get_scheduler,
    list_schedulers,
    register_scheduler,
    reload_config,
)
from jobledger.api import hpcrunner as hr
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project
from services import require, slurm_available

Job = hr.Job

PYTHON_SHIM = """\
#!/bin/sh
case "$1" in
  *fail*) echo "error in $1" >&2; exit 3 ;;
  *sleep*) sleep 30 ;;
esac
echo "$1 ran${HPC_ARRAY_TASK_ID:+ index $HPC_ARRAY_TASK_ID}"
"""

SCRIPT = """\
import os, sys, time
if "{name}" == "sleep":
    time.sleep(30)
index = os.environ.get("HPC_ARRAY_TASK_ID")
print("{name}.py ran" + (f" index {{index}}" if index else ""))
"""


@pytest.fixture(autouse=True)
def runner(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project as cwd, the ``python`` stand-in on PATH, local scheduling, clean settings."""
    bin_dir = project.root.parent / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python"
    shim.write_text(PYTHON_SHIM)
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    if any(shutil.which(c) for c in ("sbatch", "qsub", "bsub")):
        monkeypatch.setenv("HPC_SCHEDULER", "local")
    monkeypatch.delenv(hr.CONFIG_ENV, raising=False)
    hr.settings.reset()
    yield project
    hr.settings.reset()


def _bare_path(project: Project) -> Path:
    """A PATH directory with a shell and nothing of any batch system."""
    bare = project.root.parent / "bare-bin"
    if not bare.exists():
        bare.mkdir()
        for tool in ("sh", "head", "true"):
            found = shutil.which(tool)
            assert found is not None
            (bare / tool).symlink_to(found)
    return bare


def _submissions(project: Project, key: str) -> int:
    return sum(
        1
        for e in project.ledger.iter_events()
        if e.type == "intent" and e.data.get("action") == "submit" and e.data.get("key") == key
    )


# ================================================================== quick start
def test_quick_start() -> None:
    job = Job(command="python my_script.py", cpu=4, mem="8G", time="1:00:00")
    result = job.submit()  # auto-detect scheduler
    final = result.wait()  # block until complete
    print(final, result.returncode)

    assert final is JobStatus.COMPLETED and result.returncode == 0
    assert isinstance(result, JobResult) and result.to_job().resources.cpus == 4
    assert result.read_stdout() == "my_script.py ran\n"
    assert result.is_complete and result.status is JobStatus.COMPLETED
    assert result.job_id == f"local_{result.key[:12]}" and result.scheduler.name == "local"
    # a JobResult is accepted by the hyrun-style verbs
    assert jl.check(result)[job.name] is jl.JobState.COMPLETED
    assert jl.wait(result)[job.name].exit_code == 0


# ================================================================== creating jobs
def test_creating_jobs_keeps_every_field() -> None:
    job = Job(
        command="python train.py",
        name="training_job",
        cpu=4,
        mem="16G",
        time="4:00:00",
        queue="gpu.q",
        modules=["python/3.11", "cuda/12.0"],
        workdir="/path/to/project",
        stdout="train.out",
        stderr=None,  # None means “merge stderr into stdout” for most schedulers
    )

    r = job.to_job().resources
    assert (r.cpus, r.memory, r.time, r.partition) == (4, 16384, 14400, "gpu.q")
    assert job.to_job().modules == ("python/3.11", "cuda/12.0") and job.workdir == "/path/to/project"
    assert job.stdout == "train.out" and job.stderr is None and job.name == "training_job"


# ================================================================== submitting jobs
def test_submitting_auto_and_explicit(runner: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # the block's job, minus modules and the placeholder workdir this machine lacks
    job = Job(
        command="python fail_train.py",
        name="training_job",
        cpu=4,
        mem="16G",
        time="4:00:00",
        queue="gpu.q",
        stdout="train.out",
        stderr=None,
    )

    result = job.submit()

    assert result.wait() is JobStatus.FAILED and result.returncode == 3
    merged = (runner.root / "train.out").read_text()
    assert merged == "error in fail_train.py\n"  # stderr=None merged into stdout
    assert result.read_stdout() == merged and result.read_stderr() == merged

    from jobledger import get_scheduler

    register_scheduler("sge", "local")  # this test's "sge" is this machine
    scheduler = get_scheduler("sge")
    result = scheduler.submit(job)

    assert result.scheduler.name == "sge" and result.wait() is JobStatus.FAILED

    hr.settings.reset()
    monkeypatch.setenv("PATH", str(_bare_path(runner)))  # no qsub here: "sge" is nowhere
    with pytest.raises(ConfigError, match=r'(?s)scheduler = "sge".*HPC_SCHEDULER=local'):
        get_scheduler("sge").submit(Job("python x.py"))


# ================================================================== monitoring jobs
def test_monitoring_polls_until_complete(capsys: pytest.CaptureFixture[str]) -> None:
    from jobledger import JobStatus

    result = Job("python train.py").submit()

    while not result.is_complete:
        print(result.job_id, result.status)

    if result.status == JobStatus.COMPLETED:
        print("ok:", result.read_stdout(tail=20))
    else:
        print("failed:", result.read_stderr(tail=50))

    assert "ok: train.py ran" in capsys.readouterr().out

    result = Job("python fail.py").submit()
    while not result.is_complete:
        pass
    assert result.status is JobStatus.FAILED
    assert result.read_stderr(tail=50) == "error in fail.py"
    assert result.read_stdout(tail=20) == "error in fail.py"  # stderr=None (default) merges


def test_cancel_running_and_waiting_jobs() -> None:
    result = Job("python sleep.py").submit()
    deadline = time.monotonic() + 10
    while result.status is not JobStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result.status is JobStatus.RUNNING

    result.cancel()

    assert result.wait(timeout=20) is JobStatus.CANCELLED
    assert result.is_complete

    upstream = Job("python sleep_more.py", name="slow").submit()
    waiting = Job("python after.py", name="after_slow")
    waiting.after(upstream)
    downstream = waiting.submit()
    assert downstream.status is JobStatus.PENDING
    assert downstream.cancel()
    assert downstream.status is JobStatus.CANCELLED
    assert upstream.status in (JobStatus.PENDING, JobStatus.RUNNING)  # only the one asked
    upstream.cancel()
    assert upstream.wait(timeout=20) is JobStatus.CANCELLED
    forever = Job("python sleep_forever.py").submit()
    with pytest.raises(TimeoutError):
        forever.wait(timeout=0.3)
    forever.cancel()


# ================================================================== configuration
def test_configuration_driven_jobs(runner: Project) -> None:
    from jobledger.api.hpcrunner import (
        Job,  # the block's import: from hpc_runner import Job, reload_config
        reload_config,
    )

    runner.config_path.write_text(
        textwrap.dedent(
            """\
            [defaults]
            time = "0:10:00"
            modules = []

            [types.gpu]
            gpus = 1
            queue = "gpu.q"
            mem = "16G"
            env = { CUDA_CACHE = "/tmp/cuda" }

            [tools.train]
            cpu = 2
            """
        )
    )
    job = Job.from_config("gpu", command="python train.py", cpu=8)
    r = job.to_job().resources
    assert (r.cpus, r.gpus, r.partition, r.memory, r.time) == (8, 1, "gpu.q", 16384, 600)
    assert job.to_job().env == {"CUDA_CACHE": "/tmp/cuda"} and job.command == "python train.py"
    assert Job.from_config("train", command="python train.py").to_job().resources.cpus == 2
    with pytest.raises(ConfigError, match="known: gpu, train"):
        Job.from_config("tpu", command="python train.py")

    # the block: an explicit hpc-runner file for this process
    (runner.root / "hpc-runner.toml").write_text(
        textwrap.dedent(
            """\
            [defaults]
            cpu = 1
            time = "1:00:00"
            modules = ["gcc"]
            inherit_env = true

            [types.gpu]
            queue = "gpu.q"
            gpus = 2
            extra_modules = ["cuda/12.0"]
            env_vars = { OMP_NUM_THREADS = "8" }

            [tools.python]
            cpu = 2

            [tools.python.options."--big"]
            mem = "64G"
            """
        )
    )
    # Explicitly load a config file for this process (optional)
    reload_config("./hpc-runner.toml")

    job = Job.from_config("gpu", command="python train.py", cpu=8).to_job()
    assert job.resources.gpus == 2 and job.resources.cpus == 8 and job.resources.time == 3600
    assert job.modules == ("gcc", "cuda/12.0") and job.env == {"OMP_NUM_THREADS": "8"}
    assert job.metadata["config_preset"] == "gpu" and job.metadata["inherit_env"] is True
    # drop the modules: this machine has no `module` command
    job = Job.from_config("gpu", command="python train.py", cpu=8, modules=[])
    result = job.submit()
    assert result.wait() is JobStatus.COMPLETED

    tool = get_config().get_tool_config("python train.py --big --lr 0.1")
    assert tool["cpu"] == 2 and tool["mem"] == "64G"
    assert hr.settings.config_path == runner.root / "hpc-runner.toml"

    # job_type= on a plain Job: the preset fills what the job leaves unset
    typed = Job("python train.py", cpu=3, job_type="gpu", modules=[])
    done = typed.submit()
    assert done.to_job().resources.gpus == 2 and done.to_job().resources.cpus == 3
    assert done.to_job().modules == ("gcc", "cuda/12.0")
    reload_config()  # back to jobledger.toml
    assert hr.settings.config_path is None and get_config().types["gpu"]["gpus"] == 1

    (runner.root / "bad.toml").write_text("[defaults]\nflavour = 'vanilla'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: \[defaults\].*'flavour'"):
        reload_config("bad.toml")
    assert hr.settings.config_path is None  # a bad file is not kept


# ================================================================== dependencies
def test_job_dependencies_do_not_resubmit_upstream(runner: Project) -> None:
    r1 = Job("python preprocess.py", name="pre").submit()
    j2 = Job("python train.py", name="train")
    j2.dependencies = [r1]  # programmatic dependency
    j2.dependency_type = "afterok"
    r2 = j2.submit()

    assert r2.wait() is JobStatus.COMPLETED and r1.status is JobStatus.COMPLETED
    assert [d.target.key for d in r2.to_job().depends] == [r1.key]
    assert _submissions(runner, r1.key) == 1 and _submissions(runner, r2.key) == 1

    j3 = Job("python evaluate.py", name="evaluate")
    j3.after(r2, type="afterany")
    r3 = j3.submit()
    assert r3.wait() is JobStatus.COMPLETED and _submissions(runner, r1.key) == 1

    # the same job submitted again with reuse=True is reused by key, not run twice
    again = Job("python preprocess.py", name="pre").submit(reuse=True)
    assert again.key == r1.key and again.wait() is JobStatus.COMPLETED
    assert _submissions(runner, r1.key) == 1
    # submit() means "run this now": the same job submitted again runs again
    rerun = Job("python preprocess.py", name="pre").submit()
    assert rerun.key == r1.key and rerun.wait() is JobStatus.COMPLETED
    assert _submissions(runner, r1.key) == 2 and r2.status is JobStatus.COMPLETED


# ================================================================== pipelines
def test_pipeline_context_manager_submits_once(runner: Project, capsys: pytest.CaptureFixture[str]) -> None:
    from jobledger import Pipeline

    with Pipeline("ml") as p:
        p.add("python preprocess.py", name="preprocess", cpu=8, mem="32G")
        p.add("python train.py", name="train", depends_on=["preprocess"], queue="gpu.q")
        p.add("python evaluate.py", name="evaluate", depends_on=["train"])

    results = p.submit()
    p.wait()

    for step, res in results.items():
        print(step, res.status, res.returncode)

    out = capsys.readouterr().out
    assert out.splitlines() == [
        "preprocess JobStatus.COMPLETED 0",
        "train JobStatus.COMPLETED 0",
        "evaluate JobStatus.COMPLETED 0",
    ]
    assert p.results == results and p.submitted
    assert all(_submissions(runner, r.key) == 1 for r in results.values())
    assert results["train"].job.name == "ml_train"
    assert results["train"].to_job().resources.partition == "gpu.q"
    assert [d.name for d in results["evaluate"].to_job().depends] == ["ml_train"]
    step = p.get_job("train")
    assert step is not None and [d.name for d in step.depends_on] == ["preprocess"]
    assert step.result is results["train"]
    assert p.get_job("nope") is None
    assert results["evaluate"].read_stdout() == "evaluate.py ran\n"
    assert jl.check(p) == {
        "ml_preprocess": jl.JobState.COMPLETED,
        "ml_train": jl.JobState.COMPLETED,
        "ml_evaluate": jl.JobState.COMPLETED,
    }

    failing = Pipeline("broken")
    first = failing.add("python fail.py", name="first")
    failing.add("python never.py", name="second", depends_on=[first])
    failing.add("python anyway.py", name="third", depends_on=["first"])
    with pytest.raises(PipelineError, match="unknown step 'zeroth'"):
        failing.add("python x.py", depends_on=["zeroth"])
    with pytest.raises(PipelineError, match="already has a step named 'first'"):
        failing.add("python x.py", name="first")
    out_of_order = failing.submit(dependency_type="afterany")
    assert failing.wait() == {
        "first": JobStatus.FAILED,
        "second": JobStatus.COMPLETED,
        "third": JobStatus.COMPLETED,
    }
    assert out_of_order["second"].to_job().depends[0].kind == "afterany"

    with pytest.raises(RuntimeError), Pipeline("aborted") as aborted:
        aborted.add("python x.py", name="x")
        raise RuntimeError("stop")
    assert not aborted.submitted  # an exception in the block submits nothing


# ================================================================== arrays
def test_job_array(runner: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLEDGER_MAX_PARALLEL", "20")  # this machine has 2 cores
    from jobledger import JobArray

    base = Job("python work.py", name="work", cpu=2, time="0:30:00")
    array = JobArray(job=base, start=1, end=100, max_concurrent=10)
    array_result = array.submit()

    statuses = array_result.wait()
    print("completed:", sum(1 for s in statuses.values() if s.name == "COMPLETED"))

    assert isinstance(array_result, ArrayJobResult) and len(array_result) == 100
    assert sorted(statuses) == list(range(1, 101))
    assert all(s is JobStatus.COMPLETED for s in statuses.values())
    assert array_result.read_stdout(42) == "work.py ran index 42\n"
    job = array_result.to_job()
    assert job.array is not None and job.array.max_concurrent == 10
    assert job.array.indices == tuple(range(1, 101))

    odd = JobArray(job=Job("python fail_some.py", name="odd"), start=0, end=4, step=2).submit()
    assert odd.wait() == {0: JobStatus.FAILED, 2: JobStatus.FAILED, 4: JobStatus.FAILED}
    with pytest.raises(ModelError, match="invalid array range"):
        JobArray(job=base, start=5, end=1)


# ================================================================== schedulers and statuses
def test_scheduler_detection_and_registry(runner: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPC_SCHEDULER", "slurm")
    assert hr.detect_scheduler_name() == "slurm" and get_scheduler().name == "slurm"
    monkeypatch.delenv("HPC_SCHEDULER")
    monkeypatch.setenv("PATH", str(_bare_path(runner)))
    assert hr.detect_scheduler_name() == "local"  # no sbatch, qsub or bsub on PATH
    assert get_scheduler().name == "local"

    assert list_schedulers() == ["local", "lsf", "pbs", "sge", "slurm"]
    register_scheduler("cluster", "local")
    assert "cluster" in list_schedulers() and get_scheduler("cluster").host == "local"
    with pytest.raises(ConfigError, match="unknown scheduler 'nope'"):
        get_scheduler("nope")

    class Mine:
        def submit(self, job: jl.Job) -> str:
            return f"mine:{job.name}"

    register_scheduler("mine", Mine)
    assert Job("python x.py", name="x").submit("mine") == "mine:x"


def test_every_state_has_a_status() -> None:
    for state in jl.JobState:
        status = JobStatus.from_state(state)
        assert status.is_terminal == state.is_final
    assert JobStatus.from_state(jl.JobState.DEPENDENCY_FAILED) is JobStatus.CANCELLED
    assert JobStatus.from_state(jl.JobState.LOST) is JobStatus.UNKNOWN


# ================================================================== SLURM
@pytest.mark.slurm
def test_blocks_on_slurm(runner: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    monkeypatch.delenv("HPC_SCHEDULER", raising=False)  # detect: sbatch is on PATH
    runner.config_path.write_text('[hosts.cluster]\nscheduler = "slurm"\n')
    # real scripts too: whether a batch job sees this test's PATH (and the stand-in)
    # depends on when plumbum was first imported (see the report on LocalHost's env)
    for name in ("my_script", "preprocess", "train", "work", "sleep"):
        (runner.root / f"{name}.py").write_text(SCRIPT.format(name=name))

    result = Job("python my_script.py", name="quick", cpu=1, mem="100M", time="0:05:00").submit()
    assert result.scheduler.name == "slurm" and result.to_job().host == "cluster"
    assert result.job_id.isdigit()
    final = result.wait(timeout=120)
    detail = result.result
    assert final is JobStatus.COMPLETED, (detail, detail and detail.reason, result.read_stderr())
    assert result.returncode == 0 and result.read_stdout() == "my_script.py ran\n"

    with Pipeline("ml") as p:
        p.add("python preprocess.py", name="preprocess", mem="100M")
        p.add("python train.py", name="train", depends_on=["preprocess"])
    assert p.wait(timeout=120) == {"preprocess": JobStatus.COMPLETED, "train": JobStatus.COMPLETED}
    assert all(r.job_id.isdigit() for r in p.results.values())

    array = JobArray(job=Job("python work.py", name="work"), start=1, end=5, max_concurrent=2)
    statuses = array.submit("slurm").wait(timeout=120)
    assert set(statuses.values()) == {JobStatus.COMPLETED}

    slow = Job("python sleep.py", name="slow_slurm").submit()
    slow.cancel()
    assert slow.wait(timeout=120) is JobStatus.CANCELLED


def test_reload_config_is_kept_in_settings(runner: Project) -> None:
    path = Path("other.toml")
    path.write_text("[types.cpu]\ncpu = 3\n")
    assert reload_config(path).types["cpu"]["cpu"] == 3
    assert hr.settings.config_path == path.resolve()
    hr.settings.reset()
    with pytest.raises(ConfigError, match=r"no \[types.cpu\]"):
        Job.from_config("cpu", command="true")
