"""The launcher shell: CPU budget, jobs handed ahead, and what happens when its driver goes
(the engine-level tests run with the supervisor and with the launcher shell)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, wait_until_running
from jobledger.engine.launcher import WAKE_READ, Launcher, launcher_supported
from jobledger.project import Project
from services import in_ci

pytestmark = pytest.mark.skipif(
    not launcher_supported() and not in_ci(), reason="the launcher needs Linux /proc and bash >= 4.1"
)


def _script(folder: Path, name: str, body: str) -> str:
    path = folder / f"{name}.sh"
    path.write_text(body)
    return str(path)


def _timed(folder: Path, name: str, seconds: float) -> str:
    """A job that records when it started and ended."""
    return _script(
        folder,
        name,
        f'printf "%s\\n" "$EPOCHREALTIME" > {folder}/{name}.start\n'
        f"sleep {seconds}\n"
        f'printf "%s\\n" "$EPOCHREALTIME" > {folder}/{name}.end\n',
    )


def _wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X")


def test_job_ends_are_read_whole_under_short_timeouts() -> None:
    """The launcher learns each job's end from a pipe while it naps with timeouts of a
    millisecond. A plain ``read -t`` there timed out in the middle of lines (~2% of them
    under 0.5 ms timeouts), losing or splitting pids; every end must come through whole."""
    lines = 20000
    script = (
        "exec {wake}<> <(:)\n"
        + WAKE_READ
        + f"""
( for ((i=0; i<{lines}; i++)); do echo "$((1000000 + i))" >&$wake; \
    (( i % 50 == 0 )) && sleep 0.001; done ) &
got=0 bad=0 naps=0
while (( got < {lines} && naps < 20000 )); do
  if wake_read 0.0005; then
    [ "$ended" = "$((1000000 + got))" ] || {{ echo "line $got came as [$ended]"; bad=1; }}
    (( got += 1 ))
  else
    (( naps += 1 ))
  fi
done
echo "got $got bad $bad naps $naps"
"""
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=True)
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith(f"got {lines} bad 0 "), out.stdout[-2000:]
    assert int(last.split()[-1]) > 0, "the reader never napped: the timeouts were not exercised"


def test_budget_kept_full_not_serialised(tmp_path: Path) -> None:
    """Six 0.3 s jobs handed at once to a 2-CPU launcher run two at a time, never three.

    (bash's ``wait -n`` forgets jobs it has already reaped under job control; a launcher
    relying on it waited for the newest job each time and ran them one by one.)"""
    launcher = Launcher(budget=2)
    try:
        for i in range(6):
            launcher.launch(f"t{i}", _timed(tmp_path, f"j{i}", 0.3), None, 1)
        for i in range(6):
            _wait_for(tmp_path / f"j{i}.end")
    finally:
        launcher.close()
    spans = [
        (float((tmp_path / f"j{i}.start").read_text()), float((tmp_path / f"j{i}.end").read_text()))
        for i in range(6)
    ]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _t, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == 2
    overlapped = sum(1 for a in spans for b in spans if a < b and a[0] < b[1] and b[0] < a[1])
    assert overlapped >= 3, f"jobs hardly overlapped: {spans}"


def test_reports_each_start_with_pid_and_time(tmp_path: Path) -> None:
    woke: list[float] = []
    launcher = Launcher(budget=1, on_start=lambda: woke.append(time.time()))
    try:
        before = time.time()
        launcher.launch("tok:1:", _script(tmp_path, "a", f"echo $BASHPID > {tmp_path}/a.pid\n"), None, 1)
        _wait_for(tmp_path / "a.pid")
        deadline = time.monotonic() + 10
        reports: list[tuple[str, int, float]] = []
        while not reports:
            assert time.monotonic() < deadline
            reports = launcher.started()
            time.sleep(0.01)
    finally:
        launcher.close()
    assert len(reports) == 1
    token, pid, at = reports[0]
    assert token == "tok:1:"
    assert pid == int((tmp_path / "a.pid").read_text())
    assert before <= at <= time.time()
    assert woke, "the start did not wake the driver"


def test_close_does_not_wait_for_jobs_handed_ahead(tmp_path: Path) -> None:
    launcher = Launcher(budget=1)
    launcher.launch("a", _timed(tmp_path, "a", 1.0), None, 1)
    launcher.launch("b", _timed(tmp_path, "b", 0.1), None, 1)
    _wait_for(tmp_path / "a.start")
    began = time.monotonic()
    launcher.close()
    assert time.monotonic() - began < 0.9, "close() waited for the running job"
    _wait_for(tmp_path / "a.end")  # the running job carries on without the launcher
    time.sleep(0.3)
    assert not (tmp_path / "b.start").exists(), "a job handed ahead started after close()"


def test_starts_nothing_once_its_driver_is_gone(tmp_path: Path) -> None:
    long_job = _timed(tmp_path, "a", 1.0)
    queued = _timed(tmp_path, "b", 0.1)
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from jobledger.engine.launcher import Launcher
        launcher = Launcher(budget=1)
        launcher.launch("a", {long_job!r}, None, 1)
        launcher.launch("b", {queued!r}, None, 1)
        while not os.path.exists({str(tmp_path / "a.start")!r}):
            time.sleep(0.01)
        print(launcher.pid, flush=True)
        os._exit(0)  # the driver dies without closing anything
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=60,
        check=True,
    )
    launcher_pid = int(out.stdout.strip())
    _wait_for(tmp_path / "a.end")
    deadline = time.monotonic() + 10
    while _alive(launcher_pid):
        assert time.monotonic() < deadline, "the orphaned launcher kept running"
        time.sleep(0.05)
    assert not (tmp_path / "b.start").exists(), "the orphaned launcher started a queued job"


@pytest.fixture(params=["supervisor", "bash"])
def starter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which launcher the engine uses: the supervisor (default) or the launcher shell."""
    if request.param == "bash":
        monkeypatch.setenv("JOBLEDGER_NO_SUPERVISOR", "1")
    return str(request.param)


