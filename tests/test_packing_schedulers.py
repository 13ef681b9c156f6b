"""Same-shape jobs as array submissions on the real SLURM and the real Grid Engine.

Submissions are counted from the scheduler's own records, never from the ledger: SLURM's
job completion log (``JobCompLoc``, one line per job or array element, with its working
directory) and the controller's log (one ``_slurm_rpc_submit_batch_job`` line per
``sbatch``); Grid Engine's accounting (``qacct``, one record per job or task). Every job
appends its name to a marker file outside the project, so a job run twice or never shows.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.project import Project
from services import require, sge_available, slurm_available

SCHEDULERS = [pytest.param("slurm", marks=pytest.mark.slurm), pytest.param("sge", marks=pytest.mark.sge)]
TIMEOUT = 240.0


# ---------------------------------------------------------------------- the schedulers' records
def _slurm_config(key: str) -> str:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    m = re.search(rf"^{key}\s*=\s*(.*)$", out, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _jobcomp(root: Path) -> list[dict[str, str]]:
    """SLURM's completion records of the jobs that started in ``root`` (or under it)."""
    path = Path(_slurm_config("JobCompLoc"))
    records = []
    for line in path.read_text(errors="replace").splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        workdir = fields.get("WorkDir", "")
        if workdir == str(root) or workdir.startswith(f"{root}/"):
            records.append(fields)
    return records


def _qacct(prefix: str) -> list[dict[str, str]]:
    """Grid Engine's accounting records of the jobs whose name starts with ``prefix``."""
    out = subprocess.run(["qacct", "-j", f"{prefix}*"], capture_output=True, text=True, check=False).stdout
    records = []
    for chunk in re.split(r"^={5,}\s*$", out, flags=re.MULTILINE):
        fields = dict(line.split(None, 1) for line in chunk.splitlines() if len(line.split(None, 1)) == 2)
        if "jobnumber" in fields:
            records.append({k: v.strip() for k, v in fields.items()})
    return records


class Records:
    """One scheduler's records of a test's jobs: ``elements()`` (one per job or array
    element that ran) and ``submissions()`` (their distinct job ids)."""

    def __init__(self, scheduler: str, root: Path, prefix: str) -> None:
        self.scheduler = scheduler
        self.root = root
        self.prefix = prefix
        self.log_offset = 0
        if scheduler == "slurm":
            require(
                None if _slurm_config("JobCompType") == "jobcomp/filetxt" else "JobCompType is not filetxt",
                "SLURM's job completion log (make slurm-up)",
            )
            self.log = Path(_slurm_config("SlurmctldLogFile"))
            self.log_offset = self.log.stat().st_size

    def elements(self) -> list[dict[str, str]]:
        if self.scheduler == "slurm":
            return _jobcomp(self.root)
        return _qacct(self.prefix)

    def submissions(self) -> set[str]:
        if self.scheduler == "slurm":
            return {r.get("ArrayJobId") or r["JobId"] for r in self.elements()}
        return {r["jobnumber"] for r in self.elements()}

    def submit_lines(self, ids: set[str]) -> list[str]:
        """The controller's log lines of submissions of ``ids`` since the test began."""
        with self.log.open("rb") as f:
            f.seek(self.log_offset)
            text = f.read().decode(errors="replace")
        pattern = re.compile(r"_slurm_rpc_submit_batch_job: JobId=(\d+) ")
        return [line for line in text.splitlines() if (m := pattern.search(line)) and m.group(1) in ids]

    def wait_for(self, count: int) -> list[dict[str, str]]:
        """The records once ``count`` elements are there (the scheduler writes them as the
        jobs end, maybe after the engine saw their exit files)."""
        deadline = time.monotonic() + 60
        while True:
            found = self.elements()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def _configure(scheduler: str, project: Project, extra: str = "") -> None:
    require(slurm_available() if scheduler == "slurm" else sge_available(), f"{scheduler} (make services-up)")
    (project.root / "jobledger.toml").write_text(
        f'[hosts.cluster]\nscheduler = "{scheduler}"\npoll_interval = 0.5\n{extra}'
    )


