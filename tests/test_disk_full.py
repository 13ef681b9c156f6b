"""A full disk and a read-only project: clear errors naming the path, exit 2, no traceback,
a ledger that verifies afterwards, and a re-run on a larger disk that runs each job once.

Each test mounts a small tmpfs (root only; CI runs as root) and unmounts it at the end.
The jobs append to a file outside the tmpfs, so runs are counted whatever the disk held.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import run_cli
from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.ledger.store import Ledger
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project
from services import require


def _mount_problem() -> str | None:
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    return None


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration."""
    require(_mount_problem(), "a tmpfs mount (root)")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    require(None if done.returncode == 0 else done.stderr.decode().strip(), "a tmpfs mount (root)")
    try:
        yield path
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.25)  # a job of the run may still be closing its files
        else:
            subprocess.run(["umount", "-l", str(path)], check=False)


def _remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def _fill(directory: Path) -> None:
    """Write zeros until the file system is full."""
    fd = os.open(directory / "fill", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (64 * 1024, 1):  # big blocks, then the last bytes one at a time
            try:
                while os.write(fd, bytes(size)):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def _script(root: Path, count: Path, n: int) -> Path:
    script = root / "wf.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import jobledger as jl
            jobs = [jl.Job(name=f"j{{i}}", command=f"echo j{{i}} >> {count}; sleep 0.1") for i in range({n})]
            jl.run(jl.Workflow(jobs, name="w"), wait=True, timeout=120)
            """
        )
    )
    return script


def _one_clear_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    errors = [
        line
        for line in out.stderr.strip().splitlines()
        if not line.startswith("jobledger: ") or "error" in line
    ]
    assert len(errors) == 1, out.stderr  # one error line (progress lines aside)
    line = errors[0]
    assert line.startswith("jobledger: error:"), out.stderr
    for needle in needles:
        assert needle in line, out.stderr


def _each_ran_once(count: Path, n: int) -> None:
    runs = Counter(count.read_text().split())
    assert runs == Counter({f"j{i}": 1 for i in range(n)}), runs


# ---------------------------------------------------------------- ENOSPC
def test_full_disk_then_larger_disk(tmp_path: Path) -> None:
    count = tmp_path / "count"
    with tmpfs(tmp_path / "disk", "2m") as disk:
        root = Project.init(disk / "proj").root
        script = _script(root, count, 3)
        _fill(disk)
        out = run_cli(root, "run", str(script))
        _one_clear_error(out, "ledger segment", str(root / ".jobledger" / "ledger"), "the disk is full")
        assert run_cli(root, "verify").returncode == 0
        assert not count.exists()
        _remount(disk, "size=16m")
        again = run_cli(root, "run", str(script))
        assert again.returncode == 0, again.stderr
        assert run_cli(root, "verify").returncode == 0
    _each_ran_once(count, 3)


def test_ledger_fills_up_while_jobs_run(tmp_path: Path) -> None:
    """The segment runs out of room mid-run: the writer stops at its last whole record;
    the re-run reconciles what was started and runs only the rest."""
    count = tmp_path / "count"
    root = Project.init(tmp_path / "proj").root
    script = _script(root, count, 30)
    with tmpfs(root / ".jobledger" / "ledger", "16k") as ledger_dir:
        out = run_cli(root, "run", str(script))
        _one_clear_error(out, "cannot append to ledger segment", str(ledger_dir), "the disk is full")
        report = verify_ledger(ledger_dir)
        assert report.ok, report.findings
        (first,) = ledger_dir.glob("*.seg")
        _remount(ledger_dir, "size=1m")
        again = run_cli(root, "run", str(script))
        assert again.returncode == 0, again.stderr
        assert verify_ledger(ledger_dir).ok
        assert len(list(ledger_dir.glob("*.seg"))) == 2 and first.exists()
        time.sleep(0.3)
    _each_ran_once(count, 30)


def test_run_directory_on_a_full_disk(tmp_path: Path) -> None:
    count = tmp_path / "count"
    root = Project.init(tmp_path / "proj").root
    script = _script(root, count, 2)
    with tmpfs(root / "jobs", "1m") as jobs:
        _fill(jobs)
        out = run_cli(root, "run", str(script))
        _one_clear_error(out, "cannot write run directory", str(jobs), "the disk is full")
        assert run_cli(root, "verify").returncode == 0
        (jobs / "fill").unlink()
        again = run_cli(root, "run", str(script))
        assert again.returncode == 0, again.stderr
        time.sleep(0.3)
    _each_ran_once(count, 2)


def test_writer_never_appends_after_a_failed_write(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ledger", "8k") as ledger_dir:
        led = Ledger(ledger_dir, tmp_path / "cache").open()
        recorded = 0
        with pytest.raises(LedgerError) as failure:
            for i in range(1000):
                led.record(ev.Note(message="x" * 200 + str(i)))
                recorded += 1
        (seg,) = ledger_dir.glob("*.seg")
        assert str(seg) in str(failure.value) and "the disk is full" in str(failure.value)
        assert verify_ledger(ledger_dir).ok  # the partial record was cut off again
        size = seg.stat().st_size
        # nothing that failed is in the state; the next write opens a new segment
        notes = [e for e in Ledger(ledger_dir, tmp_path / "c2").open().iter_events() if e.type == "note"]
        assert len(notes) == recorded
        assert len(led.model.writers) == 1
        _remount(ledger_dir, "size=1m")
        led.record(ev.Note(message="after"))
        led.close()
        assert seg.stat().st_size == size
        assert len(list(ledger_dir.glob("*.seg"))) == 2
        assert verify_ledger(ledger_dir).ok
        reread = Ledger(ledger_dir, tmp_path / "c3").open()
        assert [e.data["message"] for e in reread.iter_events() if e.type == "note"][-1] == "after"
        assert not reread.health()


# ---------------------------------------------------------------- read-only
def test_read_only_project(tmp_path: Path) -> None:
    count = tmp_path / "count"
    with tmpfs(tmp_path / "disk", "4m") as disk:
        root = Project.init(disk / "proj").root
        script = _script(root, count, 2)
        assert run_cli(root, "run", str(script)).returncode == 0
        _remount(disk, "ro")
        try:
            out = run_cli(root, "run", str(script))  # the same, unchanged workflow
            _one_clear_error(out, str(root), "read-only")
            assert run_cli(root, "status", "--no-observe").returncode == 0
            assert run_cli(root, "verify").returncode == 0
            _one_clear_error(run_cli(disk, "init", "another"), "another", "read-only")
        finally:
            _remount(disk, "rw")
    _each_ran_once(count, 2)
