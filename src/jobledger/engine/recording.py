"""What a backend observed, as the events to record (pure)."""

from __future__ import annotations

from typing import Any

from jobledger.engine.planner import standing_of
from jobledger.engine.types import Update
from jobledger.ledger import events as ev
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, cancel_stands
from jobledger.states import JobState


def update_events(update: Update, model: Model) -> list[Any]:
    """The ``state`` event (and ``result`` of a Python call) for one backend update.

    A failure or loss of an attempt someone asked to cancel is recorded as ``cancelled``;
    a scheduler's cancel of a job nobody cancelled, whose ``afterok`` upstream failed, as
    ``dependency_failed`` (Torque, PBS and SLURM's ``--kill-on-invalid-dep`` do that).
    """
    job = model.jobs.get(update.key)
    state, reason = update.state, update.reason
    att = job.attempts.get(update.attempt) if job is not None else None
    asked = job is not None and (cancel_stands(job) or (att is not None and att.cancel_intent is not None))
    if state in (JobState.FAILED, JobState.LOST) and asked:
        state = JobState.CANCELLED
        reason = reason if reason and "cancel" in reason else "cancelled on request"
    if state is JobState.CANCELLED and job is not None and update.signal is None and not asked:
        failed = _failed_upstream(model, job.spec.after if job.spec else (), att)
        if failed:
            state = JobState.DEPENDENCY_FAILED
            reason = f"never ran: upstream {', '.join(failed)} did not complete"
    events: list[Any] = []
    if state.is_final and update.result is not None:
        error = update.result.get("error")
        events.append(
            ev.ResultRecorded(
                key=update.key,
                attempt=update.attempt,
                index=update.index,
                value=update.result.get("value"),
                size=update.result.get("size"),
                type=update.result.get("type"),
                error=error,
            )
        )
        if error and state is not JobState.COMPLETED:
            reason = f"{error.get('type')}: {error.get('message')}"
    if update.started is not None and state.is_final:
        events.append(
            ev.StateChanged(
                key=update.key, state="running", attempt=update.attempt, index=update.index, at=update.started
            )
        )
    events.append(
        ev.StateChanged(
            key=update.key,
            state=state.value,
            attempt=update.attempt,
            index=update.index,
            exit_code=update.exit_code,
            signal=update.signal,
            reason=reason,
            source=update.source,
            at=update.at,
            pid=update.pid,
        )
    )
    return events


def _failed_upstream(model: Model, after: Any, att: Any) -> list[str]:
    if att is None or not att.native_deps:
        return []
    failed = []
    for up, kind in after:
        upstream = model.jobs.get(up)
        if kind == "afterok" and standing_of(upstream).phase is Phase.FAILURE:
            failed.append(upstream.name if upstream is not None else up[:12])
    return failed
