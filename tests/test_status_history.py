"""``jobledger status`` tells the truth about history: reuse of the latest run, earlier
definitions (superseded), two lines of history joined by a real ``git merge``, unknown
workflow names, and whether anyone drives the unfinished jobs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.project import Project
from jobledger.view.status import status_rows
from jobledger.view.status_table import COLUMNS, status_view


def _rows(root: Path, *args: str) -> list[dict[str, Any]]:
    out = run_cli(root, "status", "--json", *args)
    assert out.returncode == 0, out.stderr
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


def _sweep(count: int, only: list[int] | None = None, fail: int | None = None) -> jl.Workflow:
    indices = only if only is not None else list(range(count))
    jobs = [
        jl.Job(name=f"run{i}", command=f"echo run {i}" + ("; exit 3" if i == fail else "")) for i in indices
    ]
    return jl.Workflow(jobs, name="sweep")


def test_a_sweep_re_run_hides_none_of_the_runs(project: Project) -> None:
    first = jl.run(_sweep(50, fail=7), wait=True, check=False, timeout=120, max_parallel=8)
    assert first["run7"].state is jl.JobState.FAILED
    jl.run(_sweep(50, only=[7]), wait=True, timeout=60)  # re-run the failed run alone

    rows = _rows(project.root)
    assert sorted(r["name"] for r in rows) == sorted(f"run{i}" for i in range(50))
    current = [r for r in rows if not r["superseded"]]
    assert [(r["name"], r["state"]) for r in current] == [("run7", "completed")]
    assert all(r["state"] == "completed" and r["workflow"] == "sweep" for r in rows)

    every = _rows(project.root, "--all")  # also the first, failed version of run7
    assert len(every) == 51
    assert [r["state"] for r in every if r["name"] == "run7"] == ["completed", "failed"]

    table = run_cli(project.root, "status").stdout
    assert table.count("completed · superseded") == 49 and "failed" not in table
    assert "1 job: 1 completed; and 49 of earlier definitions (superseded)" in table
    assert "failed" in run_cli(project.root, "status", "--all").stdout


def test_reused_follows_the_latest_run(project: Project) -> None:
    def workflow() -> jl.Workflow:
        first = jl.Job(name="first", command="echo one")
        return jl.Workflow([jl.Job(name="second", command="echo two", after=[first])], name="w")

    jl.run(workflow(), wait=True, timeout=60)
    assert [r["reused"] for r in _rows(project.root)] == [False, False]

    again = jl.run(workflow(), wait=True, timeout=60)
    assert all(r.reused for r in again.values())
    assert [r["reused"] for r in _rows(project.root)] == [True, True]
    assert run_cli(project.root, "graph", "-f", "mermaid").stdout.count("reused") == 2
    assert "2 reused by the latest run" in run_cli(project.root, "status").stdout

    forced = jl.run(workflow(), wait=True, force=True, timeout=60)
    assert not any(r.reused for r in forced.values())
    assert [r["reused"] for r in _rows(project.root)] == [False, False]
    assert "reused" not in run_cli(project.root, "graph", "-f", "mermaid").stdout
    assert "reused" not in run_cli(project.root, "status").stdout.split("\n", 3)[3]
    report = project.root / "r.html"
    assert run_cli(project.root, "report", "-o", str(report)).returncode == 0
    assert "reused from an earlier run" not in report.read_text()


def test_unknown_workflow_is_an_error_listing_the_known_ones(project: Project) -> None:
    jl.run(jl.Job(name="a", command="true"), name="alpha", wait=True, timeout=60)
    jl.run(jl.Job(name="b", command="true"), name="beta", wait=True, timeout=60)
    for args in (("status", "-w", "nosuch"), ("status", "--json", "-w", "nosuch"), ("graph", "-w", "x")):
        out = run_cli(project.root, *args)
        assert out.returncode == 2, out
        assert "no workflow named" in out.stderr and "known: alpha, beta" in out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""
    assert [r["name"] for r in _rows(project.root, "-w", "beta")] == ["b"]


SCRIPT = """\
import jobledger as jl
MSG = "base"
common = jl.Job(name="common", command="echo common")
variant = jl.Job(name="variant", command=f"echo {MSG}", after=[common])
jl.run(jl.Workflow([variant]), wait=True)
"""


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


def _python(cwd: Path, script: str = "wf.py") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, script], cwd=cwd, capture_output=True, text=True, env=env_with_src(), timeout=120
    )


def test_concurrent_definitions_after_a_git_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_COMMITTER_NAME", "t")):
        monkeypatch.setenv(var, value)
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "t@example.org")
    origin = tmp_path / "origin"
    Project.init(origin).close()
    (origin / "wf.py").write_text(SCRIPT)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "start")
    for side in ("left", "right"):  # two clones, each edits the script and runs it
        _git(tmp_path, "clone", "-q", str(origin), side)
        clone = tmp_path / side
        (clone / "wf.py").write_text(SCRIPT.replace('"base"', f'"{side}"'))
        assert _python(clone).returncode == 0
        _git(clone, "add", "-A")
        _git(clone, "commit", "-qm", f"{side} ran")
    left = tmp_path / "left"
    # both sides ran `common` (same key): its run directory differs by timing only
    _git(left, "pull", "-q", "--no-rebase", "-X", "theirs", str(tmp_path / "right"), "main")
    assert "right" in (left / "wf.py").read_text()
    assert run_cli(left, "verify").returncode == 0

    rows = _rows(left)
    assert sorted((r["name"], r["definition"]) for r in rows) == [
        ("common", 1),
        ("variant", 1),
        ("variant", 2),
    ]
    assert not any(r["superseded"] for r in rows)
    assert not any(r["reused"] for r in rows)  # each side ran `common` itself
    outputs = {(left / r["run_dir"] / "stdout").read_text().strip() for r in rows if r["name"] == "variant"}
    assert outputs == {"left", "right"}
    table = run_cli(left, "status").stdout
    assert "workflow default was defined on 2 lines of history" in table
    assert "the next run of wf.py settles it" in table

    assert _python(left).returncode == 0  # the next run on the merged tree settles it
    rows = _rows(left)
    assert [(r["name"], r["superseded"], "definition" in r) for r in rows] == [
        ("common", False, False),
        ("variant", False, False),
    ]
    assert (left / rows[1]["run_dir"] / "stdout").read_text().strip() == "right"
    assert "lines of history" not in run_cli(left, "status").stdout
    every = _rows(left, "--all")
    assert sorted((r["name"], r["superseded"]) for r in every) == [
        ("common", False),
        ("variant", False),
        ("variant", True),
    ]


GATED = """\
import sys
import jobledger as jl
gate = sys.argv[1]
hold = jl.Job(name="hold", command=f"while [ ! -e {gate} ]; do sleep 0.05; done")
jl.run(jl.Workflow([jl.Job(name="after", command="echo after", after=[hold])], name="gated"),
       wait=True, timeout=120)
