"""The Hamilton-HPC-Orchestra face: generator functions that pick host and resources."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobledger
from conftest import env_with_src
from jobledger.api.hamilton import (
    JobInfo,
    JobProcess,
    JobStatus,
    cmdline,
    hamilton_adapter,
    is_submitted,
    job_from_config,
    portable,
    resolve_host,
    submit,
)
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project
from jobledger.states import JobState
from services import require, slurm_available, sshd_available, sshd_info

try:  # module level: Hamilton resolves the string annotations in this module's globals
    from hamilton.htypes import Collect, Parallelizable
except ImportError:  # the hamilton extra is not installed: those tests skip
    Collect = Parallelizable = None  # type: ignore[assignment,misc]

SLURM_TOML = '[hosts.slurm]\nscheduler = "slurm"\n'


@pytest.fixture(autouse=True)
def _no_registered_clusters() -> Iterator[None]:
    """Clusters registered in code live for the process: each test starts without any."""
    from jobledger import config
    from jobledger.api.hamilton.hosts import CLUSTERS

    CLUSTERS.clear()
    config._REGISTERED.clear()
    yield
    CLUSTERS.clear()
    config._REGISTERED.clear()


def _need_hamilton() -> None:
    """The ``hamilton`` extra: skipped without it, except under CI=true (fails there)."""
    try:
        import hamilton  # noqa: F401
    except ImportError as exc:
        require(f"not importable ({exc}); pip install 'jobledger[hamilton]'", "Apache Hamilton")


def _slurm(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    project.config_path.write_text(SLURM_TOML)


# ------------------------------------------------------------------------ the protocol
def test_yielded_dict_becomes_a_job_and_an_int_comes_back(project: Project) -> None:
    received: list[Any] = []

    @submit("local")
    def double(x: int) -> int:
        info = yield {
            "job_name": f"double-{x}",
            "cmd": ["echo start", f"echo $(( {x} * 2 ))"],
            "block": True,
        }
        received.append(info)
        return int(info.stdout.split()[-1])

    assert double(21) == 42
    (info,) = received
    assert isinstance(info, int) and isinstance(info, JobInfo)
    assert int(info) > 0 and info.job_id == int(info)
    assert info.host == "local" and info.name == "double-21"
    assert info.state is JobState.COMPLETED and info.ok and info.is_finish
    assert info.status is JobStatus.Status.COMPLETED
    assert info.exit_code == 0
    assert jobledger.check(info) == {"double-21": JobState.COMPLETED}
    assert is_submitted(double)
    assert typing.get_type_hints(double)["return"] is int  # stays a normal (Hamilton) node
    assert double.__name__ == "double"


def test_non_generators_and_second_yields_are_refused(project: Project) -> None:
    with pytest.raises(TypeError, match="generator"):

        @submit("local")
        def plain() -> int:
            return 1

    @submit("local")
    def twice() -> Any:
        yield {"cmd": ["true"], "block": True}
        yield {"cmd": ["true"]}

    with pytest.raises(ValueError, match="exactly once"):
        twice()

    @submit("local")
    def no_cmd() -> Any:
        yield {"job_name": "x"}

    with pytest.raises(ModelError, match="cmd"):
        no_cmd()

    @submit("local")
    def shortcut() -> Any:
        if True:
            return "cached"
        yield {}  # pragma: no cover

    assert shortcut() == "cached"


def test_python_call_job(project: Project) -> None:
    @submit()
    def add(a: int, b: int) -> int:
        info = yield {
            "func": _add,
            "args": (a,),
            "kwargs": {"b": b},
            "job_name": "add",
            "monitor": True,
        }
        return int(info.value)

    assert add(2, 3) == 5


def _add(a: int, b: int) -> int:
    return a + b


def test_dependencies_by_jobinfo_and_by_name(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "made"

    @submit("local")
    def make() -> JobInfo:
        info = yield {"job_name": "make", "cmd": [f"sleep 1; echo made > {marker}"]}
        return info  # not blocking: returns while the job runs

    @submit("local")
    def use(dep: Any) -> str:
        info = yield {
            "job_name": f"use-{type(dep).__name__}",
            "cmd": [f"cat {marker}"],
            "job_deps": [dep],
            "block": True,
        }
        return str(info.stdout).strip()

    upstream = make()
    assert not upstream.is_finish
    assert use(upstream) == "made"  # waited for the upstream job
    assert upstream.is_finish
    # by name: the job recorded under that name in this project (it completed: reused)
    assert use("make") == "made"
    with pytest.raises(ModelError, match="no job named"):
        use("never-submitted")


def test_dependency_dict_with_any_condition(project: Project) -> None:
    @submit("local")
    def step(name: str, code: int) -> JobInfo:
        info = yield {"job_name": name, "cmd": [f"exit {code}"], "block": True}
        return info

    bad, good = step("bad", 1), step("good", 0)

    @submit("local")
    def after_any() -> JobState:
        info = yield {
            "job_name": "after-any",
            "cmd": ["echo ran"],
            "job_deps": {"afterok": [bad, good], "condition": "?"},
            "block": True,
        }
        return info.state

    assert after_any() is JobState.COMPLETED
    job, _ = job_from_config(
        {"cmd": ["x"], "job_deps": {"afterany": [bad], "afternotok": [good]}},
        default_name="d",
        default_host="local",
    )
    assert [(d.name, d.kind) for d in job.depends] == [("bad", "afterany"), ("good", "afternotok")]
    assert job.waitfor == "all"


def test_test_only_records_without_submitting(project: Project) -> None:
    @submit("local")
    def dry() -> JobInfo:
        info = yield {"job_name": "dry", "cmd": ["echo never"], "test_only": True}
        return info

    info = dry()
    assert info == 0 and not info.submitted
    assert info.state is JobState.PENDING  # observing a dry job does not submit it
    assert jobledger.fetch(info)["dry"].state is JobState.PENDING


def test_identical_jobs_are_reused_unless_forced(project: Project, tmp_path: Path) -> None:
    counter = tmp_path / "count"

    @submit("local")
    def count(force: bool = False) -> int:
        info = yield {
            "job_name": "count",
            "cmd": [f"echo x >> {counter}"],
            "block": True,
            "force": force,
        }
        return int(info)

    first = count()
    assert count() == first  # reused: same job, same id
    assert counter.read_text().count("x") == 1
    count(force=True)
    assert counter.read_text().count("x") == 2


def test_job_from_config_maps_the_real_keys(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    project.config_path.write_text(SLURM_TOML)
    cfg = {
        "job_name": "big",
        "cmd": ["module list", "srun ./a.out"],
        "host": "slurm",
        "n_cores": 8,
        "memory_max": "16G",
        "run_time_max": "01:30:00",
        "partition": "long",
        "account": "proj",
        "work_dir": "wd",
        "qos": "high",
        "--gres": "gpu:1",
        "exclusive-user": True,
        "script_name": "run_slurm.sh",
        "block": True,
    }
    job, control = job_from_config(cfg, default_name="f", default_host="local")
    assert control == {"block": True, "test_only": False, "force": False}
    assert job.name == "big" and job.host == "slurm"
    assert job.tasks[0].shell == "module list\nsrun ./a.out"
    r = job.resources
    assert (r.tasks, r.memory, r.time, r.partition, r.account, r.qos) == (
        8,
        16384,
        5400,
        "long",
        "proj",
        "high",
    )
    assert job.workdir == "wd" and Path("wd").is_dir()
    assert job.scheduler_args == {"slurm": ("--gres=gpu:1", "--exclusive-user")}
    with caplog.at_level(logging.WARNING, logger="jobledger.hamilton"):
        local, _ = job_from_config(
            {"cmd": "true", "--gres": "gpu:1", "max_cores": 2},
            default_name="l",
            default_host="local",
        )
    assert local.scheduler_args == {} and local.resources.cpus == 2
    assert "ignoring --gres" in caplog.text


def test_resolve_host(project: Project) -> None:
    assert resolve_host(None, None) == "local"
    assert resolve_host("local", None) == "local"
    assert resolve_host("laptop", "local") == "local"
    with pytest.raises(ConfigError, match="unknown host"):
        resolve_host("nowhere", None)
    project.config_path.write_text('[hosts.hpc1]\nscheduler = "slurm"\n')
    assert resolve_host("hpc1", None) == "hpc1"
    assert resolve_host("hpc1", "slurm") == "hpc1"
    assert resolve_host("my-cluster", "slurm") == "hpc1"  # the one slurm host
    with pytest.raises(ConfigError, match="is a slurm host"):
        resolve_host("hpc1", "pbs")
    with pytest.raises(ConfigError, match="not configured"):
        resolve_host("x", "lsf")
    assert submit("hpc1").host == "hpc1"


def test_cmdline_blocking_and_not(project: Project, tmp_path: Path) -> None:
    @cmdline
    def echo() -> str:
        cp = yield {"cmd": ["echo", "hello"], "block": True}
        assert isinstance(cp, subprocess.CompletedProcess) and cp.returncode == 0
        return cp.stdout.decode().strip()

    assert echo() == "hello"

    @cmdline(host="local")
    def background() -> JobProcess:
        proc = yield {
            "cmd": "sleep 0.5; echo bg; echo err >&2; exit 4",
            "cwd": str(tmp_path),
            "block": False,
        }
        return proc

    proc = background()
    assert proc.pid > 0
    assert proc.wait(timeout=30) == 4
    assert proc.poll() == 4
    assert proc.communicate() == (b"bg\n", b"err\n")

    @cmdline
    def not_a_generator() -> int:
        return 3

    assert not_a_generator() == 3


def test_monitor_follows_the_hosts_jobs(project: Project) -> None:
    @submit("local")
    def sleeper(n: int) -> JobInfo:
        info = yield {"job_name": f"sleeper-{n}", "cmd": [f"sleep {n / 2}"]}
        return info

    infos = [sleeper(1), sleeper(2)]
    monitor = submit("local").monitor
    assert set(monitor.jobs) <= {"sleeper-1", "sleeper-2"}
    assert monitor.block_until_complete(infos[0]).ok
    monitor.monitor_all(interval=0.2)
    assert all(i.is_finish for i in infos)
    assert monitor.jobs == {}
    assert monitor.get_status_by_name("sleeper-2") is None


def test_portable_functions() -> None:
    func, env = portable(_add)
    assert func is _add
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(Path(__file__).resolve().parent)
    ns: dict[str, Any] = {}
    exec("def f(x):\n    return x + 1\n", ns)
    ns["f"].__module__ = "in_memory_only"
    moved, env = portable(ns["f"])
    assert moved.__module__ == "__main__" and env == {} and moved(1) == 2


# ------------------------------------------------------------------------------ SLURM
@pytest.mark.slurm
def test_one_function_picks_local_and_another_picks_slurm(project: Project, tmp_path: Path) -> None:
    _slurm(project)
    shared = tmp_path / "shared.txt"

    @submit("local")
    def prepare(n: int) -> JobInfo:
        info = yield {
            "job_name": "prepare",
            "cmd": [f"sleep 1; echo {n} > {shared}"],
            "host": "local",
        }
        return info

    @submit("local")
    def compute(dep: JobInfo, long: bool) -> tuple[int, str]:
        info = yield {
            "job_name": "compute-long" if long else "compute-short",
            "cmd": [f"echo $(( $(cat {shared}) * 10 ))"],
            "host": "slurm" if long else "local",  # chosen at call time
            "n_cores": 1,
            "run_time_max": "00:05:00",
            "job_deps": [dep],
            "monitor": True,
        }
        return int(info.stdout), info.host

    dep = prepare(7)
    assert compute(dep, long=True) == (70, "slurm")
    assert compute(dep, long=False) == (70, "local")
    results = jobledger.fetch(dep)
    assert results["prepare"].host == "local"
    slurm_result = jobledger.fetch(project.root)["compute-long"]
    assert slurm_result.host == "slurm" and (slurm_result.scheduler_id or "").isdigit()


# ----------------------------------------------------------------------------- Hamilton
def _hamilton_driver(project: Project, *functions: Any, adapter: Any = None) -> Any:
    _need_hamilton()
    from hamilton import driver
    from hamilton.ad_hoc_utils import create_temporary_module

    module = create_temporary_module(*functions)
    builder = driver.Builder().with_modules(module)
    if adapter is not None:
        builder = builder.with_adapters(adapter)
    return builder.build()


def test_hamilton_dag_of_submitted_and_tagged_nodes(project: Project) -> None:
    _need_hamilton()
    from hamilton.function_modifiers import tag

    @submit("local")
    def quick(x: int) -> int:
        info = yield {"job_name": f"quick-{x}", "cmd": [f"echo $(( {x} + 1 ))"], "block": True}
        return int(info.stdout)

    @tag(**{"jobledger.host": "local", "jobledger.cpus": "1"})
    def squared(quick: int) -> int:
        return quick * quick

    def total(squared: int, quick: int) -> int:
        return squared + quick

    dr = _hamilton_driver(project, quick, squared, total, adapter=hamilton_adapter())
    assert dr.execute(["total"], inputs={"x": 4}) == {"total": 30}
    names = set(jobledger.fetch(project.root))
    assert {"quick-4", "squared"} <= names and "total" not in names  # total ran in-process


def test_hamilton_parallel_workers_block_on_their_own_jobs(project: Project) -> None:
    _need_hamilton()
    from hamilton import driver
    from hamilton.ad_hoc_utils import create_temporary_module
    from hamilton.execution import executors

    def mapper(seconds: list[int]) -> Parallelizable[int]:
        yield from seconds

    @submit("local_thread", "local")
    def worker(mapper: int) -> int:
        yield {"job_name": f"sleep_{mapper}", "cmd": [f"sleep {mapper / 4}"], "block": True}
        return mapper

    def reducer(worker: Collect[int]) -> int:
        return sum(worker)

    module = create_temporary_module(mapper, worker, reducer)
    dr = (
        driver.Builder()
        .with_modules(module)
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_local_executor(executors.SynchronousLocalTaskExecutor())
        .with_remote_executor(executors.MultiThreadingExecutor(max_tasks=4))
        .build()
    )
    start = time.monotonic()
    assert dr.execute(["reducer"], inputs={"seconds": [1, 2, 3, 4]}) == {"reducer": 10}
    assert time.monotonic() - start < 30
    assert {f"sleep_{i}" for i in range(1, 5)} <= set(jobledger.fetch(project.root))


@pytest.mark.slurm
def test_hamilton_nodes_on_local_and_slurm(project: Project) -> None:
    _need_hamilton()
    _slurm(project)
    from hamilton.function_modifiers import tag

    @submit("local")
    def quick(x: int) -> int:
        info = yield {
            "job_name": f"hq-{x}",
            "cmd": [f"echo $(( {x} + 1 ))"],
            "host": "local",
            "block": True,
        }
        return int(info.stdout)

    @submit("local")
    def slow(quick: int) -> int:
        info = yield {
            "job_name": f"hs-{quick}",
            "cmd": [f"echo $(( {quick} * 10 ))"],
            "host": "slurm",
            "time": "5:00",
            "block": True,
        }
        return int(info.stdout)

    @tag(**{"jobledger.host": "slurm", "jobledger.time": "5:00"})
    def remote_sum(slow: int, quick: int) -> int:
        return slow + quick

    dr = _hamilton_driver(project, quick, slow, remote_sum, adapter=hamilton_adapter())
    assert dr.execute(["remote_sum"], inputs={"x": 4}) == {"remote_sum": 55}
    results = jobledger.fetch(project.root)
    assert results["hq-4"].host == "local"
    assert results["hs-5"].host == "slurm" and results["remote_sum"].host == "slurm"


# ------------------------------------------------------------ clusters registered in code
SEED_HPC1 = """\
from time import perf_counter

