"""An explicit run of a workflow: which jobs it reuses and which get a new attempt."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jobledger.engine.definitions import Definition
from jobledger.ledger import events as ev
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, cancel_stands, job_phase, settled_state
from jobledger.model.job import Job
from jobledger.states import JobState

#: What a run decided for each job.
REUSED, RERUN, ACTIVE, NEW, FAILED = "reused", "rerun", "active", "new", "failed"


def decide(
    model: Model, definition: Definition, *, force: bool = False, rerun: bool = True, run_id: str
) -> tuple[dict[str, str], list[Any]]:
    """``{key: verdict}`` for a run of ``definition`` and the events that record it.

    A completed job is reused unless ``force`` or one of its ``ensure`` postconditions no
    longer holds; a failed (or cancelled) job gets a new, manual attempt when this workflow
    held it before, when nothing else holds it, or when it is one of the run's own targets
    (nothing in the workflow depends on it) — a new workflow that merely depends on a job
    which failed elsewhere sees it as failed. A cancel request is lifted by such a new
    attempt.
    """
    record = model.workflows.get(definition.name)
    known = {k for d in record.definitions.values() for k in d.keys} if record else set()
    known |= {s.key for s in definition.specs} - {up for s in definition.specs for up, _kind in s.after}
    elsewhere = _held_elsewhere(model, definition.name)
    verdicts: dict[str, str] = {}
    events: list[Any] = [
        ev.RunStarted(
            workflow=definition.name,
            run=run_id,
            definition=definition.digest,
            force=force,
            source=definition.source,
        )
    ]
    for spec in definition.specs:
        key = spec.key
        completed = settled_state(model, key) is JobState.COMPLETED
        if completed and not force and ensure_holds(definition.jobs[key]):
            verdicts[key] = REUSED  # known from the snapshot's index: the record stays packed
            continue
        job = model.jobs.get(key)
        phase, attempt, state = job_phase(job) if job is not None else (Phase.PENDING, 1, None)
        if phase is Phase.SUCCESS and not force and ensure_holds(definition.jobs[key]):
            verdicts[key] = REUSED
        elif phase is Phase.SUCCESS or (
            phase is Phase.FAILURE and rerun and (key in known or key not in elsewhere)
        ):
            verdicts[key] = RERUN
            if phase is Phase.FAILURE:
                reason = f"re-run after {state.value if state else 'failure'}"
            else:
                reason = "forced re-run" if force else "postcondition no longer holds"
            events.append(ev.RetryDecided(key=key, attempt=attempt + 1, reason=reason, manual=True))
        elif phase in (Phase.ACTIVE, Phase.RECONCILE):
            verdicts[key] = ACTIVE
        elif phase is Phase.FAILURE:
            verdicts[key] = FAILED
        else:
            verdicts[key] = NEW
            if job is not None and cancel_stands(job):
                events.append(
                    ev.RetryDecided(key=key, attempt=attempt, reason="run again after a cancel", manual=True)
                )
    return verdicts, events


def _held_elsewhere(model: Model, name: str) -> set[str]:
    """Keys that a current definition of another workflow holds."""
    out: set[str] = set()
    for other, record in model.workflows.items():
        if other != name:
            for definition in record.current():
                out.update(definition.keys)
    return out


def ensure_holds(job: Job) -> bool:
    """Every ``ensure`` postcondition of ``job`` holds (array ones for every index)."""
    for predicate in job.ensure:
        try:
            if job.array is not None and _takes_argument(predicate):
                if not all(predicate(i) for i in job.array.indices):
                    return False
            elif not predicate():
                return False
        except Exception:
            return False
    return True


def _takes_argument(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


__all__ = ["ACTIVE", "FAILED", "NEW", "RERUN", "REUSED", "decide", "ensure_holds"]
