"""hpc-runner's :class:`Pipeline`: named steps with dependencies by name, one workflow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from jobledger.api.hpcrunner.presets import apply_job_type, rebuild
from jobledger.api.hpcrunner.results import JobResult
from jobledger.api.hpcrunner.status import JobStatus
from jobledger.api.hpcrunner.submission import _ours, _scheduler_of
from jobledger.api.verbs import RunHandle, check, run, wait
from jobledger.errors import ModelError
from jobledger.model.job import Dependency, Job
from jobledger.model.workflow import Workflow
from jobledger.session.selection import Selection, project_for
from jobledger.states import JobState


class PipelineError(ModelError, ValueError):
    """A pipeline step is defined twice, or depends on a step that does not exist."""


@attrs.define
class PipelineJob:
    """One step of a :class:`Pipeline`."""

    name: str
    job: Job
    depends_on: tuple[str, ...]
    result: JobResult | None = None


class Pipeline:
    """Named steps with dependencies by name; one workflow named after the pipeline.

    ``with Pipeline("ml") as p:`` submits on leaving the block (when no exception
    escaped and it was not submitted yet); ``p.submit()`` afterwards returns the same
    results without submitting twice.
    """

    def __init__(self, name: str = "pipeline") -> None:
        if not isinstance(name, str) or not name.strip():
            raise PipelineError(f"a pipeline name must be a non-empty string, got {name!r}")
        self.name = name
        self._steps: dict[str, PipelineJob] = {}
        self._results: dict[str, JobResult] = {}
        self._handle: RunHandle | None = None

    def add(
        self,
        command: Any,
        name: str | None = None,
        depends_on: Sequence[str | PipelineJob] | None = None,
        **job_kwargs: Any,
    ) -> PipelineJob:
        """Add a step; the job is named ``<pipeline>_<name>``."""
        if self._handle is not None:
            raise PipelineError(f"pipeline {self.name!r} was submitted; create a new one to add steps")
        step = name or f"step_{len(self._steps) + 1}"
        if step in self._steps:
            raise PipelineError(f"pipeline {self.name!r} already has a step named {step!r}")
        deps: list[str] = []
        for dep in depends_on or ():
            dep_name = dep.name if isinstance(dep, PipelineJob) else str(dep)
            if dep_name not in self._steps:
                raise PipelineError(f"step {step!r} depends on unknown step {dep_name!r}")
            deps.append(dep_name)
        job = Job(command, name=f"{self.name}_{step}", **job_kwargs)
        entry = PipelineJob(step, job, tuple(deps))
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
        return self._handle is not None

    def to_workflow(self, host: str = "local", dependency_type: str = "afterok") -> Workflow:
        """The pipeline as a jobledger :class:`~jobledger.Workflow`."""
        built: dict[str, Job] = {}
        for step in self._steps.values():
            job = apply_job_type(step.job)
            deps = [Dependency(built[d], dependency_type) for d in step.depends_on]
            changes: dict[str, Any] = {"after": [*job.depends, *deps]}
            if job.host == "local" and host != "local":
                changes["host"] = host
            built[step.name] = rebuild(job, **changes)
        return Workflow(list(built.values()), name=self.name)

    def submit(
        self, scheduler: Any = None, dependency_type: str = "afterok", *, force: bool = False
    ) -> dict[str, JobResult]:
        """Submit every step (once); returns ``{step: JobResult}``."""
        if self._handle is not None:
            return dict(self._results)
        if not self._steps:
            raise PipelineError(f"pipeline {self.name!r} has no steps")
        project = project_for(None, create=True)
        chosen = _ours(_scheduler_of(scheduler))
        assert chosen is not None
        workflow = self.to_workflow(chosen.alias(project), dependency_type)
        handle: RunHandle = run(workflow, project=project.root, force=force)
        self._handle = handle
        for step in self._steps.values():
            result = JobResult(workflow[f"{self.name}_{step.name}"], handle, chosen.name)
            step.result = result
            self._results[step.name] = result
        return dict(self._results)

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> dict[str, JobStatus]:
        """Block until every step ended; returns ``{step: JobStatus}``."""
        del poll_interval
        if self._handle is None:
            raise PipelineError(f"pipeline {self.name!r} was not submitted")
        wait(self._handle, timeout=timeout, progress=False, check=False)
        states = check(self._handle)
        return {
            s: JobStatus.from_state(states.get(r.job.name, JobState.PENDING))
            for s, r in self._results.items()
        }

    def _jobledger_selection(self) -> Selection:
        if self._handle is None:
            raise PipelineError(f"pipeline {self.name!r} was not submitted")
        return self._handle._jobledger_selection()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None and self._handle is None and self._steps:
            self.submit()

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[PipelineJob]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self)} steps{', submitted' if self.submitted else ''})"
