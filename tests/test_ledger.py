"""The ledger's invariants (DESIGN.md 1-7), on real files and processes."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import env_with_src
from jobledger.ledger import events as ev
from jobledger.ledger.codec import ZERO_DIGEST, Record, encode_packed_record, encode_record, scan
from jobledger.ledger.event_codec import encode
from jobledger.ledger.reducer import Model, fold
from jobledger.ledger.segment import SegmentWriter, new_writer_id
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.store import Ledger
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project

STATES = ["submitted", "running", "completed", "failed", "cancelled", "timeout", "lost"]


def _ledger(root: Path) -> Ledger:
    return Ledger(root / "ledger", root / "cache").open()


def _spec(key: str, name: str) -> JobSpec:
    return JobSpec(key=key, name=name, run_dir=f"jobs/{name}-{key[:8]}")


def _fill(ledger: Ledger, n: int, prefix: str = "k") -> None:
    ledger.record(ev.WorkflowDefined(name="wf", jobs=[_spec(f"{prefix}{i}", f"j{i}") for i in range(n)]))
    for i in range(n):
        ledger.append(ev.Intent(key=f"{prefix}{i}", attempt=1, action="submit"))
        ledger.append(ev.Submitted(key=f"{prefix}{i}", attempt=1, scheduler_id=str(i)))
        ledger.append(ev.StateChanged(key=f"{prefix}{i}", attempt=1, state="completed", exit_code=0))
        ledger.flush()


def _raw_segment(folder: Path, events: list[list[Any]]) -> None:
    """A segment written directly (events a typed writer cannot make: from a newer version)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = SegmentWriter(folder, new_writer_id())
    writer.write(events, durable=True)
    writer.close()


def _normal(model: Model) -> Any:
    """The model as plain data, order-dependent lists sorted (histories are sorted when read)."""
    jobs = {}
    for key, job in model.jobs.items():
        row = job.to_row(encode)
        for att in row[3]:
            att[24] = sorted(map(tuple, att[24]))  # history
        jobs[key] = row
    out = {
        "workflows": sorted((w.to_row() for w in model.workflows.values()), key=str),
        "jobs": jobs,
        "problems": sorted(model.problems),
        "staged": model.staged,
        "max_clock": model.max_clock,
    }
    return msgpack.unpackb(msgpack.packb(out), strict_map_key=False)


# ---------------------------------------------------------------- reducer is order-independent
event_st = st.tuples(
    st.sampled_from(["state", "submitted", "intent", "retry", "result", "cancel", "mystery"]),
    st.integers(0, 5),  # job
    st.integers(1, 3),  # attempt
    st.sampled_from(STATES),
    st.one_of(st.none(), st.integers(0, 3)),  # array index
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(event_st, min_size=1, max_size=60),
    st.integers(1, 4),
    st.randoms(use_true_random=False),
)
def test_any_file_order_gives_same_state(
    tmp_path_factory: pytest.TempPathFactory, events: list[Any], writers: int, rnd: random.Random
) -> None:
    root = tmp_path_factory.mktemp("h")
    ledgers = [_ledger(root) for _ in range(writers)]
    for number, (etype, job, attempt, state, index) in enumerate(events):
        key = f"k{job}"
        event: Any
        if etype == "state":
            event = ev.StateChanged(key=key, attempt=attempt, state=state, exit_code=number % 3, index=index)
        elif etype == "submitted":
            event = ev.Submitted(key=key, attempt=attempt, scheduler_id=str(number))
        elif etype == "intent":
            event = ev.Intent(key=key, attempt=attempt)
        elif etype == "retry":
            event = ev.RetryDecided(key=key, attempt=attempt, reason=f"r{number}")
        elif etype == "result":
            event = ev.ResultRecorded(key=key, attempt=attempt, value=f"v{number}")
        elif etype == "cancel":
            event = ev.CancelRequested(key=key, attempt=attempt)
        else:
            event = ev.Note(message=f"mystery {number}")
        ledgers[rnd.randrange(writers)].append(event)
    for led in ledgers:
        led.close()
    segments = sorted((root / "ledger").glob("*.seg"))
    reference = None
    for _ in range(3):
        rnd.shuffle(segments)
        pairs = []
        for seg in segments:
            for item in scan(seg.read_bytes()):
                assert isinstance(item, Record)
                pairs.extend((raw, seg.stem) for raw in item.events)
        state = _normal(fold(pairs))
        # and in a shuffled event order too: the handlers are joins
        rnd.shuffle(pairs)
        assert _normal(fold(pairs)) == state
        if reference is None:
            reference = state
        assert state == reference
    fresh = Ledger(root / "ledger", root / "cache", use_snapshot=False).open()
    assert _normal(fresh.model) == reference


