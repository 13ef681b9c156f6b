"""The append-only, hashed, git-mergeable event log and its reducer."""

from jobledger.ledger.event_codec import Recorded
from jobledger.ledger.specs import JobSpec, TaskSpec
from jobledger.ledger.state import AttemptInfo, ElementInfo, JobInfo, ProjectState, WorkflowInfo
from jobledger.ledger.store import Ledger
from jobledger.ledger.verify import Finding, Report, verify_ledger

__all__ = [
    "AttemptInfo",
    "ElementInfo",
    "Finding",
    "JobInfo",
    "JobSpec",
    "Ledger",
    "ProjectState",
    "Recorded",
    "Report",
    "TaskSpec",
    "WorkflowInfo",
    "verify_ledger",
]
