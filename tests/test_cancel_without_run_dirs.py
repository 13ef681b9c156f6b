"""`jobledger cancel` of jobs whose run directories are gone (a clone, a clean-up)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from big_ledger import seed
from conftest import env_with_src


def test_cancel_of_running_jobs_whose_directories_are_gone(tmp_path: Path) -> None:
    root = seed(tmp_path / "proj", 10, running=2)
    shutil.rmtree(root / "jobs", ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", "cancel"],
        cwd=root,
        env=env_with_src(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 0, out.stderr
    status = subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", "status", "--json"],
        cwd=root,
        env=env_with_src(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    states = {r["name"]: r["state"] for r in json.loads(status.stdout)}
    assert sorted(n for n, s in states.items() if s == "cancelled") == ["post-3", "post-4"], states
    verify = subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", "verify"],
        cwd=root,
        env=env_with_src(),
        capture_output=True,
    )
    assert verify.returncode == 0
