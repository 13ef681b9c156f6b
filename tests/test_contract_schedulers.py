"""One contract, every batch system: the same workflows through the engine on real SLURM,
real Grid Engine, and fake PBS Pro, Torque and LSF executables at the process boundary
(STYLE.md 12-13). A behaviour proven here is the same everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobledger as jl
from jobledger.hosts.local import LocalHost
from jobledger.project import Project
from jobledger.schedulers.detect import PROBE, classify, detect_scheduler
from services import require, sge_available, slurm_available

FAKES = Path(__file__).resolve().parent / "fakes"
BACKENDS = ["slurm", "sge", "pbs", "torque", "lsf"]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    name: str = request.param
    if name == "slurm":
        require(slurm_available(), "SLURM (make slurm-up)")
    elif name == "sge":
        require(sge_available(), "Grid Engine (make sge-up)")
    else:
        state = tmp_path / "fakesched"
        state.mkdir()
        monkeypatch.setenv("FAKESCHED_DIR", str(state))
        monkeypatch.setenv("PATH", f"{FAKES / name / 'bin'}:{os.environ['PATH']}")
    (project.root / "jobledger.toml").write_text(
        f'[hosts.cluster]\nscheduler = "{name}"\npoll_interval = 0.3\n'
    )
    yield name
    if name in ("pbs", "torque", "lsf"):
        subprocess.run(
            [sys.executable, str(FAKES / "fakesched.py"), "shutdown"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def test_submit_and_final_states(backend: str, project: Project) -> None:
    ok = jl.Job(name=f"ok-{backend}", command="echo hello from $0 ; exit 0", host="cluster")
    bad = jl.Job(name=f"bad-{backend}", command="echo oops >&2; exit 7", host="cluster")
    res = jl.run(jl.Workflow([ok, bad], name="states"), wait=True, check=False, timeout=180)
    assert res[ok.name].state is jl.JobState.COMPLETED and res[ok.name].exit_code == 0
    assert res[ok.name].stdout.startswith("hello from")
    assert res[bad.name].state is jl.JobState.FAILED and res[bad.name].exit_code == 7
    assert res[bad.name].stderr == "oops"
    assert res[ok.name].scheduler_id and res[ok.name].host == "cluster"


def test_array_with_throttle(backend: str, project: Project) -> None:
    job = jl.Job(name=f"arr-{backend}", command='echo "index $JOBLEDGER_ARRAY_INDEX"; [ "$JOBLEDGER_ARRAY_INDEX" != 2 ]',
                 array="0-3%2", host="cluster")  # fmt: skip
    res = jl.run(job, wait=True, check=False, timeout=180)[job.name]
    assert [e.stdout for e in res.elements] == [f"index {i}" for i in range(4)]
    assert [e.state for e in res.elements] == [jl.JobState.COMPLETED] * 2 + [
        jl.JobState.FAILED,
        jl.JobState.COMPLETED,
    ]
    assert res.state is jl.JobState.FAILED


def test_dependencies(backend: str, project: Project) -> None:
    first = jl.Job(name=f"first-{backend}", command="sleep 1; echo first >> order.txt", host="cluster")
    second = jl.Job(
        name=f"second-{backend}", command="echo second >> order.txt", after=[first], host="cluster"
    )
    broken = jl.Job(name=f"broken-{backend}", command="exit 2", host="cluster")
    never = jl.Job(name=f"never-{backend}", command="touch never-ran", after=[broken], host="cluster")
    anyway = jl.Job(
        name=f"anyway-{backend}",
        command="echo anyway",
        after=[jl.Dependency(broken, "afterany")],
        host="cluster",
    )
    res = jl.run(jl.Workflow([second, never, anyway], name="deps"), wait=True, check=False, timeout=180)
    assert Path("order.txt").read_text().split() == ["first", "second"]
    assert res[never.name].state is jl.JobState.DEPENDENCY_FAILED and not Path("never-ran").exists()
    assert res[anyway.name].state is jl.JobState.COMPLETED


def test_cancel(backend: str, project: Project) -> None:
    job = jl.Job(name=f"sleeper-{backend}", command="echo started > started.txt; sleep 300", host="cluster")
    handle = jl.run(job)
    deadline = time.time() + 90
    while not Path("started.txt").exists():
        assert time.time() < deadline, "the job never started"
        time.sleep(0.2)
    assert jl.stop(handle) == [job.name]
    res = handle.wait(timeout=120, check=False)[job.name]
    assert res.state is jl.JobState.CANCELLED


def test_template_override_from_host_config(backend: str, project: Project) -> None:
    config = (project.root / "jobledger.toml").read_text()
    epilogue = f"echo epilogue-ran >> {project.root}/epilogue.txt"
    (project.root / "jobledger.toml").write_text(config + f'template = {{ epilogue = "{epilogue}" }}\n')
    job = jl.Job(name=f"tpl-{backend}", command="exit 4", host="cluster")
    res = jl.run(job, wait=True, check=False, timeout=180)[job.name]
    assert res.state is jl.JobState.FAILED and res.exit_code == 4  # the epilogue keeps the code
    assert epilogue in (res.run_dir / "job.sh").read_text()
    deadline = time.time() + 30
    while not (project.root / "epilogue.txt").exists():
        assert time.time() < deadline, "the epilogue did not run"
        time.sleep(0.2)


# ---------------------------------------------------------------- auto-detection
@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ("have=sbatch\nhave=qsub\n", "slurm"),
        ("have=qsub\nSGE 8.1.9\nusage: qstat [options]\n", "sge"),
        ("have=qsub\npbs_version = 2022.1.3\n", "pbs"),
        ("have=qsub\nVersion: 6.1.3\nCommit: abc\n", "torque"),
        ("have=bsub\n", "lsf"),
        ("", "local"),
    ],
)
def test_classify(probe: str, expected: str) -> None:
    assert classify(probe) == expected


@pytest.mark.parametrize("fake", ["pbs", "torque", "lsf"])
def test_detect_fake_schedulers_on_path(fake: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKESCHED_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", f"{FAKES / fake / 'bin'}:/usr/bin:/bin")
    only = tmp_path / "bin"
    only.mkdir()
    for tool in (FAKES / fake / "bin").iterdir():
        (only / tool.name).symlink_to(tool)
    (only / "python3").symlink_to(sys.executable)
    for tool in ("sh", "head", "cat"):
        (only / tool).symlink_to(f"/bin/{tool}" if Path(f"/bin/{tool}").exists() else f"/usr/bin/{tool}")
    monkeypatch.setenv("PATH", str(only))
    assert detect_scheduler(LocalHost()) == fake
    assert PROBE  # the same probe runs on SSH hosts


def test_detect_this_machine() -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    assert detect_scheduler(LocalHost()) == "slurm"
