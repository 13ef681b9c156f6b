"""Workflows on remote clusters over SSH (a real sshd on 127.0.0.1, real SLURM and SGE
behind it): results fetched back, data flowing between local and two clusters, sshd
killed mid-run, clear connection errors, one SSH connection per host per run."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobledger as jl
from jobledger.project import Project
from jobledger.session import session_for
from services import (
    SshInfo,
    count_ssh_connections,
    log_offset,
    require,
    sge_available,
    slurm_available,
    sshd_available,
    sshd_info,
    sshd_kill,
    sshd_restart,
)
from services import free_port as _free_port
from services import private_sshd as services_private_sshd

pytestmark = pytest.mark.ssh


def _host_table(name: str, info: SshInfo, scheduler: str, workdir: str, python: bool = True) -> str:
    lines = [
        f"[hosts.{name}]",
        f'ssh = "{info.alias}"',
        f'ssh_config = "{info.ssh_config}"',
        f'scheduler = "{scheduler}"',
        f'workdir = "{workdir}"',
        "poll_interval = 0.5",
    ]
    if python and info.python:
        lines.append(f'python = "{info.python}"')
    return "\n".join(lines) + "\n\n"


@pytest.fixture
def sshd() -> SshInfo:
    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    require(slurm_available(), "SLURM (make slurm-up)")
    assert info is not None
    return info


@pytest.fixture
def cluster(project: Project, sshd: SshInfo) -> Project:
    unique = f"jl-engine-{os.getpid()}-{time.time_ns()}"
    (project.root / "jobledger.toml").write_text(_host_table("cluster", sshd, "slurm", unique))
    return project


@pytest.fixture(scope="module")
def private_sshd() -> Iterator[SshInfo]:
    """An sshd of our own: exact connection counts, and we may kill it."""
    with services_private_sshd("hpc-engine") as info:
        yield info


def _jobs_started_in(folder: str) -> list[str]:
    """SLURM's records (one per job or array element) of the jobs whose working directory
    is under a folder named ``folder``."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "--array", "-o", "%i|%k|%Z"], capture_output=True, text=True
    )
    return [line for line in out.stdout.splitlines() if f"/{folder}/" in line.rpartition("|")[2] + "/"]


def test_pi_dag_on_a_cluster_behind_ssh(cluster: Project) -> None:
    def total(*parts: int) -> int:
        return sum(parts)

    estimate = jl.Job(
        name="estimate", command='echo "$(( JOBLEDGER_ARRAY_INDEX * 3 ))"', array=10, host="cluster"
    )
    merge = jl.Job(name="merge", command="echo merged; hostname", after=[estimate], host="cluster")
    summed = jl.Job(name="summed", command=total, args=(1, 2, 3), host="cluster", after=[merge])
    handle = jl.run(jl.Workflow([summed], name="remote-pi"))
    handle.wait(timeout=180, check=False)
    results = jl.fetch(handle)
    est = results["estimate"]
    assert est.state is jl.JobState.COMPLETED
    assert [e.stdout for e in est.elements] == [str(i * 3) for i in range(10)]
    assert [e.exit_code for e in est.elements] == [0] * 10
    assert results["merge"].stdout.splitlines()[0] == "merged"
    assert results["summed"].value == 6
    # the run directories came home: stdout, exit records, the pickled result
    assert (cluster.root / est.run_dir / "3" / "exit").exists()
    assert (results["summed"].unit_dir / "result.pkl").exists()


def test_local_and_two_clusters_with_data_flowing(project: Project, sshd: SshInfo) -> None:
    require(sge_available(), "Grid Engine (make sge-up)")
    unique = f"jl-two-{os.getpid()}-{time.time_ns()}"
    (project.root / "jobledger.toml").write_text(
        _host_table("cluster-a", sshd, "slurm", unique + "-a")
        + _host_table("cluster-b", sshd, "sge", unique + "-b")
    )
    prepare = jl.Job(name="prepare", command="echo 5 > input.txt", outputs=["input.txt"])
    simulate = jl.Job(name="simulate", command="echo $(( $(cat input.txt) + 1 )) > sim.txt; id -un",
                      after=[prepare], host="cluster-a", outputs=["sim.txt"])  # fmt: skip
    analyse = jl.Job(name="analyse", command="echo $(( $(cat sim.txt) * 10 )) > result.txt",
                     after=[simulate], host="cluster-b", outputs=["result.txt"])  # fmt: skip
    report = jl.Job(name="report", command="cat result.txt", after=[analyse])
    res = jl.run(jl.Workflow([report], name="three-places"), wait=True, check=False, timeout=240)
    assert [r.state for r in res.values()] == [jl.JobState.COMPLETED] * 4
    assert res["report"].stdout == "60"
    assert Path("sim.txt").read_text().strip() == "6"
    assert (res["simulate"].host, res["analyse"].host) == ("cluster-a", "cluster-b")
    fetched = jl.fetch(res["simulate"])  # type: ignore[arg-type]
    assert fetched["simulate"].stdout == "hpcuser"
    # running it again moves nothing and submits nothing
    before = sum(1 for e in project.ledger.iter_events() if e.type in ("intent", "note"))
    again = jl.run(jl.Workflow([report], name="three-places"), wait=True, check=False, timeout=60)
    assert again["report"].reused
    after = sum(1 for e in Project(project.root).ledger.iter_events() if e.type in ("intent", "note"))
    assert after == before


