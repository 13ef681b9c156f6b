"""The one codec between typed events and their on-disk maps, and its upcasters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import msgpack
import pytest

from jobledger.ledger import events as ev
from jobledger.ledger.event_codec import decode, to_raw
from jobledger.ledger.segment import SegmentWriter, new_writer_id
from jobledger.ledger.specs import JobSpec, TaskSpec
from jobledger.ledger.store import Ledger

SPEC = JobSpec(
    key="k" * 32,
    name="sim",
    run_dir="jobs/sim-kkkkkkkk",
    tasks=[TaskSpec(kind="shell", shell="echo hi")],
)

SAMPLES: list[Any] = [
    ev.WorkflowDefined(name="wf", jobs=[SPEC]),
    ev.Intent(key=SPEC.key, attempt=2, action="submit"),
    ev.Submitted(key=SPEC.key, attempt=1, scheduler_id="42"),
    ev.SubmitFailed(key=SPEC.key, attempt=1, error="sbatch: error: invalid partition"),
    ev.StateChanged(key=SPEC.key, attempt=1, state="failed", exit_code=3, reason="exit 3"),
    ev.CancelRequested(key=SPEC.key, reason="by hand"),
    ev.RetryDecided(key=SPEC.key, attempt=2, reason="exit 3"),
    ev.Staged(host="hpc", path="/scratch/in.dat", digest="d" * 16),
    ev.OutputsHome(key=SPEC.key, files={"out.txt": "e" * 16}),
    ev.Fetched(key=SPEC.key, attempt=1, files={"stdout": "f" * 16}),
    ev.Note(message="hello", level="warning"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_type_round_trips(event: Any) -> None:
    stored = msgpack.packb(to_raw(event, 1, 1, 0.0))  # the bytes a segment holds
    raw = msgpack.unpackb(stored)
    back = decode(raw[0], raw[4])
    assert type(back) is type(event)
    assert msgpack.packb(to_raw(back, 1, 1, 0.0)) == stored
    for field in attrs.fields(type(event)):
        assert getattr(back, field.name) == getattr(event, field.name), field.name


def test_unknown_types_decode_to_none_and_bad_data_is_refused() -> None:
    assert decode("from-a-newer-version", {"x": 1}) is None
    with pytest.raises(TypeError, match="intent event data is list"):
        decode("intent", [1, 2])


def test_a_decoded_event_encodes_to_its_known_stored_fields() -> None:
    """A decoded event holds only what was stored, and a newer version's fields: as many
    keys as the class has fields, but not the same ones, still encodes (the known ones)."""
    fields = [a.name for a in attrs.fields(ev.StateChanged)]
    newer = {f"new_{i}": i for i in range(len(fields) - 2)}
    event = decode("state", {"key": "k", "state": "running", **newer})
    assert len(event.__dict__) == len(fields)
    assert to_raw(event, 1, 2, 3.0) == ["state", 1, 2, 3.0, {"key": "k", "state": "running"}]
    built = ev.StateChanged(key="k", state="running", exit_code=0, reason="")
    assert to_raw(built, 1, 2, 3.0)[4] == {"key": "k", "state": "running", "exit_code": 0}


def test_an_appended_event_comes_back_as_recorded(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    got = ledger.record(ev.Note(message="hi"))
    ledger.close()
    (back,) = [e for e in Ledger(tmp_path / "ledger", tmp_path / "cache").iter_events() if e.type == "note"]
    assert back == got
    assert (back.clock, back.writer, back.seq) == back.order
    assert back.data == {"message": "hi", "level": "info"}


def _old_ledger(root: Path) -> None:
    """A ledger in the shapes an older jobledger wrote: file events as ``note`` events with a
    ``kind``, a job record with neither name, run directory nor tasks."""
    folder = root / "ledger"
    folder.mkdir(parents=True)
    writer = SegmentWriter(folder, new_writer_id())
    key = "a" * 32
    writer.write(
        [
            ["workflow", 10, 1, 1.0, {"name": "old", "jobs": [{"key": key}]}],
            ["note", 11, 2, 1.0, {"kind": "staged", "host": "hpc", "path": "/in.dat", "digest": "d1"}],
            ["note", 12, 3, 1.0, {"kind": "fetched", "key": key, "attempt": 1, "files": {"out": "d2"}}],
            ["note", 13, 4, 1.0, {"message": "plain words"}],
        ],
        durable=True,
    )
    writer.close()


def test_an_older_ledger_reads_through_the_upcasters(tmp_path: Path) -> None:
    _old_ledger(tmp_path)
    ledger = Ledger(tmp_path / "ledger", tmp_path / "cache").open()
    model = ledger.model
    assert model.staged["hpc"]["/in.dat"][0] == "d1"  # a `note` of kind staged became Staged
    job = model.jobs["a" * 32]
    assert job.spec is not None
    assert job.spec.name == "a" * 12
    assert job.spec.run_dir == f"jobs/{'a' * 12}-{'a' * 8}"
    assert job.spec.tasks is None  # not submittable from the ledger
    events = [r.event for r in ledger.iter_events()]
    assert any(isinstance(e, ev.Fetched) and e.files == {"out": "d2"} for e in events)
    assert any(isinstance(e, ev.Note) and e.message == "plain words" for e in events)
