"""The append-only, hashed, git-mergeable event log and its reducer."""

from jobledger.ledger.events import Event
from jobledger.ledger.state import AttemptInfo, ElementInfo, JobInfo, ProjectState, WorkflowInfo
from jobledger.ledger.store import Ledger
from jobledger.ledger.verify import Finding, Report, verify_ledger

__all__ = [
    "AttemptInfo",
    "ElementInfo",
    "Event",
    "Finding",
    "JobInfo",
    "Ledger",
    "ProjectState",
    "Report",
    "WorkflowInfo",
    "verify_ledger",
]
