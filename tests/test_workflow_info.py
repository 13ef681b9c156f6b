"""A workflow's frozen view is made once per definition: asked again it is the same
object, and a new definition (here, or read from another writer's segment) gives a new
one."""

from __future__ import annotations

from pathlib import Path

from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec
from jobledger.ledger.store import Ledger


def _ledger(root: Path) -> Ledger:
    return Ledger(root / "ledger", root / "cache").open()


def _define(ledger: Ledger, keys: list[str], replaces: list[str] | None = None) -> None:
    specs = [JobSpec(key=k, name=f"job-{k}", run_dir=f"jobs/job-{k}") for k in keys]
    ledger.record(ev.WorkflowDefined(name="wf", jobs=specs, replaces=replaces))


def test_the_view_is_made_again_only_for_a_new_definition(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    _define(ledger, ["a", "b"])
    first = ledger.state.workflow("wf")
    assert first is not None and first.job_keys == ("a", "b")
    assert ledger.state.workflow("wf") is first
    assert ledger.state.workflows()["wf"] is first

    _define(ledger, ["b", "c"])  # replaces every earlier definition
    second = ledger.state.workflow("wf")
    assert second is not None and second is not first
    assert second.job_keys == ("b", "c") and second.superseded == ("a",)
    assert ledger.state.workflows()["wf"] is second
    ledger.close()


def test_a_definition_from_another_writer_is_seen(tmp_path: Path) -> None:
    reader = _ledger(tmp_path)
    _define(reader, ["a"])
    seen = reader.state.workflow("wf")
    assert seen is not None and seen.job_keys == ("a",)

    other = _ledger(tmp_path)  # another process's segment
    _define(other, ["a", "z"])
    other.close()
    reader.refresh()
    now = reader.state.workflow("wf")
    assert now is not None and now.job_keys == ("a", "z") and now is not seen
    reader.close()


def test_warm_and_cold_reads_agree(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    _define(ledger, ["a", "b"])
    _define(ledger, ["b", "c"])
    made = ledger.state.workflows()
    ledger.save_snapshot()
    ledger.close()
    warm = Ledger(tmp_path / "ledger", tmp_path / "cache").open().state.workflows()
    cold = Ledger(tmp_path / "ledger", tmp_path / "cache", use_snapshot=False).open().state.workflows()
    assert made == warm == cold
