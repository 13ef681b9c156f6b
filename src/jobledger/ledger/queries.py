"""Cheap read-side questions over many jobs (views of 100,000-job projects).

A finished big project's job records stay packed (see :mod:`.lazy`) until something reads
them; these helpers answer "how many jobs in each state" from the snapshot's index of
settled jobs, decoding only the records of jobs that are still open. :func:`settled_job`
(in :mod:`.settled_rows`, re-exported here) reads what a view shows of a settled job
straight from the packed record, without building the record, its attempts and their
histories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from jobledger.gcpause import gc_paused
from jobledger.ledger.lazy import LazyJobs
from jobledger.ledger.reducer import Model
from jobledger.ledger.settled_rows import (
    SettledJob,
    SettledNode,
    node_of,
    settled_job,
    settled_jobs,
    settled_nodes,
)
from jobledger.ledger.state import attempt_state, settled_state
from jobledger.ledger.viewindex import ViewIndex
from jobledger.states import JobState

#: Settled jobs read from their packed records are defined in :mod:`.settled_rows`.
__all__ = [
    "Covered",
    "SettledJob",
    "SettledNode",
    "indexed_nodes",
    "job_state",
    "key_states",
    "node_of",
    "settled_job",
    "settled_jobs",
    "settled_nodes",
    "tally",
    "view_rows",
]


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
    """``(key, state)`` of each known key, in the given order (the final states of the
    jobs the snapshot's view index covers read from it, in bulk)."""
    keys = list(keys)
    found = view_rows(model, keys)
    known = found.states if found is not None else [None] * len(keys)
    out = []
    for key, read in zip(keys, known, strict=True):
        state = read if read is not None else job_state(model, key)
        if state is not None:
            out.append((key, state))
    return out


def tally(states: Iterable[JobState]) -> dict[str, int]:
    """Number of jobs per state name, sorted by name."""
    return dict(sorted((state.value, n) for state, n in Counter(states).items()))


class Covered(NamedTuple):
    """Where the snapshot's view index covers a list of keys (see :func:`view_rows`)."""

    view: ViewIndex
    rows: list[int]
    """Per key: its position in the index, ``-1`` when the index does not cover it."""
    states: list[JobState | None]
    """Per key: its final state when covered."""
    aligned: bool
    """True when key ``p`` is at position ``p`` of the index wherever covered (a column's
    first ``len(rows)`` values are then the keys' values)."""


def view_rows(model: Model, keys: Sequence[str]) -> Covered | None:
    """Which of ``keys`` the snapshot's view index covers (a settled job with one attempt
    and no array whose record is still packed, so unchanged since the snapshot), and where;
    ``None`` when there is no index."""
    jobs = model.jobs
    rows = jobs.rows if isinstance(jobs, LazyJobs) else None
    index = None if rows is None else rows.view()
    if rows is None or index is None:
        return None
    keys = list(keys)
    n = len(keys)
    with gc_paused():
        aligned = index.keys[:n] == keys
        at = list(range(n)) if aligned else [-1 if i is None else i for i in map(index.where().get, keys)]
        if rows.taken:
            taken = rows.taken
            at = [-1 if i >= 0 and key in taken else i for key, i in zip(keys, at, strict=True)]
        value_of = {s.value: s for s in JobState}
        named = index.states
        states = [value_of[named[i]] if i >= 0 else None for i in at]
    return Covered(index, at, states, aligned)


def indexed_nodes(model: Model, keys: Iterable[str]) -> dict[str, SettledNode]:
    """:func:`settled_nodes` of ``keys``, read from the snapshot's view index where it
    covers them (the others from their packed records)."""
    keys = list(keys)
    found = view_rows(model, keys)
    if found is None:
        return settled_nodes(model, keys)
    index, rows, states, _aligned = found
    names, hosts, exits, after = index.name, index.host, index.exit_code, index.after
    rest = []
    out = {}
    with gc_paused():
        for key, i, state in zip(keys, rows, states, strict=True):
            if i < 0:
                rest.append(key)
            else:
                out[key] = SettledNode(key, names[i], hosts[i] or "local", state, exits[i], after[i])  # type: ignore[arg-type]
    if rest:
        out.update(settled_nodes(model, rest))
    return out
