"""Cheap read-side questions over many jobs (views of 100,000-job projects).

A finished big project's job records stay packed (see :mod:`.lazy`) until something reads
them; these helpers answer "how many jobs in each state" from the snapshot's index of
settled jobs, decoding only the records of jobs that are still open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from jobledger.ledger.reducer import Model
from jobledger.ledger.state import attempt_state, settled_state
from jobledger.states import JobState


def job_state(model: Model, key: str) -> JobState | None:
    """The state ``jobledger status`` shows for ``key`` (its latest attempt's, ``pending``
    before the first; ``None`` when the ledger does not know the key)."""
    found = settled_state(model, key)
    if found is not None:
        return found
    job = model.jobs.get(key)
    if job is None:
        return None
    current = job.current
    return JobState.PENDING if current is None else attempt_state(current, job.spec)


def key_states(model: Model, keys: Iterable[str]) -> list[tuple[str, JobState]]:
    """``(key, state)`` of each known key, in the given order."""
    out = []
    for key in keys:
        state = job_state(model, key)
        if state is not None:
            out.append((key, state))
    return out


def tally(states: Iterable[JobState]) -> dict[str, int]:
    """Number of jobs per state name, sorted by name."""
    return dict(sorted((state.value, n) for state, n in Counter(states).items()))
