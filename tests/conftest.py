"""Shared fixtures: a fresh project per test, no user configuration leaking in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobledger.project import Project
from jobledger.session.registry import _SESSIONS, forget_session
from services import SshInfo, require, sshd_available, sshd_info


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's ~/.config/jobledger/config.toml."""
    monkeypatch.setenv("JOBLEDGER_USER_CONFIG", str(tmp_path_factory.getbasetemp() / "no-user-config.toml"))
    for var in (
        "JOBLEDGER_PROJECT",
        "JOBLEDGER_HOST",
        "JOBLEDGER_FORCE",
        "JOBLEDGER_MAX_PARALLEL",
        "HPC_SCHEDULER",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A new project in a temporary directory, which is also the cwd."""
    root = tmp_path / "proj"
    proj = Project.init(root)
    monkeypatch.chdir(root)
    yield proj
    for root in [r for r in _SESSIONS if r == proj.root]:
        session = _SESSIONS[root]
        session.finish()
        forget_session(session.project)
    proj.close()


def python() -> str:
    """The interpreter running the tests (has jobledger installed)."""
    return sys.executable


def wait_until_running(handle: Any, name: str, timeout: float = 30) -> None:
    """Poll ``jl.check(handle)`` until job ``name`` runs (fails after ``timeout`` s)."""
    import jobledger as jl

    deadline = time.monotonic() + timeout
    while jl.check(handle)[name] is not jl.JobState.RUNNING:
        assert time.monotonic() < deadline, f"{name} did not start within {timeout} s"
        time.sleep(0.05)


def env_with_src() -> dict[str, str]:
    """Environment for subprocesses that import jobledger."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(
    cwd: Path, *args: str, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``jobledger ARGS`` run in ``cwd`` as a separate process, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=timeout,
        check=check,
    )


@pytest.fixture(scope="module")
def sshd() -> SshInfo:
    """The shared test sshd (``make sshd-up``); skipped, or failed under CI, without it."""
    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    assert info is not None
    return info


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Ported upstream tests marked ``not_applicable`` are deselected (each says why)."""
    keep, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("not_applicable") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
