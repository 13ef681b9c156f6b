"""The session layer: the one public way to drive the workflows of a project."""

from jobledger.session.handle import RunHandle
from jobledger.session.interrupt import JobsKeepRunning
from jobledger.session.registry import forget_session, session_for
from jobledger.session.results import Result
from jobledger.session.selection import Selection, project_for, select
from jobledger.session.session import RunDefaults, Session

__all__ = [
    "JobsKeepRunning",
    "Result",
    "RunDefaults",
    "RunHandle",
    "Selection",
    "Session",
    "forget_session",
    "project_for",
    "select",
    "session_for",
]