def test_job_handed_ahead_is_submitted_until_it_starts_and_cancel_keeps_it_from_starting(
    project: Project, starter: str
) -> None:
    first = jl.Job(name="first", command="sleep 30")
    second = jl.Job(name="second", command="echo ran > second.txt")
    handle = jl.run(jl.Workflow([first, second], name="ahead"), max_parallel=1)
    wait_until_running(handle, "first")
    time.sleep(0.3)
    assert jl.check(handle)["second"] is jl.JobState.SUBMITTED  # handed ahead, not running
    assert sorted(jl.stop(handle, grace=2)) == ["first", "second"]
    results = jl.wait(handle, timeout=30, check=False)
    assert results["first"].state is jl.JobState.CANCELLED
    assert results["second"].state is jl.JobState.CANCELLED
    assert "before it started" in results["second"].reason
    time.sleep(0.5)
    assert not Path("second.txt").exists()
    claim = (project.root / results["second"].run_dir / "claim").read_text()
    assert claim.split()[:2] == ["0", "cancelled"]
    assert (
        not os.path.exists(project.root / results["second"].run_dir / "stdout")
        or not (project.root / results["second"].run_dir / "stdout").read_text()
    )


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def _launcher_of(unit: Path) -> int:
    """The launcher that started a running unit: its wrapper's parent."""
    deadline = time.monotonic() + 10
    while not (unit / "claim").exists() or not (unit / "claim").read_text().strip():
        assert time.monotonic() < deadline, f"{unit} never claimed"
        time.sleep(0.02)
    launcher = _parent_of(int((unit / "claim").read_text().split()[0]))
    with open(f"/proc/{launcher}/cmdline", "rb") as fh:
        cmdline = fh.read()
    assert b"jobledger-launcher" in cmdline or b"jobledger.engine.supervisor" in cmdline, cmdline
    return launcher


def test_jobs_handed_to_a_launcher_that_dies_still_run_once(project: Project, starter: str) -> None:
    # a setup line: the running unit has a wrapper of its own, which outlives the launcher
    first = jl.Job(name="first", command="sleep 1; echo first >> ran.txt", setup=["true"])
    rest = [jl.Job(name=f"n{i}", command=f"echo n{i} >> ran.txt") for i in range(3)]
    handle = jl.run(jl.Workflow([first, *rest], name="relaunch"), max_parallel=1)
    wait_until_running(handle, "first")
    run_dir = next(project.root.glob("jobs/first-*"))
    launcher = _launcher_of(run_dir)
    assert (starter == "bash") == (_parent_of(launcher) == os.getpid())  # the supervisor detaches
    os.kill(launcher, signal.SIGKILL)  # n0 is handed to it and waiting for the CPU
    results = jl.wait(handle, timeout=60, check=False)
    assert all(r.state is jl.JobState.COMPLETED for r in results.values())
    assert sorted(Path("ran.txt").read_text().split()) == ["first", "n0", "n1", "n2"]
