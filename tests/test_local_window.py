"""Jobs handed ahead to the launcher (many more than the free CPUs) never run beyond the
CPU budget: not in one driver, and not beside units an earlier driver started, which the
launcher cannot count."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, wait_until_running
from jobledger.engine.launcher import launcher_supported
from jobledger.project import Project
from services import in_ci

pytestmark = pytest.mark.skipif(
    not launcher_supported() and not in_ci(), reason="the launcher needs Linux /proc and bash >= 4.1"
)

#: Takes one of two slots for its whole run; a third job running at once finds none free
#: and records a collision.
TWO_SLOTS = """\
# job {number}
for s in 0 1; do
  if mkdir slot$s.lock 2>/dev/null; then
    echo "$EPOCHREALTIME" >> starts
    sleep {seconds}
    rmdir slot$s.lock
    exit 0
  fi
done
echo "$EPOCHREALTIME" >> collisions
"""

SCRIPT = """\
import jobledger as jl
jobs = [jl.Job(name=f"j{{i}}", command={task!r}.format(number=i, seconds={seconds})) for i in range({count})]
jl.run(jl.Workflow(jobs, name="window"), wait=True, check=False, max_parallel=2, progress=False)
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_jobs_handed_ahead_never_exceed_the_budget(project: Project) -> None:
    jobs = [jl.Job(name=f"j{i}", command=TWO_SLOTS.format(number=i, seconds=0.1)) for i in range(24)]
    results = jl.run(jl.Workflow(jobs, name="window"), wait=True, check=False, max_parallel=2, timeout=120)
    assert all(r.state is jl.JobState.COMPLETED for r in results.values())
    assert not _lines(Path("collisions")), "more jobs ran at once than max_parallel=2"
    assert len(_lines(Path("starts"))) == 24


def test_units_of_an_earlier_driver_count_against_the_budget(project: Project) -> None:
    """A driver killed while two jobs run; the next one adopts them and must not hand the
    launcher jobs it would start beside them."""
    Path("window.py").write_text(SCRIPT.format(task=TWO_SLOTS, seconds=1.5, count=8))
    proc = subprocess.Popen([sys.executable, "window.py"], env=env_with_src())
    deadline = time.monotonic() + 30
    while len(_lines(Path("starts"))) < 2:
        assert time.monotonic() < deadline, "the first two jobs never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    again = subprocess.run(
        [sys.executable, "window.py"], env=env_with_src(), timeout=120, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert not _lines(Path("collisions")), "jobs started beside the adopted ones beyond max_parallel=2"
    assert len(_lines(Path("starts"))) == 8, textwrap.shorten(again.stderr, 500)


def test_cancel_stops_every_job_handed_ahead_before_it_starts(project: Project) -> None:
    first = jl.Job(name="first", command="sleep 30")
    rest = [jl.Job(name=f"n{i}", command=f"echo n{i} >> ran.txt") for i in range(12)]
    handle = jl.run(jl.Workflow([first, *rest], name="cancel-ahead"), max_parallel=1)
    wait_until_running(handle, "first")
    time.sleep(0.3)
    states = jl.check(handle)
    assert all(states[f"n{i}"] is jl.JobState.SUBMITTED for i in range(12))  # handed to the launcher
    assert len(jl.stop(handle, grace=2)) == 13
    results = jl.wait(handle, timeout=60, check=False)
    assert all(r.state is jl.JobState.CANCELLED for r in results.values())
    assert all("before it started" in results[f"n{i}"].reason for i in range(12))
    time.sleep(0.5)
    assert not Path("ran.txt").exists(), "a job handed ahead ran after its cancel"
