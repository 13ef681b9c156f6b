"""Reading the reduced state: :class:`ProjectState` and the frozen views it hands out.

:class:`~jobledger.ledger.records.JobRecord` and friends are what the reducer maintains;
:class:`JobInfo`/:class:`AttemptInfo` (in :mod:`jobledger.ledger.infos`) are immutable
snapshots of one job for readers that keep them (results, reports). Where a job stands
(:func:`attempt_state`, :func:`job_phase`, :func:`settled`...) is derived in
:mod:`jobledger.ledger.phases`. Both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from jobledger.ledger.infos import (
    AttemptInfo,
    ElementInfo,
    JobInfo,
    WorkflowInfo,
    attempt_info,
    job_info,
    workflow_info,
)
from jobledger.ledger.phases import (
    Phase,
    aggregate,
    attempt_state,
    cancel_stands,
    element_states,
    job_phase,
    reused_in_latest_run,
    settled,
    settled_state,
    settled_states,
)
from jobledger.ledger.records import JobRecord
from jobledger.ledger.reducer import Model
from jobledger.states import JobState

#: The frozen views and where a job stands are defined apart; readers find them here too.
__all__ = [
    "AttemptInfo",
    "ElementInfo",
    "JobInfo",
    "Phase",
    "ProjectState",
    "WorkflowInfo",
    "aggregate",
    "attempt_info",
    "attempt_state",
    "cancel_stands",
    "element_states",
    "job_info",
    "job_phase",
    "reused_in_latest_run",
    "settled",
    "settled_state",
    "settled_states",
    "workflow_info",
]


class ProjectState:
    """Read-only access to the reduced ledger."""

    def __init__(self, model: Model) -> None:
        self.model = model

    @property
    def max_clock(self) -> int:
        """Highest logical clock seen."""
        return self.model.max_clock

    @property
    def problems(self) -> list[str]:
        """Events that did not fit, sorted."""
        return sorted(self.model.problems)

    def workflows(self) -> dict[str, WorkflowInfo]:
        """Every workflow with a definition, by name."""
        return {
            name: workflow_info(record)
            for name, record in sorted(self.model.workflows.items())
            if record.definitions
        }

    def workflow(self, name: str) -> WorkflowInfo | None:
        """One workflow, if defined."""
        record = self.model.workflows.get(name)
        return None if record is None or not record.definitions else workflow_info(record)

    def record(self, key: str) -> JobRecord | None:
        """The live record of a job (read it, never change it)."""
        return self.model.jobs.get(key)

    def has_job(self, key: str) -> bool:
        """True when the ledger knows the key."""
        return key in self.model.jobs

    def job(self, key: str) -> JobInfo | None:
        """Everything known about one job, frozen."""
        record = self.model.jobs.get(key)
        return None if record is None else job_info(record)

    def jobs(self, workflow: str | None = None) -> list[JobInfo]:
        """Jobs of one workflow (its current definitions, in definition order), or every
        job (by name, key)."""
        if workflow is not None:
            info = self.workflow(workflow)
            keys: Sequence[str] = info.job_keys if info else ()
        else:
            jobs = self.model.jobs
            keys = sorted(jobs, key=lambda k: (jobs[k].name, k))
        return [job_info(self.model.jobs[k]) for k in keys if k in self.model.jobs]

    def reused(self, workflow: str) -> set[str]:
        """Keys the latest run of ``workflow`` reused (found completed, did not run)."""
        return reused_in_latest_run(self.model, workflow)

    def completed_keys(self) -> set[str]:
        """Keys with at least one completed attempt."""
        done = set()
        for key, job in self.model.jobs.items():
            if any(attempt_state(a, job.spec) is JobState.COMPLETED for a in job.attempts.values()):
                done.add(key)
        return done

    def __iter__(self) -> Iterator[JobInfo]:
        return iter(self.jobs())
