"""Failures and Ctrl-C as a user sees them: ``python wf.py`` and ``jobledger run wf.py``
in a pseudo-terminal (pexpect) and from pipes.

A failing job makes the script exit non-zero with the job and its exit code on stderr and
no traceback. Ctrl-C ends with exit status 130 and one line naming what keeps running and
the command that carries on; afterwards ``status`` says no driver runs, and carrying on
completes every job exactly once. The jobs wait for a gate file, so what runs at Ctrl-C
is still running when the line is printed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from conftest import env_with_src, run_cli
from jobledger.project import Project
from jobledger.session.interrupt import Left, interrupted_line

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

FAILING = """\
import jobledger as jl
prep = jl.Job(name="prep", command="echo prep")
typo = jl.Job(name="typo", command="ecoh hello", after=[prep])
later = jl.Job(name="later", command="echo never", after=[typo])
jl.run(jl.Workflow([later], name="demo"), wait=True)
print("not reached")
"""

SLOW = """\
import jobledger as jl
gate = "while [ ! -e gate ]; do sleep 0.05; done"
jobs = [jl.Job(name=f"s{i}", command=f"echo s{i} >> ran.txt; {gate}") for i in range(6)]
last = jl.Job(name="last", command="echo last >> ran.txt", after=jobs)
jl.run(jl.Workflow([*jobs, last], name="slow"), wait=True, max_parallel=2)
print("all done")
"""


def _run(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=root, capture_output=True, text=True, env=env or env_with_src(), timeout=120
    )


def test_a_failing_job_fails_the_script(project: Project) -> None:
    (project.root / "wf.py").write_text(FAILING)
    out = _run(project.root, sys.executable, "wf.py")
    assert out.returncode == 1 and "not reached" not in out.stdout
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert "jobledger: 3 jobs in 0:0" in out.stderr and lines[-4].endswith(
        "1 completed, 1 failed, 1 dependency_failed"
    )
    assert re.fullmatch(
        r"  typo: failed with exit code 127 \(command not found\); stderr: jobs/typo-[0-9a-f]{8}/stderr",
        lines[-3],
    ), lines[-3]
    assert lines[-2].startswith("  later: dependency_failed (never ran: upstream typo")
    assert lines[-1] == (
        "jobledger: error: 2 of 3 jobs did not complete: typo (failed, exit 127), later (dependency_failed)"
    )
    stderr_file = project.root / lines[-3].rsplit("stderr: ", 1)[1]
    assert "ecoh" in stderr_file.read_text()

    quiet = _run(project.root, sys.executable, "wf.py", env=env_with_src() | {"JOBLEDGER_QUIET": "1"})
    assert quiet.returncode == 1
    assert quiet.stderr.splitlines() == [lines[-1]]  # the error line alone, still naming 127

    cli = run_cli(project.root, "run", "wf.py")
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert cli.stderr.count(" jobs in ") == 1, cli.stderr  # one summary, not two
    assert "typo: failed with exit code 127" in cli.stderr


def _interrupt(child: pexpect.spawn) -> str:
    """Wait until two jobs run, press Ctrl-C, return everything shown."""
    try:
        child.expect("2 running")
        child.sendintr()
        child.expect(pexpect.EOF)
        return str(child.before)
    finally:
        child.close(force=True)


@pytest.fixture
def gate(project: Project) -> Iterator[Path]:
    """The file the slow jobs wait for; made at the end whatever happened, so none is left."""
    path = project.root / "gate"
    yield path
    path.touch()


def _ran(root: Path) -> Counter[str]:
    return Counter((root / "ran.txt").read_text().split())


def _check_interrupted(shown: str, exit_status: int | None, root: Path) -> None:
    assert exit_status == 130, shown
    text = ANSI.sub("", shown).replace("\r", "\n")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text and "all done" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("jobledger: interrupted")]
    assert lines == [
        "jobledger: interrupted; 2 jobs keep running on local, 5 wait for a driver: carry on "
        "with `jobledger resume` (or run the script again)"
    ], text
    status = run_cli(root, "status").stdout
    assert "no driver running" in status and "carry on with `jobledger resume`" in status


def test_ctrl_c_in_a_terminal_then_a_re_run_completes_each_job_once(project: Project, gate: Path) -> None:
    (project.root / "wf.py").write_text(SLOW)
    child = pexpect.spawn(
        sys.executable,
        ["wf.py"],
        cwd=str(project.root),
        env=env_with_src(),
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=60,
    )
    shown = _interrupt(child)
    _check_interrupted(shown, child.exitstatus, project.root)
    assert sum(_ran(project.root).values()) == 2  # what was running; nothing else started

    gate.touch()
    again = _run(project.root, sys.executable, "wf.py")
    assert again.returncode == 0, again.stderr
    assert "all done" in again.stdout and "jobledger: 7 jobs in " in again.stderr
    assert _ran(project.root) == Counter({f"s{i}": 1 for i in range(6)} | {"last": 1})


def test_ctrl_c_under_jobledger_run_then_resume(project: Project, gate: Path) -> None:
    (project.root / "wf.py").write_text(SLOW)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "jobledger.cli.main", "run", "wf.py"],
        cwd=str(project.root),
        env=env_with_src(),
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=60,
    )
    shown = _interrupt(child)
    _check_interrupted(shown, child.exitstatus, project.root)

    gate.touch()
    resumed = run_cli(project.root, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _ran(project.root) == Counter({f"s{i}": 1 for i in range(6)} | {"last": 1})
    assert "no driver" not in run_cli(project.root, "status").stdout


def test_the_interrupted_line_says_where_jobs_go_on() -> None:
    assert interrupted_line(Left({"local": 1, "slurm": 2}, {"slurm": 1}, 1), "jobledger -C /p resume") == (
        "jobledger: interrupted; 3 jobs keep running (1 on local, 2 on slurm), 1 stays queued on "
        "slurm, 1 waits for a driver: carry on with `jobledger -C /p resume` (or run the script again)"
    )
    assert interrupted_line(Left({}, {"sge": 4}, 0), "jobledger resume").startswith(
        "jobledger: interrupted; 4 jobs stay queued on sge: carry on with `jobledger resume`"
    )
    assert interrupted_line(Left(), "jobledger resume") == (
        "jobledger: interrupted; no job is left running or waiting"
    )
