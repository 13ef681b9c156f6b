"""hyrun's data classes: ``Job`` (ordered tasks run as one script), ``Output``, ``JobStatus``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobledger.api.hyrun.settings import TaskSettings, is_settings, read_task, same_job
from jobledger.errors import JobFailedError, ModelError
from jobledger.model.job import Job as ModelJob
from jobledger.model.resources import Resources
from jobledger.model.task import Task
from jobledger.session.results import Result
from jobledger.states import JobState

_JOB_FIELDS = ("tasks", "name", "hash", "status", "job_id", "db_id", "job_script", "metadata", "outputs")


@dataclass
class Output:
    """What one task of a job left (hyrun's ``hyrun.job.Output``): text of stdout and
    stderr, their files, the exit code, the task's ``output_file`` and ``files_to_parse``
    (absolute), the folder they are in, and the error when the job did not complete."""

    files_to_parse: list[str] | None = None
    output_file: str | None = None
    output_folder: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_file: str | None = None
    stderr_file: str | None = None
    returncode: int | None = None
    error: BaseException | None = None

    def from_dict(self, data: Mapping[str, Any]) -> None:
        """Set the fields ``data`` names (other keys are ignored, as in hyrun)."""
        for key, value in data.items():
            if key in self.__dataclass_fields__:
                setattr(self, key, value)


@dataclass
class JobStatus:
    """A job's status as hyrun reports it (``status`` in the scheduler's capitals)."""

    job_id: str | None = None
    job_name: str | None = None
    submission_time: dt.datetime | None = None
    status: str = "UNKNOWN"
    quality_of_service: str | None = None
    elapsed_time: dt.timedelta | None = None
    time_left: dt.timedelta | None = None


class Job:
    """Ordered tasks run as one job script (hyrun's ``hyrun.job.Job``).

    ``tasks`` are RunSettings (or dicts of their fields), jobledger
    :class:`~jobledger.Task` objects, shell lines or argv lists; a jobledger
    :class:`~jobledger.Job` is taken whole. Keyword arguments other than the fields below
    land in ``metadata`` (``Job(id=3, hash="h3")`` as in hyrun's notebooks). ``hash`` is
    the node id in a :class:`~jobledger.api.hyrun.JobGraph`: given, or the job's content
    hash. After a run, ``db_id`` is the job's key in the ledger, ``job_id`` the
    scheduler's id, ``status`` its state and ``outputs`` one :class:`Output` per task.
    """

    def __init__(
        self,
        tasks: Any = None,
        *,
        name: str | None = None,
        hash: str | None = None,
        status: str = "unknown",
        job_id: str | None = None,
        db_id: str | None = None,
        job_script: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        outputs: list[Output] | None = None,
        **extra: Any,
    ) -> None:
        self.tasks: list[Any] = [] if tasks is None else list(tasks) if isinstance(tasks, list) else [tasks]
        self.name = name
        self._hash = hash
        self.status = status
        self.job_id = job_id
        self.db_id = db_id
        self.job_script = job_script
        self.metadata: dict[str, Any] = {**(metadata or {}), **extra}
        self.outputs: list[Output] = list(outputs or [])
        self._model: ModelJob | None = None

    @property
    def hash(self) -> str | None:
        """The node id: as given, else the content hash of the job (``None`` without tasks)."""
        if self._hash is not None:
            return self._hash
        model = self.model()
        return model.compute_key([]) if model is not None else None

    @hash.setter
    def hash(self, value: str | None) -> None:
        self._hash = value

    @property
    def settings(self) -> list[TaskSettings]:
        """The tasks that are RunSettings, read."""
        return [read_task(t) for t in self.tasks if is_settings(t)]

    def model(self) -> ModelJob | None:
        """The jobledger :class:`~jobledger.Job` these tasks make (``None`` without tasks)."""
        if self._model is not None:
            return self._model
        if len(self.tasks) == 1 and isinstance(self.tasks[0], ModelJob):
            self._model = self.tasks[0]
            return self._model
        if not self.tasks:
            return None
        where = f"job {self.name or self._hash or ''}".rstrip()
        read = [read_task(t) if is_settings(t) else None for t in self.tasks]
        tasks = [r.task if r is not None else _task(t, where) for r, t in zip(read, self.tasks, strict=True)]
        first = same_job([r for r in read if r is not None], where)
        kwargs: dict[str, Any] = {}
        if first is not None:
            kwargs = {"host": first.host, "modules": first.modules, "resources": Resources(**first.resources)}
            if first.scheduler_args:
                kwargs["slurm_args"] = first.scheduler_args
        self._model = ModelJob(name=self.name, tasks=tasks, **kwargs)
        return self._model

    def to_job(self) -> ModelJob:
        """The jobledger Job (lets every jobledger verb take a hyrun Job)."""
        model = self.model()
        if model is None:
            raise ModelError(f"job {self._hash or self.name!r} has no tasks to run")
        return model

    def __repr__(self) -> str:
        return (
            f"Job(name={self.name!r}, hash={self._hash!r}, status={self.status!r}, tasks={len(self.tasks)})"
        )


def _task(item: Any, where: str) -> Task:
    if isinstance(item, Task):
        return item
    if isinstance(item, (str, list, tuple)) or callable(item):
        return Task(item)
    raise ModelError(f"{where}: a task is a RunSettings, a Task, a shell line or an argv list, not {item!r}")


def get_job(item: Any) -> Job:
    """A :class:`Job` of a Job, a jobledger Job, a RunSettings, a dict (of Job fields or
    of RunSettings fields), a Task, a shell line, or a list of tasks (one job)."""
    if isinstance(item, Job):
        return item
    if isinstance(item, Mapping) and not is_settings(item) and set(item) <= {*_JOB_FIELDS, "id"}:
        return Job(**dict(item))
    if isinstance(item, list):
        return Job(list(item))
    return Job([item])


def outputs_of(job: Job, result: Result | None) -> list[Output]:
    """One :class:`Output` per task of ``job`` from its jobledger ``result``."""
    settings = [read_task(t) if is_settings(t) else None for t in job.tasks] or [None]
    outs = []
    for rs in settings:
        # hyrun's work_dir_local, which defaults to where the job was defined (its cwd)
        folder = Path(rs.workdir) if rs is not None and rs.workdir else Path.cwd()
        out = Output(output_folder=str(folder.resolve()))
        if rs is not None and rs.output_file:
            out.output_file = str(folder.resolve() / rs.output_file)
        if rs is not None and rs.files_to_parse:
            out.files_to_parse = [str(folder.resolve() / p) for p in rs.files_to_parse]
        if result is not None:
            out.stdout = result.read_stdout()
            out.stderr = result.read_stderr()
            out.stdout_file = str(result.stdout_path)
            out.stderr_file = str(result.stderr_path)
            out.returncode = result.exit_code
            out.error = _error(result)
        outs.append(out)
    return outs


def _error(result: Result) -> BaseException | None:
    if result.state is JobState.COMPLETED:
        return None
    if result.error is not None:
        try:
            _ = result.value
        except BaseException as exc:  # the job's own exception, rebuilt here
            return exc
    if not result.state.is_final:
        return None
    detail = f"exit code {result.exit_code}" if result.exit_code is not None else result.reason
    return JobFailedError(f"job {result.name!r} {result.state.value}: {detail or 'no detail'}")


def status_of(result: Result | None, name: str | None) -> JobStatus:
    """hyrun's :class:`JobStatus` of a jobledger ``result`` (``UNKNOWN`` when never run)."""
    if result is None:
        return JobStatus(job_name=name)
    att = result.attempt_info
    submitted = att.submitted_at if att is not None else None
    started, ended = (att.started_at, att.ended_at) if att is not None else (None, None)
    elapsed = None
    if started is not None:
        end = ended if ended is not None else dt.datetime.now().timestamp()
        elapsed = dt.timedelta(seconds=max(0.0, end - started))
    limit = (att.resources or {}).get("time") if att is not None else None
    left = None
    if isinstance(limit, (int, float)) and elapsed is not None and not result.state.is_final:
        left = max(dt.timedelta(0), dt.timedelta(seconds=limit) - elapsed)
    qos = (att.resources or {}).get("qos") if att is not None else None
    return JobStatus(
        job_id=result.scheduler_id,
        job_name=result.name,
        submission_time=dt.datetime.fromtimestamp(submitted) if submitted else None,
        status=result.state.value.upper(),
        quality_of_service=qos,
        elapsed_time=elapsed,
        time_left=left,
    )
