"""hpc-runner parity beyond its documented blocks (issue 17): the Job's own attributes,
hpc-runner's sample configuration files as written, scheduler objects by job id, "run this
now", and the documented blocks on the real SLURM and the real SGE with no jobledger.toml.

Local tests share ``test_face_hpcrunner``'s set-up: a project as cwd, a ``python``
stand-in first on PATH, ``HPC_SCHEDULER=local`` where this machine has a batch system.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import jobledger as jl
from jobledger.api import hpcrunner as hr
from jobledger.api.hpcrunner import (
    DependencyType,
    Job,
    JobArray,
    JobStatus,
    Pipeline,
    PipelineJob,
    Resource,
    ResourceSet,
    get_scheduler,
    load_config,
    reload_config,
)
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project
from services import require, sge_available, slurm_available
from test_face_hpcrunner import SCRIPT, _bare_path, _submissions, runner

__all__ = ["runner"]  # the shared autouse fixture

# hpc-runner's defaults/config.toml (@519d825) and its README's example, as written
SAMPLE_DEFAULTS = """\
# hpc-runner default configuration

[defaults]
scheduler = "auto"
cpu = 1
mem = "4G"
time = "1:00:00"
inherit_env = true
modules_path = []          # 'module use <path>' (searched first)
modules_path_append = []   # 'module use --append <path>' (searched last)
modules = []

# SGE-specific settings
[schedulers.sge]
parallel_environment = "smp"
memory_resource = "mem_free"
time_resource = "h_rt"
merge_output = true

# Module handling
purge_modules = true        # Run 'module purge' before loading modules
silent_modules = false      # Use -s flag for silent module operations
module_init_script = ""     # Site-specific module init (empty = auto-detect)

# Environment handling
expand_makeflags = true     # Expand $NSLOTS in MAKEFLAGS
unset_vars = []             # Environment variables to unset (e.g., ["https_proxy"])

# Local scheduler settings
[schedulers.local]
purge_modules = true
silent_modules = false
module_init_script = ""

# Slurm-specific settings (for future use)
[schedulers.slurm]
# Default Slurm settings

# Tool configurations
[tools.xterm]
queue = "interactive"
time = "4:00:00"

[tools.make]
# Inherit defaults

[tools.python]
modules = ["python"]

# Named job types
[types.interactive]
queue = "interactive"
time = "8:00:00"
inherit_env = true

[types.gpu]
queue = "gpu"
resources = [{name = "gpu", value = 1}]

[types.mpi]
nodes = 2
tasks = 32
"""
SAMPLE_README = """\
[defaults]
cpu = 1
mem = "4G"
time = "1:00:00"
inherit_env = true

[schedulers.sge]
parallel_environment = "smp"
memory_resource = "mem_free"
purge_modules = true

[types.gpu]
queue = "gpu"
resources = [{name = "gpu", value = 1}]

