"""A failing Python-function job's traceback names the user's file and line and shows the
source line — for a function in the user's own module (pickled by value), one in the
script itself (``__main__``), and on a remote host where the user's file does not exist.
Whatever cloudpickle version is installed (3.1.3 renames such code ``<dynamic-code>``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src
from jobledger.project import Project
from services import SshInfo, require, slurm_available, sshd_available, sshd_info

MODULE = """\
def helper(n):
    return 10 // n  # the line that fails


def divide(n):
    value = helper(n)
    return value
"""


def _frames(traceback: str, path: Path) -> list[str]:
    return [line for line in traceback.splitlines() if f'File "{path}"' in line]


def test_traceback_of_a_function_from_the_users_module(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_dir = project.root / "code"
    module_dir.mkdir()
    path = module_dir / "mymath.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(module_dir))
    import mymath  # type: ignore[import-not-found]

    job = jl.Job(name="divide", command=mymath.divide, args=(0,))
    results = jl.run(jl.Workflow([job], name="tb"), wait=True, check=False)
    error = results["divide"].error
    assert error is not None and error["type"] == "ZeroDivisionError"
    trace = error["traceback"]
    assert "<dynamic-code>" not in trace
    frames = _frames(trace, path)
    assert any("line 6, in divide" in f for f in frames), trace
    assert any("line 2, in helper" in f for f in frames), trace
    assert "return 10 // n  # the line that fails" in trace
    assert "value = helper(n)" in trace


def test_traceback_of_a_function_in_the_script(project: Project) -> None:
    script = project.root / "wf.py"
    script.write_text(
        textwrap.dedent(
            """\
            import jobledger as jl

            def broken():
                items = []
                return items[3]  # out of range

            results = jl.run(jl.Workflow([jl.Job(name="broken", command=broken)], name="s"), wait=True,
                             check=False)
            print(results["broken"].error["traceback"])
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f'File "{script}", line 5, in broken' in done.stdout, done.stdout
    assert "return items[3]  # out of range" in done.stdout


@pytest.mark.ssh
@pytest.mark.slurm
def test_traceback_on_a_host_without_the_file(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    info: SshInfo | None = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    require(slurm_available(), "SLURM (make slurm-up)")
    assert info is not None
    require(
        None if info.python else "no python recorded for it", "a Python with cloudpickle on the test sshd"
    )
    (project.root / "jobledger.toml").write_text(
        f'[hosts.away]\nssh = "{info.alias}"\nssh_config = "{info.ssh_config}"\n'
        f'scheduler = "slurm"\nworkdir = "jl-tb-{project.root.parent.name}"\n'
        f'python = "{info.python}"\npoll_interval = 0.5\n'
    )
    module_dir = project.root / "code"
    module_dir.mkdir()
    path = module_dir / "mymath_remote.py"
    path.write_text(MODULE)
    monkeypatch.syspath_prepend(str(module_dir))
    import mymath_remote  # type: ignore[import-not-found]

    job = jl.Job(name="divide", command=mymath_remote.divide, args=(0,), host="away")
    results = jl.run(jl.Workflow([job], name="tb-remote"), wait=True, check=False, timeout=180)
    error = results["divide"].error
    assert error is not None, results["divide"]
    trace = error["traceback"]
    assert any("line 2, in helper" in f for f in _frames(trace, path)), trace
    assert "return 10 // n  # the line that fails" in trace
