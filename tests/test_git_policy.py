"""The git policy (docs/git.md): a committed project cloned reuses every finished job, and
a real ``git merge`` of two clones that both ran the same workflow has no conflict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import env_with_src, run_cli
from jobledger.project import Project

SCRIPT = """\
import sys
import jobledger as jl

def square(x):
    return {"square": x * x}

side = sys.argv[1]
common = jl.Job(name="common", command="echo common; echo $$ $PWD")  # output differs per clone
mine = jl.Job(name=f"only_{side}", command=f"echo {side}", after=[common])
call = jl.Job(square, name="call", args=(7,))
arr = jl.Job(name="arr", command="echo element $JOBLEDGER_ARRAY_INDEX", array=2)
results = jl.run(jl.Workflow([mine, call, arr], name="wf"), wait=True)
print("value", results["call"].value)
"""


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "t")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "t@example.org")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def _ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, f"{out.args}: {out.stdout}{out.stderr}"
    return out.stdout


def _run(cwd: Path, side: str) -> str:
    out = subprocess.run(
        [sys.executable, "wf.py", side],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _commit(cwd: Path, message: str) -> None:
    _ok(_git(cwd, "add", "-A"))
    _ok(_git(cwd, "commit", "-qm", message))


def _spawned(root: Path) -> int:
    out = _ok(run_cli(root, "log", "--json"))
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sum(1 for e in events if e.get("type") == "intent")


def _origin(tmp_path: Path) -> Path:
    origin = tmp_path / "origin"
    Project.init(origin).close()
    (origin / "wf.py").write_text(SCRIPT)
    _ok(_git(origin, "init", "-q", "-b", "main"))
    _commit(origin, "start")
    return origin


def test_init_writes_the_policy(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Project.init(root).close()
    ignored = (root / "jobs" / ".gitignore").read_text().split()
    assert {"job.sh", "claim", "exit", "task-*.pkl"} <= set(ignored)
    assert "stdout merge=union" in (root / "jobs" / ".gitattributes").read_text()
    (root / "jobs" / ".gitignore").write_text("mine\n")  # a user's edit survives a second init
    Project.init(root).close()
    assert (root / "jobs" / ".gitignore").read_text() == "mine\n"


def test_clone_reuses_everything(tmp_path: Path) -> None:
    origin = _origin(tmp_path)
    _run(origin, "left")
    _commit(origin, "ran")
    tracked = _ok(_git(origin, "ls-files", "jobs")).split()
    names = {Path(p).name for p in tracked}
    assert names <= {".gitignore", ".gitattributes", "stdout", "stderr", "result.pkl"}, names
    _ok(_git(tmp_path, "clone", "-q", str(origin), "clone"))
    clone = tmp_path / "clone"
    before = _spawned(clone)
    assert "value {'square': 49}" in _run(clone, "left")  # result.pkl came with the clone
    assert _spawned(clone) == before  # nothing ran again
    rows = json.loads(_ok(run_cli(clone, "status", "--json")))
    assert rows and all(r["reused"] and r["state"] == "completed" for r in rows), rows
    assert "jobs/" not in _ok(_git(clone, "status", "--porcelain", "--", "jobs"))


def test_merge_of_two_clones_that_ran_the_same_workflow(tmp_path: Path) -> None:
    origin = _origin(tmp_path)
    for side in ("left", "right"):  # both run common, call and arr (same keys) and their own job
        _ok(_git(tmp_path, "clone", "-q", str(origin), side))
        _run(tmp_path / side, side)
        _commit(tmp_path / side, f"{side} ran")
    left = tmp_path / "left"
    merged = _git(left, "pull", "-q", "--no-rebase", str(tmp_path / "right"), "main")
    assert merged.returncode == 0, merged.stdout + merged.stderr  # no conflict, no -X option
    assert "CONFLICT" not in merged.stdout + merged.stderr
    assert _ok(_git(left, "diff", "--name-only", "--diff-filter=U")) == ""
    assert _ok(run_cli(left, "verify")).startswith("ledger intact")
    rows = {r["name"]: r for r in json.loads(_ok(run_cli(left, "status", "--json")))}
    assert {"common", "only_left", "only_right", "call", "arr"} <= set(rows)
    assert all(r["state"] == "completed" for r in rows.values()), rows
    common = (left / rows["common"]["run_dir"] / "stdout").read_text()
    assert common.count("common") == 1 and len(common.splitlines()) == 3  # union of both sides
    _run(left, "left")  # the next run on the merged tree settles the definitions, runs nothing
    assert _ok(run_cli(left, "verify")).startswith("ledger intact")


def test_gc_removes_only_what_no_record_uses(tmp_path: Path) -> None:
    root = tmp_path / "p"
    Project.init(root).close()
    (root / "wf.py").write_text(SCRIPT)
    _run(root, "left")
    kept = sorted(p.name for p in (root / "jobs").iterdir() if p.is_dir())
    stray = root / "jobs" / "gone-0123abcd"  # e.g. left by a run whose segments were not kept
    stray.mkdir()
    (stray / "stdout").write_text("old\n")
    superseded = root / "jobs" / kept[0] / "attempt-7"  # an attempt the ledger does not know
    superseded.mkdir()
    young = root / "jobs" / "young-0123abcd"
    young.mkdir()
    os.utime(stray, (1, 1))
    os.utime(stray / "stdout", (1, 1))
    os.utime(superseded, (1, 1))
    listed = _ok(run_cli(root, "gc"))
    assert "would remove jobs/gone-0123abcd/ (1 files, 4 bytes)" in listed, listed
    assert f"jobs/{kept[0]}/attempt-7/" in listed and "young" not in listed
    assert stray.exists()  # only listed
    removed = _ok(run_cli(root, "gc", "--yes"))
    assert "removed 2 folder(s)" in removed, removed
    assert not stray.exists() and not superseded.exists() and young.exists()
    assert sorted(p.name for p in (root / "jobs").iterdir() if p.is_dir()) == sorted(
        [*kept, "young-0123abcd"]
    )
    assert "removed 1 folder(s)" in _ok(run_cli(root, "gc", "--yes", "--min-age", "0"))  # young too
    assert _ok(run_cli(root, "verify")).startswith("ledger intact")
