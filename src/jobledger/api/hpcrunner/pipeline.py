"""hpc-runner's :class:`Pipeline`: named steps with dependencies by name, one workflow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from jobledger.api.hpcrunner.convert import dependency_kind, ledger_job
from jobledger.api.hpcrunner.detection import scheduler_object
from jobledger.api.hpcrunner.job import Job
from jobledger.api.hpcrunner.results import JobResult
from jobledger.api.hpcrunner.schedulers import LedgerScheduler, face_session
from jobledger.api.hpcrunner.status import JobStatus
from jobledger.errors import ModelError
from jobledger.model.job import Dependency
from jobledger.model.job import Job as LedgerJob
from jobledger.model.workflow import Workflow
from jobledger.session.selection import Selection
from jobledger.session.session import Session


class PipelineError(ModelError, ValueError):
    """A pipeline step is defined twice, or depends on a step that does not exist."""


@attrs.define(eq=False)
class PipelineJob:
    """One step of a :class:`Pipeline`: its name, its :class:`Job`, the steps it depends
    on (:class:`PipelineJob` objects) and, once submitted, its :class:`JobResult`."""

    name: str
    job: Job
    depends_on: list[PipelineJob] = attrs.field(factory=list)
    result: JobResult | None = None


class Pipeline:
    """Named steps with dependencies by name; one workflow named after the pipeline.

    ``with Pipeline("ml") as p:`` submits on leaving the block (when no exception escaped
    and it was not submitted yet); ``p.submit()`` afterwards returns the same results
    without submitting twice. Like ``Job.submit()``, a submission runs every step now;
    ``submit(reuse=True)`` keeps the steps that completed before.
    """

    def __init__(self, name: str = "pipeline") -> None:
        if not isinstance(name, str) or not name.strip():
            raise PipelineError(f"a pipeline name must be a non-empty string, got {name!r}")
        self.name = name
        self._steps: dict[str, PipelineJob] = {}
        self._results: dict[str, JobResult] = {}
        self._session: Session | None = None
        self._keys: list[str] = []

    def add(
        self,
        command: Any,
        name: str | None = None,
        depends_on: Sequence[str | PipelineJob] | None = None,
        **job_kwargs: Any,
    ) -> PipelineJob:
        """Add a step; its job is named ``<pipeline>_<name>``."""
        if self.submitted:
            raise PipelineError(f"pipeline {self.name!r} was submitted; create a new one to add steps")
        step = name or f"step_{len(self._steps) + 1}"
        if step in self._steps:
            raise PipelineError(f"pipeline {self.name!r} already has a step named {step!r}")
        deps: list[PipelineJob] = []
        for dep in depends_on or ():
            dep_name = dep.name if isinstance(dep, PipelineJob) else str(dep)
            if dep_name not in self._steps:
                raise PipelineError(f"step {step!r} depends on unknown step {dep_name!r}")
            deps.append(self._steps[dep_name])
        entry = PipelineJob(step, Job(command, name=f"{self.name}_{step}", **job_kwargs), deps)
        self._steps[step] = entry
        return entry

    @property
    def jobs(self) -> list[PipelineJob]:
        """The steps in the order they were added."""
        return list(self._steps.values())

    def get_job(self, name: str) -> PipelineJob | None:
        """The step called ``name`` (``None`` when there is none)."""
        return self._steps.get(name)

    @property
    def results(self) -> dict[str, JobResult]:
        """``{step: JobResult}`` once submitted (empty before)."""
        return dict(self._results)

    @property
    def submitted(self) -> bool:
        """True once :meth:`submit` ran."""
        return bool(self._results)

    def to_workflow(self, host: str = "local", dependency_type: str = "afterok") -> Workflow:
        """The pipeline as a jobledger :class:`~jobledger.Workflow`."""
        kind = dependency_kind(dependency_type, f"pipeline {self.name!r}")
        built: dict[str, LedgerJob] = {}
        done: dict[int, LedgerJob] = {}
        for step in self._steps.values():
            job = (
                ledger_job(step.job, built=done)
                if step.job.host
                else ledger_job(step.job, built=done, host=host)
            )
            deps = [Dependency(built[d.name], kind) for d in step.depends_on]
            built[step.name] = job.with_changes(depends=(*job.depends, *deps)) if deps else job
        return Workflow(list(built.values()), name=self.name)

    def submit(
        self, scheduler: Any = None, dependency_type: str = "afterok", *, reuse: bool = False
    ) -> dict[str, JobResult]:
        """Submit every step (once); returns ``{step: JobResult}``. ``scheduler`` is a name,
        a scheduler object (yours gets each step's ``submit(job)`` in order), or detected."""
        if self.submitted:
            return dict(self._results)
        if not self._steps:
            raise PipelineError(f"pipeline {self.name!r} has no steps")
        chosen = scheduler_object(scheduler)
        if not isinstance(chosen, LedgerScheduler):
            return self._submit_each(chosen, dependency_type)
        session = face_session()
        workflow = self.to_workflow(chosen.alias(session.project), dependency_type)
        [(definition, _verdicts)] = session.run([workflow], force=not reuse)
        self._session = session
        for step in self._steps.values():
            submitted = workflow[f"{self.name}_{step.name}"]
            key = definition.keys[submitted.name]
            step.result = JobResult(step.job, submitted, session, self.name, key, chosen)
            self._results[step.name] = step.result
            self._keys.append(key)
        return dict(self._results)

    def _submit_each(self, scheduler: Any, dependency_type: str) -> dict[str, JobResult]:
        for step in self._steps.values():
            step.job.dependencies = [
                *step.job.dependencies,
                *(self._results[d.name] for d in step.depends_on),
            ]
            step.job.dependency_type = dependency_type
            step.result = scheduler.submit(step.job)
            self._results[step.name] = step.result
        return dict(self._results)

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> dict[str, JobStatus]:
        """Block until every step ended; returns ``{step: JobStatus}``."""
        del poll_interval
        if not self.submitted:
            raise PipelineError(f"pipeline {self.name!r} was not submitted")
        if self._session is None:
            return {s: r.wait(timeout=timeout) for s, r in self._results.items()}
        results = self._session.wait(self._keys, [self.name], timeout=timeout, check=False)
        return {s: JobStatus.from_state(results[r.name].state) for s, r in self._results.items()}

    def _jobledger_selection(self) -> Selection:
        if self._session is None:
            raise PipelineError(f"pipeline {self.name!r} was not submitted here")
        return Selection(self._session.project, (), tuple(self._keys), (self.name,))

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None and not self.submitted and self._steps:
            self.submit()

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[PipelineJob]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self)} steps{', submitted' if self.submitted else ''})"
