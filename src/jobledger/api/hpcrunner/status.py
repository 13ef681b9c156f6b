"""hpc-runner's :class:`JobStatus` (how jobledger's states map onto it) and :class:`DependencyType`."""

from __future__ import annotations

import enum

from jobledger.states import JobState


class JobStatus(enum.Enum):
    """hpc-runner's job statuses; :meth:`from_state` maps jobledger's :class:`JobState`."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True when the job will not change any more."""
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)

    @classmethod
    def from_state(cls, state: JobState) -> JobStatus:
        """The status hpc-runner users see for a jobledger state."""
        return _STATUS_OF[state]


_STATUS_OF = {
    JobState.PENDING: JobStatus.PENDING,
    JobState.SUBMITTED: JobStatus.PENDING,
    JobState.RUNNING: JobStatus.RUNNING,
    JobState.COMPLETED: JobStatus.COMPLETED,
    JobState.FAILED: JobStatus.FAILED,
    JobState.OUT_OF_MEMORY: JobStatus.FAILED,
    JobState.NODE_FAIL: JobStatus.FAILED,
    JobState.BOOT_FAIL: JobStatus.FAILED,
    JobState.CANCELLED: JobStatus.CANCELLED,
    JobState.PREEMPTED: JobStatus.CANCELLED,
    JobState.DEPENDENCY_FAILED: JobStatus.CANCELLED,
    JobState.TIMEOUT: JobStatus.TIMEOUT,
    JobState.LOST: JobStatus.UNKNOWN,
}


class DependencyType(str, enum.Enum):
    """How a job depends on its upstream jobs (``job.dependency_type``)."""

    AFTEROK = "afterok"
    """Run once every upstream job completed."""
    AFTERANY = "afterany"
    """Run once every upstream job ended, whatever its outcome."""
    AFTERNOTOK = "afternotok"
    """Run once every upstream job ended without completing."""

    def __str__(self) -> str:
        return self.value