[types.interactive]
queue = "interactive"
time = "8:00:00"
"""


# ================================================================== the Job's own fields
def test_job_fields_are_hpc_runners_and_settable() -> None:
    job = Job("python train.py", cpu=4, mem="16G", time="4:00:00", queue="gpu.q", nodes=2, tasks=8)
    assert (job.cpu, job.mem, job.time, job.queue, job.nodes, job.tasks) == (
        4,
        "16G",
        "4:00:00",
        "gpu.q",
        2,
        8,
    )
    assert job.modules == [] and job.stderr is None and job.merge_output
    job.cpu, job.mem, job.queue = 2, "1G", "short"
    job.modules.append("gcc/12")
    job.raw_args = ["-l", "scratch=10G", "-q", "x"]
    job.sge_args = ["-l", "exclusive=true"]
    job.resources = ResourceSet().add("license", 1)
    made = job.to_job()
    r = made.resources
    assert (r.cpus, r.memory, r.partition, r.nodes, r.tasks) == (2, 1024, "short", 2, 8)
    assert made.modules == ("gcc/12",) and made.stderr is None  # None: stderr goes into stdout
    assert r.extra == ("-l scratch=10G", "-q x")  # hpc-runner's words, one directive per flag
    assert made.scheduler_args["sge"] == ("-V", "-l exclusive=true", "-l license=1")
    assert made.scheduler_args["slurm"] == ("--gres=license:1",)
    assert job.to_job().tasks[0].label == "python train.py"  # jobledger's tasks are not hpc-runner's
    assert Resource("gpu", 1) in ResourceSet.of([{"name": "gpu", "value": 1}], "here")
    with pytest.raises(ModelError, match=r"job 'x': dependency 3.5 is not a JobResult"):
        Job("true", name="x", dependencies=[3.5]).to_job()


def test_automatic_names_and_dependency_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "ada")
    assert Job("OMP=4 /opt/bin/solver -i x").name == "ada_solver"
    assert Job(["python", "x.py"]).name == "ada_python"
    upstream = Job("true", name="up")
    down = Job("true", name="down").after(upstream, type=DependencyType.AFTERANY)
    assert down.dependency_type is DependencyType.AFTERANY and str(DependencyType.AFTERNOTOK) == "afternotok"
    assert [(d.name, d.kind) for d in down.to_job().depends] == [("up", "afterany")]
    down.dependency_type = "afternotok"
    assert down.to_job().depends[0].kind == "afternotok"
    down.dependency_type = "sometimes"
    with pytest.raises(ModelError, match=r"job 'down': dependency_type: unknown dependency type 'sometimes'"):
        down.to_job()


def test_module_paths_venv_and_env_become_setup_before_the_modules(tmp_path: Path) -> None:
    job = Job(
        "true",
        name="m",
        modules=["gcc"],
        modules_path=["/site/mods"],
        modules_path_append=["/my mods"],
        venv=str(tmp_path / "venv"),
        env_prepend={"PATH": "/x/bin"},
        env_append={"PYTHONPATH": "/y"},
        env_vars={"A": "1"},
        priority=5,
    )
    made = job.to_job()
    assert made.setup == (
        "module use /site/mods",
        "module use --append '/my mods'",
        f"source {tmp_path / 'venv'}/bin/activate",
        'export PATH=/x/bin"${PATH:+:$PATH}"',
        'export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}"/y',
    )
    assert made.env == {"A": "1"} and made.metadata["priority"] == 5


# ================================================================== configuration files
def test_hpc_runners_sample_configurations_are_accepted_as_written(runner: Project) -> None:
    (runner.root / "defaults.toml").write_text(SAMPLE_DEFAULTS)
    config = load_config("defaults.toml")
    assert config.get_job_config("gpu")["resources"] == [{"name": "gpu", "value": 1}]
    assert config.get_scheduler_config("sge")["memory_resource"] == "mem_free"
    assert config.get_scheduler_config("pbs") == {}
    reload_config("defaults.toml")
    mpi = Job("mpirun ./sim", job_type="mpi")
    assert (mpi.nodes, mpi.tasks) == (2, 32)
    gpu = Job("python train.py", job_type="gpu")
    assert gpu.queue == "gpu" and [(r.name, r.value) for r in gpu.resources] == [("gpu", 1)]
    assert gpu.modules == [] and gpu.mem == "4G"  # [types] do not pick up [tools.python]
    assert Job("python train.py").modules == ["python"]  # the tool is found from the command
    assert hr.SGEScheduler().pe_name == "smp"
    (runner.root / "readme.toml").write_text(SAMPLE_README)
    assert reload_config("readme.toml").get_type_config("interactive")["time"] == "8:00:00"
    (runner.root / "typo.toml").write_text("[types.gpu]\nresources = [{name = 'gpu'}]\n")
    with pytest.raises(ConfigError, match=r"typo\.toml: \[types\.gpu\].*each resource must be"):
        load_config("typo.toml")


def test_hpc_runner_toml_is_found_as_hpc_runner_finds_it(runner: Project) -> None:
    (runner.root / "hpc-runner.toml").write_text("[defaults]\ncpu = 3\n[tools.python]\nmem = '2G'\n")
    job = Job("python x.py")
    assert (job.cpu, job.mem) == (3, "2G")
    assert hr.find_config_file() == runner.root / "hpc-runner.toml"
    runner.config_path.write_text("[types.big]\nmem = '64G'\n")  # jobledger.toml's presets join in
    assert Job("python x.py", job_type="big").mem == "64G"
    with pytest.raises(ConfigError, match=r"no \[types.tiny\] or \[tools.tiny\].*known: big, python"):
        Job("python x.py", job_type="tiny")


# ================================================================== schedulers by job id
def test_scheduler_objects_by_job_id_and_results(runner: Project) -> None:
    scheduler = get_scheduler("local")
    result = Job("python train.py", stdout="train.log").submit(scheduler, interactive=True)
    assert result.scheduler is scheduler and result.is_complete  # interactive: ended already
    assert scheduler.get_status(result.job_id) is JobStatus.COMPLETED
    assert scheduler.get_exit_code(result.job_id) == 0
    assert scheduler.get_output_path(result.job_id, "stdout") == runner.root / "train.log"
    assert scheduler.get_output_path(result.job_id, "stderr") == runner.root / "train.log"  # merged
    assert scheduler.get_status("local_000000000000") is JobStatus.UNKNOWN
    assert scheduler.cancel("no-such-id") is False
    slow = Job("python sleep.py").submit(scheduler)
    assert scheduler.cancel(slow.job_id) is True
    assert slow.wait(timeout=60) is JobStatus.CANCELLED


def test_submit_runs_the_job_now_and_the_edited_script_output_comes_back(runner: Project) -> None:
    script = runner.root / "step.sh"
    script.write_text("echo first\n")
    first = Job("sh step.sh", name="step").submit()
    assert first.wait() is JobStatus.COMPLETED and first.read_stdout() == "first\n"
    script.write_text("echo second\n")
    second = Job("sh step.sh", name="step").submit()
    assert second.key == first.key and second.wait() is JobStatus.COMPLETED
    assert second.read_stdout() == "second\n" and _submissions(runner, first.key) == 2
    kept = Job("sh step.sh", name="step").submit(reuse=True)
    assert kept.wait() is JobStatus.COMPLETED and _submissions(runner, first.key) == 2


def test_pipeline_with_the_users_own_scheduler_object(runner: Project) -> None:
    class Recorder:
        """A scheduler object of the user's own: it submits through the local one."""

        def __init__(self) -> None:
            self.seen: list[tuple[str, list[str]]] = []

        def submit(self, job: Job) -> Any:
            self.seen.append((job.name, [d.name for d in job.dependencies]))
            return get_scheduler("local").submit(job)

    mine = Recorder()
    p = Pipeline("own")
    first = p.add("python a.py", name="a")
    second = p.add("python b.py", name="b", depends_on=[first])
    assert isinstance(second, PipelineJob) and second.depends_on == [first]
    results = p.submit(scheduler=mine)
    assert mine.seen == [("own_a", []), ("own_b", ["own_a"])]
    assert p.wait() == {"a": JobStatus.COMPLETED, "b": JobStatus.COMPLETED}
    assert results["b"].read_stdout() == "b.py ran\n"


