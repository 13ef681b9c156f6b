"""Values passed between the engine and its backends."""

from __future__ import annotations

from typing import Any

import attrs

from jobledger.model.job import Job
from jobledger.model.resources import Resources
from jobledger.schedulers.base import NativeDependency
from jobledger.states import JobState


@attrs.frozen
class Submission:
    """One attempt of one job, ready to hand to a backend."""

    job: Job
    key: str
    attempt: int
    run_dir: str
    """Project-relative run directory (``jobs/<name>-<key8>``)."""
    attempt_dir: str
    """Project-relative attempt directory (the run dir, or ``<run dir>/attempt-N``)."""
    resources: Resources
    workflow: str
    indices: tuple[int, ...] | None = None
    native_deps: tuple[NativeDependency, ...] = ()

    @property
    def marker(self) -> str:
        """Marker file name the wrapper touches (``<key8>-<attempt>``, ``-<index>`` added)."""
        return f"{self.key[:12]}-{self.attempt}"

    @property
    def tag(self) -> str:
        """Tag carried by scheduler jobs to find them again: ``jl:<key>:<attempt>``."""
        return f"jl:{self.key}:{self.attempt}"


@attrs.frozen
class SubmitOutcome:
    """What a backend returned for a submission."""

    scheduler_id: str
    host: str
    state: JobState = JobState.SUBMITTED
    detail: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Unit:
    """One active job or array element the engine watches."""

    key: str
    attempt: int
    index: int | None
    host: str
    scheduler_id: str | None
    attempt_dir: str
    """Project-relative attempt directory."""
    state: JobState
    submitted_at: float | None = None
    started_at: float | None = None
    time_limit: int | None = None
    cancel_requested: bool = False
    index_offset: int = 0
    """Added to ``index`` to get the scheduler's task id (SGE and LSF count from 1)."""

    @property
    def task_index(self) -> int | None:
        """The scheduler's array task id of this unit."""
        return None if self.index is None else self.index + self.index_offset

    @property
    def ident(self) -> tuple[str, int, int | None]:
        """(key, attempt, index)."""
        return (self.key, self.attempt, self.index)

    @property
    def unit_dir(self) -> str:
        """Project-relative unit directory."""
        return self.attempt_dir if self.index is None else f"{self.attempt_dir}/{self.index}"


@attrs.frozen
class Update:
    """A state change a backend observed for one unit."""

    key: str
    attempt: int
    index: int | None
    state: JobState
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    source: str = ""
    at: float | None = None
    started: float | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
