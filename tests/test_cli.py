"""CLI basics: init, log (--json, --follow with watchdog), status, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.ledger import events as ev
from jobledger.project import Project

CLI = [sys.executable, "-m", "jobledger.cli.main"]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(cwd, *args)


def test_init_creates_a_committable_project(tmp_path: Path) -> None:
    out = _cli(tmp_path, "init", "proj")
    assert out.returncode == 0 and "initialised" in out.stdout
    root = tmp_path / "proj"
    assert (root / ".jobledger" / "ledger").is_dir() and (root / "jobs").is_dir()
    assert (root / ".jobledger" / ".gitignore").read_text().strip().endswith("cache/")
    again = _cli(tmp_path, "init", "proj")  # idempotent
    assert again.returncode == 0


def test_project_found_upward_and_by_env(project: Project, tmp_path: Path) -> None:
    deep = project.root / "a" / "b"
    deep.mkdir(parents=True)
    assert Project.find(deep) == project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _cli(elsewhere, "status")
    assert out.returncode == 2 and out.stderr.startswith("jobledger: error: no jobledger project")
    env = env_with_src() | {"JOBLEDGER_PROJECT": str(project.root)}
    ok = subprocess.run(
        [*CLI, "status", "--json"], cwd=elsewhere, capture_output=True, text=True, env=env, timeout=60
    )
    assert ok.returncode == 0 and json.loads(ok.stdout) == []


def test_log_human_and_json(project: Project) -> None:
    jl.run(jl.Job(name="hello", command="echo hi"), wait=True, check=False, timeout=60)
    human = _cli(project.root, "log")
    assert "intent" in human.stdout and "state=completed" in human.stdout
    lines = [json.loads(line) for line in _cli(project.root, "log", "--json").stdout.splitlines()]
    types = [e["type"] for e in lines]
    assert types[0] == "segment" and "workflow" in types and "submitted" in types
    clocks = [e["clock"] for e in lines]
    assert clocks == sorted(clocks)


def test_log_follow_prints_new_events(project: Project) -> None:
    project.ledger.record(ev.Note(message="before"))
    project.close()
    follow = subprocess.Popen(
        [*CLI, "log", "--follow"], cwd=project.root, stdout=subprocess.PIPE, text=True, env=env_with_src()
    )
    try:
        time.sleep(1.5)
        writer = Project(project.root)
        writer.ledger.record(ev.StateChanged(key="k" * 32, attempt=1, state="running"))
        writer.close()
        deadline = time.time() + 20
        seen = ""
        assert follow.stdout is not None
        while "state=running" not in seen:
            assert time.time() < deadline, seen
            seen += follow.stdout.readline()
    finally:
        follow.terminate()
        follow.wait(timeout=10)
        if follow.stdout is not None:
            follow.stdout.close()


def test_status_json_schema_and_table(project: Project) -> None:
    jl.run(jl.Job(name="arr", command="true", array=3), wait=True, check=False, timeout=60)
    rows = json.loads(_cli(project.root, "status", "--json").stdout)
    (row,) = rows
    for key in ("name", "key", "state", "host", "scheduler_id", "exit_code", "reused", "attempts", "array"):
        assert key in row
    assert [e["index"] for e in row["array"]] == [0, 1, 2]
    table = _cli(project.root, "status").stdout
    assert "arr" in table and "completed (3/3)" in table


def test_errors_are_one_line(project: Project) -> None:
    out = _cli(project.root, "wait", "no-such-job")
    assert out.returncode == 2 and "no job or workflow named 'no-such-job'" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_a_script_with_host_override(project: Project) -> None:
    (project.root / "jobledger.toml").write_text('[hosts.other]\nscheduler = "local"\n')
    Path("script.py").write_text(
        "import jobledger as jl\njl.run(jl.Job(name='s', command='echo from script'))\n"
    )
    out = _cli(project.root, "run", "script.py", "--host", "other")
    assert out.returncode == 0, out.stderr
    rows = json.loads(_cli(project.root, "status", "--json").stdout)
    assert rows[0]["host"] == "other" and rows[0]["state"] == "completed"