def test_sshd_killed_mid_run(project: Project, private_sshd: SshInfo) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    tag = f"kill{os.getpid()}"
    (project.root / "jobledger.toml").write_text(
        _host_table("cluster", private_sshd, "slurm", f"jl-{tag}", python=False)
    )
    jobs = []
    for i in range(6):
        after = [jobs[-1]] if i % 2 else []
        jobs.append(jl.Job(name=f"{tag}-{i}", command="sleep 2; echo done", host="cluster", after=after))
    handle = jl.run(jl.Workflow(jobs, name="flaky-network"))
    time.sleep(1.0)
    sshd_kill(private_sshd)
    time.sleep(3.0)
    sshd_restart(private_sshd)
    results = handle.wait(timeout=240, check=False)
    assert all(r.state is jl.JobState.COMPLETED for r in results.values()), {
        n: r.state for n, r in results.items()
    }
    # each job submitted once (the same-shape ones as elements of one array)
    started = _jobs_started_in(f"jl-{tag}")
    assert len(started) == len(jobs), f"{len(jobs)} jobs submitted as {len(started)}: {started}"


def test_one_connection_for_a_100_job_run(project: Project, private_sshd: SshInfo) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    tag = f"count{os.getpid()}"
    (project.root / "jobledger.toml").write_text(
        _host_table("cluster", private_sshd, "slurm", f"jl-{tag}", python=False)
    )
    offset = log_offset(private_sshd.log)
    jobs = [jl.Job(name=f"{tag}-{i}", command="true", host="cluster") for i in range(100)]
    res = jl.run(jl.Workflow(jobs, name="hundred"), wait=True, check=False, timeout=300)
    assert all(r.ok for r in res.values())
    session_for(project).close()
    connections = count_ssh_connections(private_sshd.log, offset)
    print(f"100-job run over SSH: {connections} connection(s)")
    assert connections == 1


@pytest.mark.parametrize("fault", ["wrong key", "unknown host key", "closed port"])
def test_connection_faults_name_the_alias(
    project: Project, sshd: SshInfo, fault: str, tmp_path: Path
) -> None:
    config = Path(sshd.ssh_config).read_text()
    if fault == "wrong key":
        key = tmp_path / "other_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        config = config.replace(str(sshd.key), str(key))
    elif fault == "unknown host key":
        empty = tmp_path / "known_hosts"
        empty.write_text("")
        config = config.replace(str(sshd.known_hosts), str(empty))
    else:
        config = config.replace(f"Port {sshd.port}", f"Port {_free_port()}")
    custom = tmp_path / "ssh_config"
    custom.write_text(config)
    (project.root / "jobledger.toml").write_text(
        f'[hosts.faraway]\nssh = "{sshd.alias}"\nssh_config = "{custom}"\nscheduler = "slurm"\n'
    )
    with pytest.raises(jl.ConnectionFailed) as info:
        jl.run(jl.Job(name="x", command="true", host="faraway"), wait=True, check=False, timeout=60)
    message = str(info.value)
    assert "'faraway'" in message
    expected = {"wrong key": "authentication", "unknown host key": "host key", "closed port": "refused"}[
        fault
    ]
    assert expected in message.lower(), message


def test_hosts_check_over_ssh(cluster: Project) -> None:
    import sys

    from conftest import env_with_src

    out = subprocess.run([sys.executable, "-m", "jobledger.cli.main", "hosts", "check", "cluster"],
                         cwd=cluster.root, capture_output=True, text=True, env=env_with_src(), timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "connected as hpcuser" in out.stdout
    assert "detected: slurm" in out.stdout and "slurm-wlm" in out.stdout
    assert "squeue: /usr/bin/squeue" in out.stdout and "cloudpickle ok" in out.stdout
    listing = subprocess.run([sys.executable, "-m", "jobledger.cli.main", "hosts"], cwd=cluster.root,
                             capture_output=True, text=True, env=env_with_src(), timeout=60)  # fmt: skip
    assert "cluster" in listing.stdout and "hpc-test" in listing.stdout
