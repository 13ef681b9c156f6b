"""Values passed between the driver and its backends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from jobledger.ledger.specs import JobSpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import NativeDependency
from jobledger.states import JobState


def attempt_dir(run_dir: str, attempt: int) -> str:
    """Project-relative directory of an attempt (attempt 1 is the run directory itself)."""
    return run_dir if attempt == 1 else f"{run_dir}/attempt-{attempt}"


@attrs.frozen
class Slot:
    """A job's place in a *pack*: one array submission of same-shape jobs
    (:mod:`jobledger.engine.packing`), one element per job."""

    tag: str
    """The pack's tag (``jl:pack:<16 hex>``), carried by the array as its comment."""
    name: str
    """The array's scheduler-visible name."""
    index: int
    """The job's element, from 0 (the scheduler's task id adds its array base)."""
    size: int
    """Jobs in the pack."""


@attrs.frozen
class Submission:
    """One attempt of one job, ready to hand to a backend."""

    spec: JobSpec
    attempt: int
    resources: Resources
    workflow: str
    native_deps: tuple[NativeDependency, ...] = ()
    upstream_outputs: tuple[str, ...] = ()
    """Absolute local paths of upstream jobs' declared outputs (sent to remote hosts)."""
    pack: Slot | None = None
    """Its element of an array submission shared with same-shape jobs (batch hosts)."""

    @property
    def key(self) -> str:
        """The job key."""
        return self.spec.key

    @property
    def attempt_dir(self) -> str:
        """Project-relative attempt directory (the run dir, or ``<run dir>/attempt-N``)."""
        return attempt_dir(self.spec.run_dir, self.attempt)

    @property
    def marker(self) -> str:
        """Marker file name the wrapper touches (``<key12>-<attempt>``, ``-<index>`` added)."""
        return f"{self.key[:12]}-{self.attempt}"

    @property
    def tag(self) -> str:
        """Tag carried by scheduler jobs to find them again: ``jl:<key>:<attempt>``."""
        return f"jl:{self.key}:{self.attempt}"


@attrs.frozen
class SubmitOutcome:
    """What a backend did with one submission: a scheduler id, or an error."""

    key: str
    attempt: int
    scheduler_id: str | None = None
    error: str = ""
    transient: bool = False
    """The failure may not be final (the submission may even have reached the scheduler)."""
    index_offset: int = 0
    """Scheduler task id minus the user's array index (SGE and LSF count from 1)."""

    @property
    def ok(self) -> bool:
        """True when the backend accepted the submission."""
        return self.scheduler_id is not None


@attrs.frozen
class Unit:
    """One active job or array element the driver watches."""

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
    python: bool = False
    """True when the unit runs a Python call whose result is read back when it ends."""

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
    pid: int | None = None
    result: Mapping[str, Any] | None = None
    """A Python call's outcome read from the unit directory when it ended:
    ``{"value", "size", "type"}`` or ``{"error": {"type", "message", "traceback"}}``."""
