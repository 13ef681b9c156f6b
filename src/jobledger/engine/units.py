"""The units a backend watches (a job's active attempt, or each of its array elements),
read from the ledger's records (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from jobledger.engine.types import Unit, attempt_dir
from jobledger.ledger.records import JobRecord
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, cancel_stands, element_states, job_phase


def units_of(job: JobRecord) -> list[Unit]:
    """The units of a job's current attempt that are not final yet."""
    phase, number, _state = job_phase(job)
    att = job.attempts.get(number)
    spec = job.spec
    if att is None or phase is not Phase.ACTIVE:
        return []
    resources = att.resources or (spec.resources_for(number) if spec is not None else {})
    common = {
        "key": job.key,
        "attempt": number,
        "host": att.host or (spec.host if spec else "local"),
        "scheduler_id": att.scheduler_id,
        "attempt_dir": att.run_dir or attempt_dir(spec.run_dir if spec else "", number),
        "submitted_at": att.submitted_at,
        "time_limit": resources.get("time"),
        "cancel_requested": att.cancel_intent is not None or cancel_stands(job),
        "index_offset": att.index_offset,
        "python": bool(spec and spec.python),
    }
    if spec is not None and spec.array:
        stored = att.elements or {}
        units = []
        for index, state in element_states(att, spec.array):
            if not state.is_final:
                element = stored.get(index)
                started = element.started_at if element is not None else None
                units.append(Unit(index=index, state=state, started_at=started, **common))  # type: ignore[arg-type]
        return units
    return [Unit(index=None, state=att.state, started_at=att.started_at, **common)]  # type: ignore[arg-type]


def active_units(model: Model, keys: Iterable[str]) -> dict[str, list[Unit]]:
    """Units of the active jobs among ``keys``, by host alias."""
    by_host: dict[str, list[Unit]] = {}
    jobs = model.jobs
    for key in keys:
        job = jobs.get(key)
        if job is None:
            continue
        for unit in units_of(job):
            by_host.setdefault(unit.host, []).append(unit)
    return by_host
