"""What :func:`jobledger.run` returns: a :class:`RunHandle` on one workflow's run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobledger.session.results import Result
from jobledger.session.selection import Selection
from jobledger.states import JobState

if TYPE_CHECKING:
    from jobledger.session.session import Session


class RunHandle:
    """A workflow handed to the session. Pass it to any verb (``jobledger.wait(handle)``)
    or call its methods."""

    def __init__(self, session: Session, name: str, keys: dict[str, str], verdicts: dict[str, str]) -> None:
        self.session = session
        self.project = session.project
        self.name = name
        self.keys = keys
        """Job name -> key."""
        self.verdicts = verdicts
        """Key -> what the run decided (``reused``, ``rerun``, ``new``, ``active``, ``failed``)."""

    def _jobledger_selection(self) -> Selection:
        return Selection(self.project, (), tuple(self.keys.values()), (self.name,))

    @property
    def reused(self) -> list[str]:
        """Names of jobs whose earlier results were reused (nothing ran for them)."""
        by_key = {v: k for k, v in self.keys.items()}
        return [by_key[k] for k, v in self.verdicts.items() if v == "reused"]

    def wait(
        self, timeout: float | None = None, *, progress: bool | None = None, check: bool = True
    ) -> dict[str, Result]:
        """Block until every job is final; results by job name (see :meth:`Session.wait`)."""
        return self.session.wait(
            list(self.keys.values()), [self.name], timeout=timeout, check=check, progress=progress
        )

    def check(self) -> dict[str, JobState]:
        """Current state of each job."""
        self.session.observe([self.name])
        return {name: result.state for name, result in self.results.items()}

    def fetch(self) -> dict[str, Result]:
        """Results of each job (remote outputs brought home first)."""
        return self.session.fetch(list(self.keys.values()))

    def stop(self) -> list[str]:
        """Cancel what is still pending or running."""
        return self.session.cancel(list(self.keys.values()))

    @property
    def results(self) -> dict[str, Result]:
        """Results as they are now (no waiting)."""
        return self.session.results(list(self.keys.values()))

    def __repr__(self) -> str:
        return f"RunHandle({self.name!r}, {len(self.keys)} jobs)"