from hamilton import driver
from hamilton.ad_hoc_utils import create_temporary_module
from hamilton.execution import executors
from hamilton.htypes import Collect, Parallelizable

from jobledger import submit


def mapper(seconds: list[int]) -> Parallelizable[int]:
    for sec in seconds:
        yield sec


@submit("hpc1", "slurm")
def worker(mapper: int) -> int:
    print(f"start work {mapper}s")
    start = perf_counter()
    yield {
        "job_name": f"sleep_{mapper}",
        "cmd": [f"sleep {str(mapper)}"],
        "n_cores": 1,
        "run_time_max": "00:05:00",
        "block": True,
    }
    end = perf_counter()
    print(f"end stop {end - start:.2f}s work")
    return mapper


@submit("hpc1")
def hostname(reducer: int) -> str:
    info = yield {"job_name": "where", "cmd": ["hostname"], "block": True}
    return f"{reducer} {int(info)} {info.host} {info.stdout.strip()}"


def reducer(worker: Collect[int]) -> int:
    return sum(worker)


logic = create_temporary_module(
    mapper,
    worker,
    reducer,
    hostname,
    module_name="logic",
)

if __name__ == "__main__":
    dr = (
        driver.Builder()
        .with_modules(logic)
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_local_executor(executors.SynchronousLocalTaskExecutor())
        .with_remote_executor(
            executors.MultiThreadingExecutor(max_tasks=4)
        )  # default is MultiThreadedExecutor(max_tasks=10)
        .build()
    )
    start = perf_counter()
    print(dr.execute(["hostname"], inputs={"seconds": [1, 2]})["hostname"])
    print(sorted(submit.CLUSTERS), submit.get_n_clusters())
    print(f"Time taken: {perf_counter() - start: .2f} seconds")
