"""Whole-file damage (deleted, truncated, duplicated, foreign segments), odd entries in the
ledger directory, and readers that warn about damage but keep showing what is whole."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from conftest import env_with_src, run_cli
from jobledger.ledger import events as ev
from jobledger.ledger.codec import ZERO_DIGEST, Record, encode_record, scan
from jobledger.ledger.headers import ID_FILE
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.store import Ledger
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project

COMPLETED = {"state": "completed", "exit_code": 0}


def _spec(key: str, name: str) -> JobSpec:
    return JobSpec(key=key, name=name, run_dir=f"jobs/{name}-{key[:8]}")


def _write_run(root: Path, wf: str, keys: list[str], *, states: bool = True) -> Path:
    """One writing process: a workflow of ``keys`` and their lifecycle; returns its segment."""
    project = Project(root)
    led = project.ledger
    led.record(ev.WorkflowDefined(name=wf, jobs=[_spec(k, f"{wf}-{k}") for k in keys]))
    for key in keys:
        led.append(ev.Intent(key=key, attempt=1, action="submit", host="local"))
        led.append(ev.Submitted(key=key, attempt=1, scheduler_id="local", host="local"))
        if states:
            led.append(ev.StateChanged(key=key, attempt=1, **COMPLETED))
    led.flush(durable=True)
    path = led._writer.path  # type: ignore[union-attr]
    project.close()
    return path


def _two_runs(project: Project) -> tuple[Path, Path]:
    """Two segments; the second was written after reading the first."""
    project.close()
    first = _write_run(project.root, "one", ["k1", "k2"])
    second = _write_run(project.root, "two", ["k3"])
    return first, second


def _status(root: Path) -> tuple[int, list[dict], str]:  # type: ignore[type-arg]
    out = run_cli(root, "status", "--json", "--no-observe")
    return out.returncode, json.loads(out.stdout), out.stderr


# ---------------------------------------------------------------- the project id
def test_init_makes_a_committed_project_id_that_every_segment_carries(project: Project) -> None:
    project_id = (project.meta_dir / ID_FILE).read_text().strip()
    assert len(project_id) >= 16
    first, second = _two_runs(project)
    headers = [e for e in Ledger(project.ledger_dir, project.cache_dir).iter_events() if e.type == "segment"]
    assert {h.data["project"] for h in headers} == {project_id}
    claims = {h.writer: h.data["seen"] for h in headers}
    assert claims[first.stem] == {}
    assert list(claims[second.stem]) == [first.stem]
    assert claims[second.stem][first.stem][0] == first.stat().st_size
    assert "cache/" in (project.meta_dir / ".gitignore").read_text()  # the id file is committed


def test_headers_list_only_the_frontier(project: Project) -> None:
    project.close()
    segments = [_write_run(project.root, f"wf{i}", [f"k{i}"]) for i in range(6)]
    events = list(Ledger(project.ledger_dir, project.cache_dir).iter_events())
    seen = {e.writer: e.data["seen"] for e in events if e.type == "segment"}
    for before, after in itertools.pairwise(segments):
        assert list(seen[after.stem]) == [before.stem]  # the older ones are claimed already


# ---------------------------------------------------------------- deleted, truncated
def test_deleted_segment_is_found_and_named(project: Project) -> None:
    first, second = _two_runs(project)
    assert run_cli(project.root, "verify").returncode == 0
    first.unlink()
    out = run_cli(project.root, "verify")
    assert out.returncode == 1
    assert "missing" in out.stderr and first.name in out.stderr and second.name in out.stderr
    code, rows, err = _status(project.root)
    assert code == 4
    assert first.name in err and "jobledger verify" in err
    assert [r["name"] for r in rows] == ["two-k3"]  # what is whole is still shown


def test_truncated_and_rewritten_segments_are_found(project: Project) -> None:
    first, _second = _two_runs(project)
    data = first.read_bytes()
    first.write_bytes(data[: len(data) - 30])
    out = run_cli(project.root, "verify")
    assert out.returncode == 1 and "truncated" in out.stderr and first.name in out.stderr
    # same length, other bytes (each record valid on its own): rewritten
    records = [r for r in scan(data) if isinstance(r, Record)]
    forged = bytearray()
    prev = ZERO_DIGEST
    for record in records:
        events = [list(e) for e in record.events]
        if events[0][0] == "workflow":  # same length, other content
            events[0][4] = {**events[0][4], "name": "owe"}
        chunk, prev = encode_record(events, prev)
        forged += chunk
    assert len(forged) == len(data)
    first.write_bytes(bytes(forged))
    out = run_cli(project.root, "verify")
    assert out.returncode == 1 and "rewritten" in out.stderr and first.name in out.stderr


# ---------------------------------------------------------------- duplicated
def test_duplicated_segment_is_found_and_counted_once(project: Project) -> None:
    first, _second = _two_runs(project)
    log_before = run_cli(project.root, "log").stdout
    _code, rows_before, _err = _status(project.root)
    copy = first.with_name("copied-by-hand.seg")
    shutil.copy(first, copy)
    out = run_cli(project.root, "verify")
    assert out.returncode == 1
    assert "duplicated" in out.stderr and first.name in out.stderr and copy.name in out.stderr
    log = run_cli(project.root, "log")
    assert log.stdout == log_before  # every event once
    assert "duplicated" in log.stderr and "jobledger verify" in log.stderr
    code, rows, err = _status(project.root)
    assert code == 4 and "duplicated" in err and len(err.strip().splitlines()) == 1
    assert [(r["name"], r["state"]) for r in rows] == [(r["name"], r["state"]) for r in rows_before]
    (job,) = [r for r in rows if r["name"] == "one-k1"]
    assert len(job["attempts"]) == 1


def test_copy_of_a_live_segment_is_folded_once(tmp_path: Path) -> None:
    """The original keeps growing after the copy; a cold and a warm reader count each event once."""
    writer = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    writer.record(ev.WorkflowDefined(name="w", jobs=[_spec("k", "j")]))
    writer.record(ev.Submitted(key="k", attempt=1, scheduler_id="1"))
    path = writer._writer.path  # type: ignore[union-attr]
    shutil.copy(path, path.with_name("a-copy.seg"))
    writer.record(ev.StateChanged(key="k", attempt=1, state="running"))
    reader = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    writer.record(ev.StateChanged(key="k", attempt=1, **COMPLETED))
    writer.close()
    assert reader.refresh() == 1
    reader.save_snapshot()
    for led in (reader, Ledger(tmp_path / "ledger", tmp_path / "cache").open()):
        history = led.model.jobs["k"].attempts[1].history
        assert sorted(h[1] for h in history) == ["completed", "running", "submitted"]
    events = list(Ledger(tmp_path / "ledger", tmp_path / "cache").iter_events())
    assert len(events) == len({(e.writer, e.seq) for e in events}) == 5


# ---------------------------------------------------------------- foreign
def test_segment_of_another_project_is_found_and_not_read(project: Project, tmp_path: Path) -> None:
    project.close()
    _write_run(project.root, "mine", ["m1"])
    other = Project.init(tmp_path / "other")
    theirs = _write_run(other.root, "theirs", ["t1"])
    shutil.copy(theirs, project.ledger_dir / theirs.name)
    out = run_cli(project.root, "verify")
    assert out.returncode == 1 and "foreign" in out.stderr and theirs.name in out.stderr
    code, rows, err = _status(project.root)
    assert code == 4 and theirs.name in err
    assert [r["name"] for r in rows] == ["mine-m1"]
    assert "theirs" not in run_cli(project.root, "log").stdout


# ---------------------------------------------------------------- old ledgers
def _old_segment(directory: Path, writer: str, events: list[list[object]]) -> None:
    """A segment as the format before project ids wrote it."""
    header = ["segment", 1, 1, 0.0, {"writer": writer, "host": "h", "pid": 1, "version": 1, "created": 0.0}]
    data, _digest = encode_record([header, *events], ZERO_DIGEST)
    (directory / f"{writer}.seg").write_bytes(data)


def test_old_format_ledger_reads_verifies_and_adopts_an_id(tmp_path: Path) -> None:
    root = tmp_path / "old"
    ledger_dir = root / ".jobledger" / "ledger"
    ledger_dir.mkdir(parents=True)
    _old_segment(
        ledger_dir,
        "20200101T000000-h-1-aaaaaa",
        [
            ["workflow", 2, 2, 0.0, {"name": "w", "jobs": [{"key": "k", "name": "old"}]}],
            ["state", 3, 3, 0.0, {"key": "k", "attempt": 1, **COMPLETED}],
        ],
    )
    out = run_cli(root, "verify")
    assert out.returncode == 0, out.stderr
    assert "no project id" in out.stdout
    code, rows, err = _status(root)
    assert code == 0 and not err and [(r["name"], r["state"]) for r in rows] == [("old", "completed")]
    # the first write gives the project an id, judged from its history: the same in every clone
    _write_run(root, "new", ["n"])
    adopted = (root / ".jobledger" / ID_FILE).read_text().strip()
    clone = tmp_path / "clone"
    shutil.copytree(root, clone)
    (clone / ".jobledger" / ID_FILE).unlink()
    _write_run(clone, "again", ["a"])
    assert (clone / ".jobledger" / ID_FILE).read_text().strip() == adopted
    assert run_cli(root, "verify").returncode == 0
    assert run_cli(clone, "verify").returncode == 0


# ---------------------------------------------------------------- readers keep showing what is whole
def test_flipped_byte_in_the_workflow_record(project: Project) -> None:
    project.close()
    seg = _write_run(project.root, "wf", ["k1", "k2"])
    data = bytearray(seg.read_bytes())
    records = [r for r in scan(bytes(data)) if isinstance(r, Record)]
    workflow_record = next(r for r in records if r.events[0][0] == "workflow")
    data[workflow_record.offset + 30] ^= 0x40
    seg.write_bytes(bytes(data))
    out = run_cli(project.root, "status", "--no-observe")
    assert out.returncode == 4
    assert "workflow record is damaged" in out.stdout
    assert "k1" in out.stdout and "k2" in out.stdout and "completed" in out.stdout
    assert "no jobs yet" not in out.stdout
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("jobledger: warning:") and seg.name in line and "jobledger verify" in line
    code, rows, _err = _status(project.root)
    assert code == 4 and {r["key"] for r in rows if r.get("definition_lost")} == {"k1", "k2"}
    report = run_cli(project.root, "report", "-o", str(project.root / "r.html"))
    assert report.returncode == 0 and seg.name in report.stderr


def test_torn_tail_is_reported_and_the_rest_shown(project: Project) -> None:
    project.close()
    seg = _write_run(project.root, "wf", ["k1"])
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # a crash in the middle of the last write
    code, rows, err = _status(project.root)
    assert code == 4 and "torn tail" in err and seg.name in err
    assert [(r["name"], r["state"]) for r in rows] == [("wf-k1", "pending")]
    assert seg.stat().st_size == len(data) - 5  # kept on disk


def test_library_warns_once_per_damage(project: Project, caplog: pytest.LogCaptureFixture) -> None:
    first, _second = _two_runs(project)
    shutil.copy(first, first.with_name("dup.seg"))
    caplog.set_level(logging.WARNING, logger="jobledger")
    for _ in range(3):
        again = Project(project.root)
        assert again.ledger.health()
        again.close()
    warnings = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(warnings) == 1 and "dup.seg" in warnings[0].getMessage()
    first.with_name("dup2.seg").write_bytes(first.read_bytes())  # a new damage: one more line
    Project(project.root).ledger.refresh()
    warnings = [r for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(warnings) == 2 and "dup2.seg" in warnings[1].getMessage()


def test_snapshot_keeps_damage_known(project: Project) -> None:
    first, _second = _two_runs(project)
    shutil.copy(first, first.with_name("dup.seg"))
    led = Ledger(project.ledger_dir, project.cache_dir).open()
    led.save_snapshot()
    warm = Ledger(project.ledger_dir, project.cache_dir).open()
    assert any("duplicated" in h for h in warm.health())
    assert len(warm.model.jobs["k1"].attempts[1].history) == 2


# ---------------------------------------------------------------- odd entries
def test_odd_entries_are_skipped_never_hang(project: Project) -> None:
    project.close()
    seg = _write_run(project.root, "wf", ["k1"])
    (project.ledger_dir / "x.seg").mkdir()
    os.mkfifo(project.ledger_dir / "y.seg")
    (project.ledger_dir / "z.seg").symlink_to(seg)
    out = run_cli(project.root, "verify", timeout=30)
    assert out.returncode == 1
    for name, kind in (("x.seg", "directory"), ("y.seg", "FIFO"), ("z.seg", "symbolic link")):
        assert any(name in line and kind in line for line in out.stderr.splitlines()), out.stderr
    for command in (["status", "--no-observe"], ["log"]):
        out = run_cli(project.root, *command, timeout=30)
        assert "x.seg" in out.stderr and "y.seg" in out.stderr and "z.seg" in out.stderr
        assert "Traceback" not in out.stderr
    assert run_cli(project.root, "status", "--no-observe", timeout=30).returncode == 4
    lines = run_cli(project.root, "log", timeout=30).stdout.splitlines()
    assert sum(" state " in line for line in lines) == 1  # the link is not followed
    # a new writer does not trip over them either
    _write_run(project.root, "wf2", ["k2"])


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's own temporary folders are private)."""
    path = Path(tempfile.mkdtemp(prefix="jl-unreadable-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_unreadable_segment_is_skipped(open_dir: Path) -> None:
    root = Project.init(open_dir / "proj").root
    seg = _write_run(root, "wf", ["k1"])
    locked = _write_run(root, "secret", ["s1"])
    if os.geteuid() == 0:
        # root reads any file: check as an unprivileged user (nobody)
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is missing: no way to make a file unreadable")
        for path in (root, *root.rglob("*")):
            os.chown(path, 65534, 65534, follow_symlinks=False)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    locked.chmod(0)
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import jobledger"], capture_output=True, env=env_with_src()
    )
    if probe.returncode != 0:
        pytest.skip("the unprivileged user cannot import jobledger here")
    out = subprocess.run(
        [*prefix, sys.executable, "-m", "jobledger.cli.main", "status", "--no-observe", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=30,
    )
    assert out.returncode == 4, out.stderr
    assert locked.name in out.stderr and "cannot be read" in out.stderr
    assert [r["name"] for r in json.loads(out.stdout)] == ["wf-k1"]
    assert seg.exists()


def test_verify_report_is_plain_data(project: Project) -> None:
    first, _second = _two_runs(project)
    shutil.copy(first, first.with_name("dup.seg"))
    report = verify_ledger(project.ledger_dir)
    kinds = sorted(f.kind for f in report.findings)
    assert kinds == ["duplicated", "duplicated"] and all(f.offset is None for f in report.findings)
    assert msgpack.packb([str(f) for f in report.findings])