def test_no_scheduler_found_says_what_was_probed(runner: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_bare_path(runner)))
    monkeypatch.delenv("HPC_SCHEDULER")
    assert hr.detect_scheduler_name() == "local"
    with pytest.raises(
        ConfigError, match=r"scheduler 'slurm': sbatch, squeue not found on this machine's PATH"
    ):
        get_scheduler("slurm").submit(Job("true"))
    assert not runner.config_path.exists()


# ================================================================== real clusters, no jobledger.toml
def _documented_blocks(runner: Project, expect: str, cpu: int, mem: str) -> None:
    """hpc-runner's quick start, dependencies, Pipeline, JobArray, configuration and cancel
    blocks (the import changed; resources that fit the test clusters)."""
    assert not runner.config_path.exists()
    for name in ("my_script", "preprocess", "train", "evaluate", "work", "sleep"):
        (runner.root / f"{name}.py").write_text(SCRIPT.format(name=name))

    job = Job(command="python my_script.py", cpu=cpu, mem=mem, time="1:00:00")
    result = job.submit()  # auto-detect scheduler
    final = result.wait(timeout=300)  # block until complete
    print(final, result.returncode)
    assert final is JobStatus.COMPLETED, (result.result, result.read_stderr())
    assert result.scheduler.name == expect and result.to_job().host == expect and result.job_id.isdigit()
    assert result.returncode == 0 and result.read_stdout() == "my_script.py ran\n"

    r1 = Job("python preprocess.py", name="pre").submit()
    j2 = Job("python train.py", name="train")
    j2.dependencies = [r1]  # programmatic dependency
    j2.dependency_type = "afterok"
    r2 = j2.submit()
    assert r2.wait(timeout=300) is JobStatus.COMPLETED and r1.wait(timeout=300) is JobStatus.COMPLETED
    assert _submissions(runner, r1.key) == 1 and r2.job_id.isdigit()

    with Pipeline("ml") as p:
        p.add("python preprocess.py", name="preprocess", cpu=cpu, mem=mem)
        p.add("python train.py", name="train", depends_on=["preprocess"])
        p.add("python evaluate.py", name="evaluate", depends_on=["train"])
    results = p.submit()
    assert p.wait(timeout=300) == dict.fromkeys(("preprocess", "train", "evaluate"), JobStatus.COMPLETED)
    assert all(res.job_id.isdigit() for res in results.values())

    base = Job("python work.py", name="work", cpu=1, time="0:30:00")
    array = JobArray(job=base, start=1, end=4, max_concurrent=2)
    array_result = array.submit()
    statuses = array_result.wait(timeout=300)
    assert sum(1 for s in statuses.values() if s.name == "COMPLETED") == 4
    assert array_result.read_stdout(3) == "work.py ran index 3\n"

    (runner.root / "hpc-runner.toml").write_text(
        textwrap.dedent(
            f"""\
            [defaults]
            time = "0:10:00"

            [types.small]
            cpu = 1
            mem = "{mem}"
            """
        )
    )
    reload_config("./hpc-runner.toml")  # Explicitly load a config file for this process
    job = Job.from_config("small", command="python train.py", cpu=cpu)
    configured = job.submit()
    assert configured.wait(timeout=300) is JobStatus.COMPLETED
    assert configured.to_job().resources.time == 600
    reload_config()

    slow = Job("python sleep.py", name="slow").submit()
    slow.cancel()
    assert slow.wait(timeout=300) is JobStatus.CANCELLED
    assert jl.check(slow)[slow.name] is jl.JobState.CANCELLED
    assert not runner.config_path.exists()


@pytest.mark.slurm
def test_documented_blocks_on_slurm_without_configuration(
    runner: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    monkeypatch.setenv("HPC_SCHEDULER", "slurm")  # this machine has Grid Engine too, found first
    _documented_blocks(runner, "slurm", cpu=4, mem="8G")


@pytest.mark.sge
def test_documented_blocks_on_sge_without_configuration(
    runner: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(sge_available(), "Grid Engine (make sge-up)")
    monkeypatch.delenv("HPC_SCHEDULER", raising=False)  # detected: qsub is Grid Engine's
    assert hr.detect_scheduler_name() == "sge"
    _documented_blocks(runner, "sge", cpu=1, mem="1G")
