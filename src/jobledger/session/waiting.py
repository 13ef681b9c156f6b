"""What a waiter reads from the ledger's model: each job's state as a waiter sees it, and
the words that say what is unfinished and how to carry on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, job_phase, settled, settled_state
from jobledger.states import JobState


def waiter_states(model: Model, keys: Iterable[str]) -> dict[str, JobState]:
    """Each key's state as a waiter sees it: final once nothing more will happen to the
    job (a failed job with a retry to come reads ``pending``)."""
    out = {}
    for key in keys:
        final = settled_state(model, key)
        if final is not None:
            out[key] = final
            continue
        job = model.jobs.get(key)
        state = job_phase(job)[2] if job is not None else JobState.PENDING
        out[key] = JobState.PENDING if state.is_final else state
    return out


def job_names(model: Model, keys: Iterable[str]) -> list[str]:
    """The names of ``keys`` (a key prefix for a key the ledger does not know)."""
    jobs = model.jobs
    return [jobs[k].name if k in jobs else k[:12] for k in keys]


def unfinished_text(model: Model, keys: Sequence[str], timeout: float | None) -> str:
    """``not every job was final after Ns: a (running on cluster), b (waiting ...)``."""
    parts = []
    for key in keys:
        job = model.jobs.get(key)
        phase, number, state = job_phase(job) if job is not None else (Phase.PENDING, 1, JobState.PENDING)
        if job is not None and settled(job) is not None:
            continue
        att = job.attempts.get(number) if job is not None else None  # none while pending
        why = {
            Phase.PENDING: "waiting for its upstream jobs or a driver",
            Phase.RECONCILE: "its submission is being looked up after a crash",
            Phase.ACTIVE: f"{state.value} on {att.host if att is not None else '?'}",
            Phase.FAILURE: "waiting to be retried",
        }.get(phase, state.value)
        parts.append(f"{job.name if job else key[:12]} ({why})")
    shown = ", ".join(parts[:10]) + (f", and {len(parts) - 10} more" if len(parts) > 10 else "")
    return f"not every job was final after {timeout}s: {shown}"


def carry_on_command(root: Path) -> str:
    """The command that carries on driving the project at ``root`` from the current
    directory (``jobledger resume``, or with ``-C ROOT`` from outside it)."""
    inside = Path.cwd().resolve()
    here = inside == root or root in inside.parents
    return "jobledger resume" if here else f"jobledger -C {root} resume"