"""


@pytest.mark.slurm
def test_seed_submit_hpc1_slurm_with_no_configuration(project: Project) -> None:
    _need_hamilton()
    require(slurm_available(), "SLURM (make slurm-up)")
    (project.root / "hpc1.py").write_text(SEED_HPC1)
    done = subprocess.run(
        [sys.executable, "hpc1.py"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not project.config_path.exists()  # nothing configured: sbatch is on the PATH
    lines = done.stdout.splitlines()
    total, job_id, host, _node = next(line for line in lines if line.startswith("3 ")).split()
    assert (total, host) == ("3", "slurm") and int(job_id) > 0
    assert "['hpc1'] 1" in lines  # registered once, reused by name
    results = jobledger.fetch(project.root)
    assert {results[n].host for n in ("sleep_1", "sleep_2", "where")} == {"slurm"}
    assert results["where"].scheduler_id == job_id  # the int sent back is the Slurm id
    assert all(results[n].ok for n in ("sleep_1", "sleep_2", "where"))


def test_a_cluster_is_registered_on_first_use_and_reused_by_name(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert submit.get_n_clusters() == 0
    first = submit("laptop", "local")
    assert submit.CLUSTERS["laptop"].type == "local" and first.host == "local"
    assert submit("laptop").host == "local" and submit.get_n_clusters() == 1
    with pytest.raises(ConfigError, match="registered as local"):
        submit("laptop", "slurm")
    with pytest.raises(ConfigError, match="unknown host"):
        _ = submit("nowhere").host  # never registered with a type, not configured
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    (bare / "sh").symlink_to("/bin/sh")
    with monkeypatch.context() as here:  # a machine without bsub: the error says what it looked for
        here.setenv("PATH", str(bare))
        with pytest.raises(ConfigError, match=r"(?s)not configured.*bsub, bjobs not found"):
            _ = submit("hpc3", "lsf").host
    # the seed's third argument: the cluster's options, the keys of a [hosts.NAME] table
    with pytest.raises(ConfigError, match="unknown key"):
        submit("odd", "slurm", {"nonsense": 1})
    there = submit("here2", "local", {"workdir": str(tmp_path)})
    assert there.host == "here2" and submit("here2").host == "here2"

    @submit("here2")
    def where() -> str:
        info = yield {"job_name": "where-here2", "cmd": ["echo ok"], "block": True}
        return f"{info.host} {info.stdout.strip()}"

    assert where() == "here2 ok"


@pytest.mark.ssh
def test_a_cluster_behind_ssh_registered_with_its_options(project: Project) -> None:
    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    require(slurm_available(), "SLURM (make slurm-up)")
    assert info is not None
    options = {
        "host": info.alias,
        "ssh_config": str(info.ssh_config),
        "workdir": f"jl-hamilton-{os.getpid()}-{time.time_ns()}",
        "poll_interval": 0.5,
    }
    if info.python:
        options["python"] = info.python

    @submit("faraway", "slurm", options)
    def remote(x: int) -> tuple[int, str]:
        got = yield {"job_name": f"remote-{x}", "cmd": [f"echo $(( {x} * 3 ))"], "block": True}
        return int(got.stdout), got.host

    assert remote(5) == (15, "faraway")
    assert submit("faraway").host == "faraway"
    result = jobledger.fetch(project.root)["remote-5"]
    assert result.ok and (result.scheduler_id or "").isdigit()


def test_a_blocking_call_prints_the_summary_of_a_run(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    @submit("local")
    def one() -> bool:
        info = yield {"job_name": "one-summary", "cmd": ["exit 3"], "block": True}
        return bool(info.ok)

    assert one() is False  # a failed job does not raise, as in the seed
    err = capsys.readouterr().err
    assert (
        "jobledger: 1 job in " in err and "1 failed" in err and "one-summary: failed with exit code 3" in err
    )
