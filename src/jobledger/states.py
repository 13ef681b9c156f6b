"""The one vocabulary of job states, ordered, with a *final* flag.

A state never moves backwards: the reducer keeps the highest-ranked state seen for an
attempt, so a stale ``squeue`` line arriving after the exit file said ``completed`` changes
nothing. Among final states the first one recorded wins.
"""

from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    """State of one attempt of a job (or of one array element)."""

    PENDING = "pending"
    """Known to the ledger, not yet handed to a backend."""
    SUBMITTED = "submitted"
    """Accepted by the backend, waiting (queued, held, or waiting for dependencies)."""
    RUNNING = "running"
    """Executing."""
    COMPLETED = "completed"
    """Finished with exit code 0."""
    FAILED = "failed"
    """Finished with a non-zero exit code or was killed by a signal it did not ask for."""
    CANCELLED = "cancelled"
    """Stopped on request (``stop``/``cancel``, ``scancel``, ``qdel``, ``bkill``)."""
    TIMEOUT = "timeout"
    """Killed for exceeding its time limit."""
    OUT_OF_MEMORY = "out_of_memory"
    """Killed for exceeding its memory limit."""
    NODE_FAIL = "node_fail"
    """The node running it failed."""
    PREEMPTED = "preempted"
    """Preempted by the scheduler for a higher-priority job."""
    BOOT_FAIL = "boot_fail"
    """The node could not boot for it."""
    DEPENDENCY_FAILED = "dependency_failed"
    """Never ran because an ``afterok`` upstream did not complete."""
    LOST = "lost"
    """The backend forgot it and no exit record exists. Never retried silently."""

    @property
    def rank(self) -> int:
        """Order used to refuse backward moves: pending < submitted < running < final."""
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        """True when the attempt will not change any more."""
        return _RANK[self] >= _FINAL_RANK

    @property
    def is_success(self) -> bool:
        """True only for :attr:`COMPLETED`."""
        return self is JobState.COMPLETED

    @property
    def is_active(self) -> bool:
        """Submitted or running: the backend holds it."""
        return self in (JobState.SUBMITTED, JobState.RUNNING)

    def __str__(self) -> str:
        return self.value


_FINAL_RANK = 3
_RANK = {
    JobState.PENDING: 0,
    JobState.SUBMITTED: 1,
    JobState.RUNNING: 2,
    **{s: _FINAL_RANK for s in JobState if s.name not in ("PENDING", "SUBMITTED", "RUNNING")},
}

FINAL_STATES = frozenset(s for s in JobState if s.is_final)
#: ``JobState`` by value, faster than ``JobState(value)`` on hot paths.
STATES: dict[str, JobState] = {s.value: s for s in JobState}
FAILURE_STATES = frozenset(s for s in FINAL_STATES if s is not JobState.COMPLETED)


def parse_state(value: str | JobState) -> JobState:
    """Return the :class:`JobState` named by ``value`` (case-insensitive)."""
    if isinstance(value, JobState):
        return value
    try:
        return JobState(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in JobState)
        raise ValueError(f"unknown job state {value!r}; expected one of {names}") from None
