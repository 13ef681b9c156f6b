"""Value objects describing work: resources, tasks, jobs, workflows (no I/O but input hashing)."""

from jobledger.model.array import ArraySpec
from jobledger.model.job import Dependency, Job, JobRef
from jobledger.model.resources import Resources
from jobledger.model.retry import Backoff, RetryPolicy
from jobledger.model.task import Task
from jobledger.model.workflow import Workflow

__all__ = [
    "ArraySpec",
    "Backoff",
    "Dependency",
    "Job",
    "JobRef",
    "Resources",
    "RetryPolicy",
    "Task",
    "Workflow",
]