def _ran(marker: Path) -> list[str]:
    return sorted(marker.read_text().split()) if marker.exists() else []


def _prefix(label: str) -> str:
    return f"pk{os.getpid()}{label}{time.time_ns() % 100000}"


def _pack_tags(project: Project) -> dict[str, list[int]]:
    """Pack tag -> the elements the intents named (the ledger's own word, for messages)."""
    project.ledger.refresh()
    tags: dict[str, list[int]] = {}
    for event in project.ledger.iter_events():
        pack = event.data.get("pack") if event.type == "intent" else None
        if pack:
            tags.setdefault(pack[0], []).append(pack[1])
    return tags


# ---------------------------------------------------------------------- one submission per shape
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_same_shape_jobs_are_one_submission_per_shape(
    scheduler: str, project: Project, tmp_path: Path
) -> None:
    _configure(scheduler, project)
    prefix = _prefix("s")
    records = Records(scheduler, project.root, prefix)
    marker = tmp_path / "ran.txt"
    short = [
        jl.Job(name=f"{prefix}a{i}", command=f"echo {prefix}a{i} >> {marker}", host="cluster")
        for i in range(20)
    ]
    failing = jl.Job(name=f"{prefix}a20", command=f"echo {prefix}a20 >> {marker}; exit 3", host="cluster")
    timed = [
        jl.Job(
            name=f"{prefix}b{i}", command=f"echo {prefix}b{i} >> {marker}", host="cluster", time="00:10:00"
        )
        for i in range(6)
    ]
    jobs = [*short, failing, *timed]
    results = jl.run(jl.Workflow(jobs, name="shapes"), wait=True, check=False, timeout=TIMEOUT)

    assert _ran(marker) == sorted(j.name for j in jobs)  # each job ran, once
    assert results[failing.name].state is jl.JobState.FAILED and results[failing.name].exit_code == 3
    others = {n: r.state for n, r in results.items() if n != failing.name}
    assert set(others.values()) == {jl.JobState.COMPLETED}, others  # one failure fails no other
    elements = records.wait_for(len(jobs))
    submissions = records.submissions()
    assert len(elements) == len(jobs), f"{len(elements)} records for {len(jobs)} jobs"
    assert len(submissions) == 2, f"{submissions} (packs in the ledger: {_pack_tags(project)})"
    if scheduler == "slurm":
        lines = records.submit_lines(submissions)
        assert len(lines) == 2, lines  # the controller took two sbatch, one per shape
    ids = {r.scheduler_id for r in results.values()}
    assert len(ids) == len(jobs)  # each job is its own element