"""


def test_status_tells_a_driven_workflow_from_one_whose_driver_is_gone(project: Project) -> None:
    (project.root / "gated.py").write_text(GATED)
    gate = project.root / "gate"
    driver = subprocess.Popen(
        [sys.executable, "gated.py", str(gate)],
        cwd=project.root,
        env=env_with_src() | {"JOBLEDGER_QUIET": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            rows = {r["name"]: r for r in _rows(project.root)} if (project.root / "jobs").exists() else {}
            if rows.get("hold", {}).get("state") == "running":
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.2)
        assert rows["hold"]["driver"].startswith(f"pid {driver.pid} on host ")
        table = run_cli(project.root, "status").stdout
        assert f"workflow gated is driven by pid {driver.pid}" in table
        assert "no driver running" not in table

        os.kill(driver.pid, signal.SIGKILL)  # the driver is gone; its job keeps running
        driver.wait(timeout=30)
        rows = {r["name"]: r for r in _rows(project.root)}
        assert rows["hold"]["state"] == "running" and rows["hold"]["driver"] is None
        assert rows["after"]["state"] == "pending" and rows["after"]["driver"] is None
        table = run_cli(project.root, "status").stdout
        assert "running · no driver running" in table and "pending · no driver running" in table
        assert "workflow gated: 2 unfinished job(s) and no driver running; carry on with" in table
        assert "`jobledger resume`" in table
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=30)
        gate.touch()
    done = run_cli(project.root, "resume")
    assert done.returncode == 0, done.stderr
    rows = _rows(project.root)
    assert [(r["name"], r["state"]) for r in rows] == [("hold", "completed"), ("after", "completed")]
    assert all("driver" not in r for r in rows)
    assert "no driver" not in run_cli(project.root, "status").stdout


def test_the_status_table_fits_the_terminal(project: Project) -> None:
    jl.run(_sweep(3, fail=1), wait=True, check=False, timeout=60)
    jl.run(_sweep(3, only=[1]), wait=True, timeout=60)
    state = project.ledger.state
    rows = status_rows(state, history="superseded")

    def render(width: int) -> list[str]:
        out = Console(file=io.StringIO(), width=width, color_system=None)
        for part in status_view(state, rows, width=width):
            out.print(part)
        text = out.file.getvalue()  # type: ignore[attr-defined]
        return [line.rstrip() for line in text.splitlines()]

    narrow = render(80)
    assert all(len(line) <= 80 for line in narrow), "\n".join(narrow)
    header = next(line for line in narrow if "name" in line)
    assert [c for c in COLUMNS if c in header] == ["name", "state", "host", "elapsed", "exit", "reused"]
    assert any("completed · superseded" in line for line in narrow)  # the state is never cut
    wide = render(200)
    header = next(line for line in wide if "name" in line)
    assert all(c in header for c in COLUMNS)
