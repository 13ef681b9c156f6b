"""A sweep killed and run again: the array job of the earlier call that still runs."""

from __future__ import annotations

from typing import Any

from jobledger.api.verbs import RunHandle
from jobledger.ledger.state import Phase, job_phase
from jobledger.session.session import session_for


def in_flight(workflow: str, project: Any, indices: set[int]) -> tuple[RunHandle, str, set[int]] | None:
    """The array job of an earlier call of this sweep still in flight with some of
    ``indices``: its handle, name and indices (work in flight keeps its key)."""
    session = session_for(project, create=True)
    state = session.state
    info = state.workflow(workflow)
    for key in info.job_keys if info is not None else ():
        record = state.record(key)
        spec = record.spec if record is not None else None
        if record is None or spec is None or not spec.array or not indices & set(spec.array):
            continue
        if job_phase(record)[0] in (Phase.ACTIVE, Phase.RECONCILE):
            return RunHandle(session, workflow, {spec.name: key}, {}), spec.name, set(spec.array)
    return None
