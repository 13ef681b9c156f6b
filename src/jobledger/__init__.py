"""jobledger: workflows of HPC jobs, recorded in an append-only, hashed, mergeable ledger."""

from jobledger.api.results import Result
from jobledger.api.verbs import RunHandle, WaitTimeout, check, fetch, init, run, stop, update, wait
from jobledger.errors import (
    CommandFailed,
    ConfigError,
    ConnectionFailed,
    CorruptRecordError,
    CycleError,
    DuplicateJobError,
    HashingError,
    HostError,
    JobFailedError,
    JobledgerError,
    LedgerError,
    LockError,
    ModelError,
    ProjectError,
    ResourceError,
    SchedulerError,
    SubmitError,
    UnknownDependencyError,
    UnsupportedResource,
)
from jobledger.model import ArraySpec, Backoff, Dependency, Job, Resources, RetryPolicy, Task, Workflow
from jobledger.project import Project
from jobledger.states import JobState

__version__ = "0.1.0"

__all__ = [
    "ArraySpec",
    "Backoff",
    "CommandFailed",
    "ConfigError",
    "ConnectionFailed",
    "CorruptRecordError",
    "CycleError",
    "Dependency",
    "DuplicateJobError",
    "HashingError",
    "HostError",
    "Job",
    "JobFailedError",
    "JobState",
    "JobledgerError",
    "LedgerError",
    "LockError",
    "ModelError",
    "Project",
    "ProjectError",
    "ResourceError",
    "Resources",
    "Result",
    "RetryPolicy",
    "RunHandle",
    "SchedulerError",
    "SubmitError",
    "Task",
    "UnknownDependencyError",
    "UnsupportedResource",
    "WaitTimeout",
    "Workflow",
    "__version__",
    "check",
    "fetch",
    "init",
    "run",
    "stop",
    "update",
    "wait",
]