# ---------------------------------------------------------------- torn tails
def test_truncation_at_every_offset_of_last_record(tmp_path: Path) -> None:
    led = _ledger(tmp_path)
    _fill(led, 5)
    led.close()
    (seg,) = (tmp_path / "ledger").glob("*.seg")
    data = seg.read_bytes()
    records = [r for r in scan(data) if isinstance(r, Record)]
    last = records[-1]
    before = sum(len(r.events) for r in records[:-1])
    for cut in range(last.offset + 1, last.offset + last.size):
        target = tmp_path / f"cut{cut}" / "ledger"
        target.mkdir(parents=True)
        (target / seg.name).write_bytes(data[:cut])
        reader = Ledger(target, tmp_path / f"cut{cut}" / "cache").open()
        damages = reader.damages()[seg.name]
        assert [d.kind for d in damages] == ["torn"] and damages[0].offset == last.offset
        read = sum(1 for _ in reader.iter_events())
        assert read == before
        assert (target / seg.name).stat().st_size == cut  # nothing deleted
        report = verify_ledger(target)
        assert not report.ok and report.findings[0].offset == last.offset


# ---------------------------------------------------------------- flipped bytes
def test_every_flipped_byte_is_found(tmp_path: Path) -> None:
    led = _ledger(tmp_path)
    _fill(led, 3)
    led.close()
    (seg,) = (tmp_path / "ledger").glob("*.seg")
    data = seg.read_bytes()
    records = [r for r in scan(data) if isinstance(r, Record)]
    starts = [r.offset for r in records]
    for position in range(len(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x40
        target = tmp_path / "flip" / "ledger"
        if target.exists():
            shutil.rmtree(target.parent)
        target.mkdir(parents=True)
        (target / seg.name).write_bytes(bytes(flipped))
        report = verify_ledger(target)
        assert not report.ok, f"flip at {position} not detected"
        damaged_record = max(s for s in starts if s <= position)
        assert report.findings[0].offset == damaged_record
        assert str(target / seg.name) in str(report.findings[0])
        reader = Ledger(target, tmp_path / "flip" / "cache").open()  # does not raise
        kept = [r for r in scan(bytes(flipped)) if isinstance(r, Record)]
        assert [r.offset for r in kept][: starts.index(damaged_record)] == starts[
            : starts.index(damaged_record)
        ]
        assert reader.state is not None


def test_verify_cli_exit_codes(project: Project) -> None:
    project.ledger.record(ev.Note(message="hello"))
    project.close()
    cli = [sys.executable, "-m", "jobledger.cli.main"]
    ok = subprocess.run(
        [*cli, "verify"], cwd=project.root, capture_output=True, text=True, env=env_with_src()
    )
    assert ok.returncode == 0, ok.stderr
    (seg,) = project.ledger_dir.glob("*.seg")
    data = bytearray(seg.read_bytes())
    data[30] ^= 1
    seg.write_bytes(bytes(data))
    bad = subprocess.run(
        [*cli, "verify"], cwd=project.root, capture_output=True, text=True, env=env_with_src()
    )
    assert bad.returncode == 1
    assert seg.name in bad.stderr and "byte 0" in bad.stderr


# ---------------------------------------------------------------- concurrent writers
def test_four_processes_append_concurrently(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from jobledger.ledger.store import Ledger
        root = Path(sys.argv[1]); me = sys.argv[2]
        led = Ledger(root / "ledger", root / "cache").open()
        from jobledger.ledger.events import Note
        for i in range(10_000):
            led.append(Note(message=f"{me}:{i}"))
            if i % 100 == 99:
                led.flush()
        led.close()
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(w)], env=env_with_src())
        for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    report = verify_ledger(tmp_path / "ledger")
    assert report.ok
    seen = set()
    for event in Ledger(tmp_path / "ledger", tmp_path / "cache").open().iter_events():
        if event.type == "note":
            seen.add(event.data["message"])
    assert len(seen) == 40_000


# ---------------------------------------------------------------- snapshot
def test_snapshot_warm_open_equals_cold(tmp_path: Path) -> None:
    led = _ledger(tmp_path)
    _fill(led, 50)
    led.save_snapshot()
    led.append(ev.StateChanged(key="k1", attempt=2, state="running"))
    led.close()
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    cold = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    assert _normal(warm.model) == _normal(cold.model)
    # a segment that the snapshot never saw (as a git merge brings) is read on top
    other = Ledger(tmp_path / "other", tmp_path / "othercache").open()
    other.record(ev.StateChanged(key="k2", attempt=3, state="failed", exit_code=9))
    other.close()
    for seg in (tmp_path / "other").glob("*.seg"):
        shutil.copy(seg, tmp_path / "ledger" / seg.name)
    merged = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    assert merged.state.job("k2").attempts[-1].exit_code == 9  # type: ignore[union-attr]


def test_unknown_event_types_are_kept_and_skipped(tmp_path: Path) -> None:
    _raw_segment(
        tmp_path / "ledger",
        [
            ["from_the_future", 1, 1, 0.0, {"anything": [1, 2]}],
            ["state", 2, 2, 0.0, {"key": "k", "attempt": 1, "state": "running"}],
        ],
    )
    again = _ledger(tmp_path)
    kept = b"from_the_future" in next((tmp_path / "ledger").glob("*.seg")).read_bytes()
    assert kept and [e.type for e in again.iter_events()][-1:] == ["state"]
    assert again.state.job("k").state.value == "running"  # type: ignore[union-attr]


def test_states_never_move_backwards(tmp_path: Path) -> None:
    state = fold(
        [
            (
                [
                    "state",
                    3,
                    1,
                    0.0,
                    {"key": "k", "attempt": 1, "state": "completed", "exit_code": 0},
                ],
                "w",
            ),
            (["state", 4, 2, 0.0, {"key": "k", "attempt": 1, "state": "running"}], "w"),
            (
                ["state", 5, 3, 0.0, {"key": "k", "attempt": 1, "state": "failed", "exit_code": 1}],
                "w",
            ),
        ],
        Model(),
    )
    att = state.jobs["k"].attempts[1]
    assert att.state.value == "completed" and att.exit_code == 0


def test_record_byte_layout() -> None:
    data, digest = encode_record([["note", 1, 1, 0.0, {}]], ZERO_DIGEST)
    assert data[:2] == b"JL" and data[2] == 1
    length = int.from_bytes(data[4:8], "big")
    assert len(data) == 24 + length + 16
    assert data[8:24] == ZERO_DIGEST and data[-16:] == digest


# ---------------------------------------------------------------- git merge
def _git(cwd: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@x",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@x",
    )
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_merge_of_two_branches(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    Project.init(root)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "init")
    for branch, key in (("left", "L"), ("right", "R")):
        _git(root, "checkout", "-q", "-b", branch, "main")
        project = Project(root)
        project.ledger.record(ev.WorkflowDefined(name=f"wf-{branch}", jobs=[_spec(key, branch)]))
        project.ledger.record(ev.StateChanged(key=key, attempt=1, state="completed", exit_code=0))
        project.close()
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", branch)
    _git(root, "checkout", "-q", "left")
    _git(root, "merge", "-q", "--no-edit", "right")  # raises on conflict
    assert "<<<<<<<" not in "".join(
        p.read_bytes().decode(errors="replace") for p in (root / ".jobledger").rglob("*.seg")
    )
    merged = Project(root).ledger.state
    assert set(merged.workflows()) == {"wf-left", "wf-right"}
    assert merged.job("L").state.value == "completed" and merged.job("R").state.value == "completed"  # type: ignore[union-attr]
    assert verify_ledger(root / ".jobledger" / "ledger").ok
    status = _git(root, "status", "--porcelain")
    assert "cache" not in status


def test_events_packed_one_by_one_make_the_same_record() -> None:
    packer = msgpack.Packer(use_bin_type=True)
    for count in (0, 1, 15, 16, 65_535, 65_536):
        events = [["state", i, i, 0.5, {"key": f"k{i}", "state": "running"}] for i in range(count)]
        packed = [packer.pack(e) for e in events]
        assert encode_packed_record(packed, ZERO_DIGEST) == encode_record(events, ZERO_DIGEST)


_FREEZE = """
import gc, sys
from pathlib import Path
from jobledger.ledger import events as ev, store
from jobledger.ledger.store import Ledger
store.FREEZE_EVERY = int(sys.argv[2])
root = Path(sys.argv[1])
ledger = Ledger(root / "ledger", root / "cache").open()
for i in range(3000):
    ledger.append(ev.StateChanged(key=f"k{i % 700}", state="running"))
ledger.close()
print(gc.get_freeze_count())
"""


@pytest.mark.parametrize(("every", "frozen"), [(1000, True), (10**9, False)])
def test_many_appends_move_the_records_out_of_the_collectors_way(
    tmp_path: Path, every: int, frozen: bool
) -> None:
    """After FREEZE_EVERY appended events the objects alive are frozen (full collections
    stop walking every record again); the ledger reads back whole either way."""
    out = subprocess.run(
        [sys.executable, "-c", _FREEZE, str(tmp_path), str(every)],
        capture_output=True,
        text=True,
        check=True,
        env=env_with_src(),
    )
    assert (int(out.stdout) > 0) is frozen
    ledger = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open()
    assert len(ledger.model.jobs) == 700
    assert verify_ledger(tmp_path / "ledger").ok
