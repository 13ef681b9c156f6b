"""``Job.submit()``: one job as its own small workflow (:func:`submit_job`)."""

from __future__ import annotations

from typing import Any

from jobledger.api.hpcrunner.presets import apply_job_type, rebuild
from jobledger.api.hpcrunner.results import JobResult
from jobledger.api.hpcrunner.schedulers import LedgerScheduler, get_scheduler
from jobledger.api.verbs import RunHandle, run
from jobledger.errors import ModelError
from jobledger.model.job import Job
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.selection import project_for


def _scheduler_of(scheduler: Any) -> Any:
    if scheduler is None or isinstance(scheduler, str):
        return get_scheduler(scheduler)
    return scheduler


def _check_job(job: Any) -> Job:
    if not isinstance(job, Job):
        raise ModelError(f"expected a jobledger Job, not {type(job).__name__}")
    if job.metadata.get("dependency"):
        raise ModelError(
            f"job {job.name!r}: raw scheduler dependency strings are not supported; "
            "use job.dependencies = [result] or job.after(result)"
        )
    return apply_job_type(job)


def _choose(job: Job, scheduler: Any) -> Any:
    """The scheduler object to use; ``None`` when the job's own ``host=`` decides."""
    if scheduler is None and job.host != "local":
        return None
    return _scheduler_of(scheduler)


def _place(job: Job, chosen: LedgerScheduler | None, project: Project) -> tuple[Job, str]:
    """The job on the chosen scheduler's host, and the scheduler's name."""
    if chosen is None:
        return job, job.host
    alias = chosen.alias(project)
    if alias != job.host:
        job = rebuild(job, host=alias)
    return job, chosen.name


def _ours(chosen: Any) -> LedgerScheduler | None:
    if chosen is not None and not isinstance(chosen, LedgerScheduler):
        raise ModelError(f"scheduler {chosen!r} is not a jobledger scheduler")
    return chosen


def _run_alone(job: Job, project: Project, force: bool) -> RunHandle:
    key = Workflow([job], name="_").keys()[job.name]
    handle: RunHandle = run(Workflow([job], name=f"{job.name}-{key[:8]}"), project=project.root, force=force)
    return handle


def submit_job(job: Job, scheduler: Any = None, *, force: bool = False) -> JobResult:
    """``Job.submit()``: run ``job`` as its own small workflow; returns a :class:`JobResult`.

    ``scheduler`` is a name, a scheduler object, or ``None`` (the job's own ``host=``
    if it set one, else detected). Upstream jobs in ``job.dependencies`` that were
    submitted already are recognised by key and not submitted again. A job whose key
    already completed is reused, not re-run, unless ``force=True``.
    """
    job = _check_job(job)
    chosen = _choose(job, scheduler)
    if chosen is not None and not isinstance(chosen, LedgerScheduler):
        result: JobResult = chosen.submit(job)  # a scheduler the user registered
        return result
    project = project_for(None, create=True)
    prepared, name = _place(job, chosen, project)
    return JobResult(prepared, _run_alone(prepared, project, force), name)
