"""The supervisor: units started without a shell write the same claim and exit records as
the wrapper, keep the CPU budget, outlive the driver, and are never run twice or called
lost while their record is being written."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import jobledger as jl
from conftest import env_with_src, wait_until_running
from jobledger.engine.supervising import Supervisor, supervisor_supported
from jobledger.engine.unit_files import parse_claim, parse_exit_file
from jobledger.project import Project
from services import in_ci

pytestmark = pytest.mark.skipif(
    not supervisor_supported() and not in_ci(), reason="the supervisor needs Linux /proc"
)


def _direct(unit: Path, argv: list[str], **extra: Any) -> dict[str, Any]:
    unit.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "cwd": str(unit), "env": {}, "stdout": None, "stderr": None, "unit": str(unit)}
    return {**spec, "marker": "", "mkdir": False, **extra}


def _exit_of(unit: Path, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while (record := parse_exit_file(_read(unit / "exit"))) is None:
        assert time.monotonic() < deadline, f"no exit record in {unit}"
        time.sleep(0.02)
    return record


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _reports(sup: Supervisor, count: int, timeout: float = 20) -> dict[str, tuple[int, float]]:
    found: dict[str, tuple[int, float]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {sorted(found)} reported"
        found.update({token: (pid, at) for token, pid, at in sup.started()})
        time.sleep(0.02)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X")


def test_direct_unit_writes_the_wrappers_records(tmp_path: Path) -> None:
    sup = Supervisor(budget=2)
    try:
        ok, bad, missing = tmp_path / "ok", tmp_path / "bad", tmp_path / "missing"
        script = 'echo "out $JL_T $$"; echo err >&2; pwd'
        markers = tmp_path / "markers"
        markers.mkdir()
        direct = _direct(ok, ["sh", "-c", script], env={"JL_T": "a b $(x)"}, marker=str(markers / "ok-1"))
        sup.launch("ok", "", None, 1, direct)
        sup.launch("bad", "", None, 1, _direct(bad, ["sh", "-c", "exit 3"]))
        sup.launch("missing", "", None, 1, _direct(missing, ["no-such-command-jl"]))
        reports = _reports(sup, 3)
        record = _exit_of(ok)
        assert (record.exit_code, record.signal, record.stop) == (0, None, "")
        pid = reports["ok"][0]
        assert (ok / "stdout").read_text() == f"out a b $(x) {pid}\n{ok}\n"
        assert (ok / "stderr").read_text() == "err\n"
        claim = parse_claim((ok / "claim").read_bytes())
        assert claim is not None and (claim.pid, claim.pgid) == (pid, pid)
        assert sup.keeper is not None and claim.keeper == sup.keeper
        deadline = time.monotonic() + 10
        while not (ends := sup.ended()):
            assert time.monotonic() < deadline, "the end was never reported"
            time.sleep(0.02)
        assert ends == ["ok-1"] and not list(markers.iterdir())  # said on the pipe, no marker made
        assert _exit_of(bad).exit_code == 3
        assert reports["missing"][0] == -1  # never started: its records say why
        record = _exit_of(missing)
        assert (record.exit_code, record.reason) == (127, "command not found (exit 127)")
        assert "no-such-command-jl: command not found" in (missing / "stderr").read_text()
    finally:
        sup.close()


def test_budget_is_kept_and_a_unit_claimed_elsewhere_is_not_run(tmp_path: Path) -> None:
    sup = Supervisor(budget=2)
    try:
        units = [tmp_path / f"u{i}" for i in range(4)]
        taken = tmp_path / "taken"
        _direct(taken, [])
        (taken / "claim").write_text("1 elsewhere 0 1 1\n")
        for number, unit in enumerate(units):
            stamp = f'date +%s.%N > start; sleep 0.4; date +%s.%N > end; echo {number} >> "{tmp_path}/ran"'
            sup.launch(f"u{number}", "", None, 1, _direct(unit, ["sh", "-c", stamp]))
        sup.launch("taken", "", None, 1, _direct(taken, ["sh", "-c", f'echo taken >> "{tmp_path}/ran"']))
        reports = _reports(sup, 5)
        for unit in units:
            _exit_of(unit)
        spans = sorted((float((u / "start").read_text()), float((u / "end").read_text())) for u in units)
        most = max(sum(1 for s, e in spans if s <= at < e) for at, _end in spans)
        assert most == 2  # two at once, never three
        assert reports["taken"][0] == -1
        time.sleep(0.2)
        assert sorted((tmp_path / "ran").read_text().split()) == ["0", "1", "2", "3"]
        assert not (taken / "exit").exists()
    finally:
        sup.close()


def test_a_signalled_task_records_the_stop_asked_for(tmp_path: Path) -> None:
    sup = Supervisor(budget=1)
    try:
        unit, plain = tmp_path / "stopped", tmp_path / "killed"
        sup.launch("stopped", "", None, 1, _direct(unit, ["sleep", "30"]))
        pid = _reports(sup, 1)["stopped"][0]
        (unit / "cancel").write_text("timeout\ntime limit reached\n")
        os.killpg(pid, signal.SIGTERM)
        record = _exit_of(unit)
        assert (record.exit_code, record.signal, record.stop, record.reason) == (
            143,
            15,
            "timeout",
            "time limit reached",
        )
        sup.launch("killed", "", None, 1, _direct(plain, ["sleep", "30"]))
        os.killpg(_reports(sup, 1)["killed"][0], signal.SIGKILL)
        record = _exit_of(plain)
        assert (record.signal, record.stop, record.reason) == (9, "", "task killed by signal 9")
    finally:
        sup.close()


def test_a_unit_stopped_before_it_starts_never_runs(tmp_path: Path) -> None:
    sup = Supervisor(budget=1)
    try:
        unit = tmp_path / "u"
        _direct(unit, [])
        (unit / "cancel").write_text("cancelled\ncancelled on request\n")
        sup.launch("u", "", None, 1, _direct(unit, ["sh", "-c", "echo ran > ran"]))
        assert _reports(sup, 1)["u"][0] == -1
        record = _exit_of(unit)
        assert (record.exit_code, record.stop) == (1, "cancelled")
        assert record.reason == "cancelled on request; it never started"
        assert not (unit / "ran").exists()
    finally:
        sup.close()


def test_outlives_its_driver_and_starts_nothing_more(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    marker = tmp_path / "first-1"
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from jobledger.engine.supervising import Supervisor
        first = {_direct(first, ["sh", "-c", "sleep 1; echo done > done"], marker=str(marker))!r}
        second = {_direct(second, ["sh", "-c", "echo ran > ran"])!r}
        sup = Supervisor(budget=1)
        sup.launch("first", "", None, 1, first)
        sup.launch("second", "", None, 1, second)
        while not sup.started():
            time.sleep(0.01)
        print(sup.keeper[0], flush=True)
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
    keeper = int(out.stdout.strip())
    record = _exit_of(first)  # written by the supervisor after its driver died
    assert record.exit_code == 0 and (first / "done").exists()
    deadline = time.monotonic() + 5
    while not marker.exists():  # nobody to tell on the pipe: the marker wakes the next driver
        assert time.monotonic() < deadline, "no marker once the driver had gone"
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    while _alive(keeper):
        assert time.monotonic() < deadline, "the supervisor stayed after its last unit ended"
        time.sleep(0.05)
    assert not (second / "claim").exists(), "the supervisor started a unit after its driver died"


def test_a_unit_whose_record_is_being_written_is_not_lost(project: Project) -> None:
    handle = jl.run(jl.Workflow([jl.Job(name="short", command=["sleep", "0.5"])], name="kept"))
    wait_until_running(handle, "short")
    unit = next(project.root.glob("jobs/short-*"))
    claim = parse_claim((unit / "claim").read_bytes())
    assert claim is not None and claim.keeper is not None
    os.kill(claim.keeper[0], signal.SIGSTOP)  # the task ends; its keeper cannot write yet
    try:
        deadline = time.monotonic() + 10
        while _alive(claim.pid):
            assert time.monotonic() < deadline, "the task never ended"
            time.sleep(0.05)
        time.sleep(2.5)  # the driver looks at every process more than once meanwhile
        assert jl.check(handle)["short"] is jl.JobState.RUNNING
    finally:
        os.kill(claim.keeper[0], signal.SIGCONT)
    result = jl.wait(handle, timeout=30)["short"]
    assert result.state is jl.JobState.COMPLETED


def test_a_killed_supervisor_leaves_its_running_task_lost_and_nothing_twice(project: Project) -> None:
    jobs = [jl.Job(name="long", command=["sh", "-c", "sleep 1; echo long >> ran.txt"])]
    jobs += [jl.Job(name=f"n{i}", command=["sh", "-c", f"echo n{i} >> ran.txt"]) for i in range(3)]
    handle = jl.run(jl.Workflow(jobs, name="killed"), max_parallel=1)
    wait_until_running(handle, "long")
    unit = next(project.root.glob("jobs/long-*"))
    claim = parse_claim((unit / "claim").read_bytes())
    assert claim is not None and claim.keeper is not None
    os.kill(claim.keeper[0], signal.SIGKILL)  # the others are handed to it, waiting for the CPU
    results = jl.wait(handle, timeout=60, check=False)
    assert results["long"].state is jl.JobState.LOST
    assert "exit code unknown" in results["long"].reason
    assert all(results[f"n{i}"].state is jl.JobState.COMPLETED for i in range(3))
    assert sorted(Path("ran.txt").read_text().split()) == ["long", "n0", "n1", "n2"]


def test_a_working_directory_made_anew_is_the_one_a_task_runs_in(project: Project) -> None:
    Path("out").mkdir()
    first = jl.Job(name="first", command=["sh", "-c", "echo first > f"], workdir="out")
    remake_out = f"cd {shlex.quote(str(project.root))} && rm -rf out && mkdir out"
    remake = jl.Job(name="remake", command=remake_out, workdir="out", after=[first])
    last = jl.Job(name="last", command=["sh", "-c", "echo last > f"], workdir="out", after=[remake])
    results = jl.run(jl.Workflow([first, remake, last], name="anew"), wait=True)
    assert all(r.ok for r in results.values())
    assert Path("out/f").read_text() == "last\n"  # not in the directory removed meanwhile


def test_a_bad_line_or_a_task_that_cannot_start_never_takes_the_supervisor_down(tmp_path: Path) -> None:
    sup = Supervisor(budget=1)
    try:
        os.write(sup._write, b"not json\n\xff\xfe\n")  # nothing the driver writes: skipped
        bad, good = tmp_path / "bad", tmp_path / "good"
        sup.launch("bad", "", None, 1, _direct(bad, ["sh", "-c", "true"], env={"X": "a\x00b"}))
        sup.launch("good", "", None, 1, _direct(good, ["sh", "-c", "echo ok"]))
        reports = _reports(sup, 2)
        assert reports["bad"][0] == -1 and reports["good"][0] > 0
        record = _exit_of(bad)
        assert record.exit_code == 1 and record.reason.startswith("cannot start the task:")
        assert parse_claim((bad / "claim").read_bytes()) is not None  # never left empty
        assert _exit_of(good).exit_code == 0
    finally:
        sup.close()


def test_a_unit_whose_record_cannot_be_written_is_lost_not_left_running(project: Project) -> None:
    gone = jl.Job(name="gone", command=["sh", "-c", 'rm -rf "$PWD"/jobs/gone-*'])
    results = jl.run(jl.Workflow([gone], name="gone"), wait=True, check=False, timeout=60)
    assert results["gone"].state is jl.JobState.LOST  # its supervisor lives on: it said it is done
    assert "could not write its exit record" in results["gone"].reason


def test_a_unit_ending_after_its_driver_let_go_leaves_its_marker(tmp_path: Path) -> None:
    sup = Supervisor(budget=1)
    unit, marker = tmp_path / "u", tmp_path / "u-1"
    sup.launch("u", "", None, 1, _direct(unit, ["sleep", "0.5"], marker=str(marker)))
    _reports(sup, 1)
    sup.close()  # nobody reads its reports any more: the marker wakes whoever watches
    assert _exit_of(unit).exit_code == 0
    deadline = time.monotonic() + 5
    while not marker.exists():
        assert time.monotonic() < deadline, "no marker for a unit that ended after close()"
        time.sleep(0.02)


def test_a_script_without_a_shebang_runs_as_under_the_wrapper(project: Project) -> None:
    script = Path("plain.sh")
    script.write_text('echo "plain $1"\n')
    script.chmod(0o755)
    results = jl.run(
        jl.Workflow([jl.Job(name="plain", command=["./plain.sh", "a b"])], name="plain"), wait=True
    )
    assert results["plain"].ok
    assert (Path(results["plain"].run_dir) / "stdout").read_text() == "plain a b\n"