# ---------------------------------------------------------------------- a driver killed mid-pack
CRASH = textwrap.dedent(
    """
    import sys
    import jobledger as jl

    prefix, marker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    gate = jl.Job(name=f"{prefix}gate", command=f"sleep 8; echo {prefix}gate >> {marker}", host="cluster")
    jobs = [
        jl.Job(name=f"{prefix}j{i}", command=f"echo {prefix}j{i} >> {marker}", host="cluster",
               after=[jl.Dependency(gate, "afterany")])
        for i in range(count)
    ]
    jl.run(jl.Workflow(jobs, name="crash"), wait=True, check=False)
    """
)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("fault", ["after-intent:2", "before-outcome:2", "after-submit:5"])
def test_driver_killed_around_the_pack_loses_and_doubles_nothing(
    scheduler: str, fault: str, project: Project, tmp_path: Path
) -> None:
    """The gate's one submission passes each crash point once, the pack's 12 jobs once
    each: ``:2`` dies before (``after-intent``) or after (``before-outcome``) the pack's
    sbatch, ``after-submit:5`` after some outcomes were appended. The pack waits for the
    gate, so nothing has started when ``jobledger wait`` looks the pack up."""
    _configure(scheduler, project)
    prefix = _prefix("c")
    records = Records(scheduler, project.root, prefix)
    marker = tmp_path / "ran.txt"
    count = 12
    (project.root / "crash.py").write_text(CRASH)
    env = env_with_src()
    env["JOBLEDGER_FAULT"] = fault
    proc = subprocess.run(
        [sys.executable, "crash.py", prefix, str(marker), str(count)],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    out = run_cli(project.root, "wait", "--timeout", str(TIMEOUT), timeout=TIMEOUT + 60)
    assert out.returncode == 0, out.stderr

    names = [f"{prefix}gate", *(f"{prefix}j{i}" for i in range(count))]
    assert _ran(marker) == sorted(names)  # nothing lost, nothing run twice
    elements = records.wait_for(len(names))
    submissions = records.submissions()
    assert len(elements) == len(names), f"{len(elements)} records for {len(names)} jobs"
    assert len(submissions) == 2, f"{submissions} (packs in the ledger: {_pack_tags(project)})"
    if fault != "after-intent:2":  # the pack was submitted before the kill: found, not resubmitted
        project.ledger.refresh()
        reconciled = {
            e.data["key"]
            for e in project.ledger.iter_events()
            if e.type == "submitted" and e.data.get("reconciled")
        }
        assert reconciled, "no packed job was reconciled"


# ---------------------------------------------------------------------- cancel one element
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_cancel_of_one_packed_job_cancels_only_its_element(
    scheduler: str, project: Project, tmp_path: Path
) -> None:
    _configure(scheduler, project)
    prefix = _prefix("x")
    started = tmp_path / "started"
    started.mkdir()
    jobs = [
        jl.Job(name=f"{prefix}{i}", command=f"touch {started}/{i}; sleep 4", host="cluster") for i in range(4)
    ]
    handle = jl.run(jl.Workflow(jobs, name="cancel-one"))
    _until(lambda: len(list(started.iterdir())) >= 2, "two elements to start")
    assert jl.stop(jobs[1]) == [jobs[1].name]
    results = handle.wait(timeout=TIMEOUT, check=False)
    states = {n: r.state for n, r in results.items()}
    assert states.pop(jobs[1].name) is jl.JobState.CANCELLED
    assert set(states.values()) == {jl.JobState.COMPLETED}, states
    assert len({r.scheduler_id.partition("[")[0] for r in results.values() if r.scheduler_id}) == 1


def _until(probe: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# ---------------------------------------------------------------------- limits
@pytest.mark.slurm
def test_max_in_flight_bounds_packs_and_max_parallel_throttles_them(project: Project, tmp_path: Path) -> None:
    _configure("slurm", project, "max_in_flight = 6\nmax_parallel = 2\n")
    prefix = _prefix("m")
    marker = tmp_path / "ran.txt"
    jobs = [
        jl.Job(name=f"{prefix}{i}", command=f"echo {prefix}{i} >> {marker}; sleep 1", host="cluster")
        for i in range(10)
    ]
    results = jl.run(jl.Workflow(jobs, name="limits"), wait=True, check=False, timeout=TIMEOUT)
    assert {r.state for r in results.values()} == {jl.JobState.COMPLETED}
    assert _ran(marker) == sorted(j.name for j in jobs)
    packs = _pack_tags(project)
    assert packs and all(len(members) <= 6 for members in packs.values()), packs
    scripts = list((project.root / ".jobledger" / "cache" / "packs").glob("*.sh"))
    assert scripts and all(re.search(r"^#SBATCH --array=\S+%2$", s.read_text(), re.M) for s in scripts)
    # SLURM ran at most two elements of a pack at once (their exit records' times)
    spans: dict[str, list[tuple[float, float]]] = {}
    for name, result in results.items():
        exit_text = (project.root / result.unit_dir / "exit").read_text()
        times = dict(line.split("=", 1) for line in exit_text.splitlines() if "=" in line)
        base = (result.scheduler_id or name).partition("[")[0]
        spans.setdefault(base, []).append((float(times["started"]), float(times["ended"])))
    for base, pairs in spans.items():
        most = max(sum(1 for s, e in pairs if s <= start < e) for start, _ in pairs)
        assert most <= 2, f"array {base} ran {most} elements at once"
