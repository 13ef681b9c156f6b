"""The reading half of a :class:`~jobledger.session.session.Session`: the project's ledger
and its reduced state, results, the keys and workflows of jobs and their states as a
waiter sees them — what anyone may look at, driving or not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jobledger.gcpause import gc_paused
from jobledger.ledger.state import ProjectState
from jobledger.session.results import Result, build_result
from jobledger.session.waiting import waiter_states
from jobledger.states import JobState

if TYPE_CHECKING:
    from jobledger.engine.driver import Driver
    from jobledger.project import Project


class SessionReader:
    """Reads one project's ledger: :class:`~jobledger.session.session.Session` adds
    defining, driving, waiting and the other verbs."""

    project: Project
    driver: Driver

    @property
    def ledger(self) -> Any:
        """The project's ledger."""
        return self.project.ledger

    @property
    def state(self) -> ProjectState:
        """The reduced state of the ledger, as it is now."""
        return ProjectState(self.ledger.model)

    def results(self, keys: Iterable[str]) -> dict[str, Result]:
        """Results of ``keys``, by job name."""
        state = self.state
        keys = list(keys)
        reused = self.reused_keys(self.workflows_of(keys))
        out: dict[str, Result] = {}
        with gc_paused():
            for key in keys:
                info = state.job(key)
                if info is not None:
                    out[info.name] = build_result(self.project.root, info, key in reused)
        return out

    def workflows_of(self, keys: Iterable[str]) -> list[str]:
        """Workflows whose current definitions hold any of ``keys``."""
        wanted = set(keys)
        found = []
        for name, wf in sorted(self.ledger.model.workflows.items()):
            if any(wanted.intersection(d.keys) for d in wf.current()):
                found.append(name)
        return found

    def keys_of(self, names: Iterable[str]) -> list[str]:
        """Keys of the current definitions of workflows ``names`` (and their jobs still in
        flight from earlier definitions)."""
        keys: list[str] = []
        seen: set[str] = set()
        for name in names:
            scope = self.driver.scope(name)
            if scope is None:
                continue
            for key in [*scope.order, *scope.watch_only]:
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
        return keys

    def reused_keys(self, names: Iterable[str]) -> set[str]:
        """Keys the latest run of each of ``names`` reused."""
        state = self.state
        out: set[str] = set()
        for name in names:
            out |= state.reused(name)
        return out

    def states(self, keys: Iterable[str]) -> dict[str, JobState]:
        """Each key's state as a waiter sees it: final once nothing more will happen to the
        job (a failed job with a retry to come reads ``pending``)."""
        return waiter_states(self.ledger.model, keys)

    def unfinished_workflows(self) -> list[str]:
        """Workflows with jobs not final (or with a retry to come)."""
        out = []
        for name in self.state.workflows():
            scope = self.driver.scope(name)
            if scope is not None and not scope.final:
                out.append(name)
        return out
