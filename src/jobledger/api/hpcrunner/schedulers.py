"""hpc-runner's scheduler objects: :class:`LocalScheduler`, :class:`SGEScheduler`,
:class:`SlurmScheduler`, :class:`PBSScheduler`, :class:`LSFScheduler`.

Each names a jobledger host: ``local`` is this machine; any other name is the first
``[hosts.*]`` of ``jobledger.toml`` with that ``scheduler``, else the implicit host of that
name when the scheduler's commands are on this machine's PATH (no configuration needed),
else a :class:`~jobledger.errors.ConfigError` saying what was looked for. Job ids given to
:meth:`~LedgerScheduler.get_status`, :meth:`~LedgerScheduler.cancel` and friends are the
``job_id`` of a :class:`JobResult` (or the result itself), looked up in the project's ledger.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobledger.api.hpcrunner.config import get_config
from jobledger.api.hpcrunner.machine import implicit_alias
from jobledger.api.hpcrunner.results import ArrayJobResult, JobResult, _Submitted
from jobledger.api.hpcrunner.status import JobStatus
from jobledger.config import IMPLICIT_HOSTS
from jobledger.config import load_config as load_project_config
from jobledger.errors import ConfigError, ModelError
from jobledger.model.job import Job as LedgerJob
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.registry import session_for
from jobledger.session.selection import project_for
from jobledger.session.session import Session

if TYPE_CHECKING:
    from jobledger.api.hpcrunner.arrays import JobArray


def face_session() -> Session:
    """The session of the project found upward from the current directory (made there
    when there is none); ``$JOBLEDGER_MAX_PARALLEL`` caps local jobs as for ``run``."""
    limit = os.environ.get("JOBLEDGER_MAX_PARALLEL", "")
    return session_for(project_for(None, create=True), max_parallel=int(limit) if limit.isdigit() else None)


def run_alone(session: Session, job: LedgerJob, reuse: bool) -> tuple[str, str]:
    """Run ``job`` (and the not yet submitted jobs it depends on) as the workflow
    ``<name>-<key8>``; returns ``(workflow name, key)``."""
    key = Workflow([job], name="_").keys()[job.name]
    name = f"{job.name}-{key[:8]}"
    [(definition, _verdicts)] = session.run([Workflow([job], name=name)], force=not reuse)
    return name, definition.keys[job.name]


class LedgerScheduler:
    """A scheduler: a name (``local``, ``slurm``, ``sge``, ``pbs``, ``lsf``) and the
    jobledger host its jobs go to (see the module docstring)."""

    name = "local"

    def __init__(self, name: str | None = None, host: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.host = host

    def alias(self, project: Project) -> str:
        """The host alias jobs go to."""
        if self.host is not None:
            return self.host
        if self.name == "local":
            return "local"
        config = load_project_config(project.root)
        if self.name in config.hosts:
            return self.name
        for alias, table in config.hosts.items():
            if table.scheduler == self.name:
                return alias
        implicit, problem = implicit_alias(self.name)
        if implicit is not None:
            return implicit
        where = " or ".join(config.sources) if config.sources else "no configuration file found"
        commands = ", ".join(IMPLICIT_HOSTS.get(self.name, ("", ()))[1]) or "its commands"
        probed = problem or f"{commands} not found on this machine's PATH ({os.environ.get('PATH', '')})"
        raise ConfigError(
            f'scheduler {self.name!r}: {probed}, and no host in jobledger.toml has scheduler = "{self.name}" '
            f"(read: {where}); to submit over SSH add e.g.\n\n[hosts.cluster]\n"
            f'scheduler = "{self.name}"\nssh = "me@login.cluster"\n\n'
            "(or set HPC_SCHEDULER=local to run jobs here)"
        )

    def submit(
        self, job: Any, interactive: bool = False, keep_script: bool = False, *, reuse: bool = False
    ) -> JobResult:
        """Submit ``job`` (run it now; ``reuse=True`` returns its earlier run when that
        completed); ``interactive=True`` blocks until it ended."""
        del keep_script
        session = face_session()
        submitted = _ledger_job(job, host=self.alias(session.project))
        workflow, key = run_alone(session, submitted, reuse)
        result = JobResult(job, submitted, session, workflow, key, self)
        if interactive:
            result.wait()
        return result

    def submit_array(self, array: JobArray, *, reuse: bool = False) -> ArrayJobResult:
        """Submit a :class:`JobArray`; returns an :class:`ArrayJobResult`."""
        session = face_session()
        submitted = array.to_job(host=self.alias(session.project))
        workflow, key = run_alone(session, submitted, reuse)
        return ArrayJobResult(array, submitted, session, workflow, key, self)

    # ------------------------------------------------------------------ by job id
    def _find(self, job_id: Any) -> tuple[Session, str, list[str]] | None:
        if isinstance(job_id, _Submitted):
            return job_id.session, job_id.key, [job_id.workflow]
        text = str(job_id)
        session = face_session()
        best: tuple[float, str] | None = None
        for info in session.state.jobs():
            ids = {f"local_{info.key[:12]}", info.key}
            ids.update(a.scheduler_id for a in info.attempts if a.scheduler_id)
            if text in ids or (len(text) >= 8 and info.key.startswith(text)):
                when = max((a.submitted_at or 0.0 for a in info.attempts), default=0.0)
                if best is None or when >= best[0]:
                    best = (when, info.key)
        if best is None:
            return None
        return session, best[1], session.workflows_of([best[1]])

    def _result(self, job_id: Any, observe: bool) -> Any:
        found = self._find(job_id)
        if found is None:
            return None
        session, key, workflows = found
        if observe:
            session.observe(workflows)
        return next(iter(session.results([key]).values()), None)

    def get_status(self, job_id: Any) -> JobStatus:
        """Status of a job (by ``job_id`` or result) now; ``UNKNOWN`` for an unknown id."""
        found = self._result(job_id, observe=True)
        return JobStatus.from_state(found.state) if found is not None else JobStatus.UNKNOWN

    def get_exit_code(self, job_id: Any) -> int | None:
        """Exit code of an ended job (``None`` before, or for an unknown id)."""
        found = self._result(job_id, observe=True)
        return found.exit_code if found is not None else None

    def get_output_path(self, job_id: Any, stream: str = "stdout") -> Path | None:
        """The file holding the job's ``stream`` (``"stdout"`` or ``"stderr"``; with
        ``stderr=None`` both are the stdout file); ``None`` for an unknown id."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        found = self._result(job_id, observe=False)
        if found is None:
            return None
        path: Path = found.stdout_path if stream == "stdout" else found.stderr_path
        return path

    def cancel(self, job_id: Any) -> bool:
        """Cancel a job (by ``job_id`` or result); ``True`` when there was one to cancel."""
        found = self._find(job_id)
        if found is None:
            return False
        session, key, _workflows = found
        return bool(session.cancel([key]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}" + (f", host={self.host!r})" if self.host else ")")


class LocalScheduler(LedgerScheduler):
    """Jobs run on this machine."""

    name = "local"


class SGEScheduler(LedgerScheduler):
    """Grid Engine. ``pe_name``, ``mem_resource``, ``time_resource`` and
    ``merge_output_default`` show ``[schedulers.sge]`` of the hpc-runner configuration;
    the jobs themselves take their SGE settings from ``jobledger.toml``'s
    ``[schedulers.sge]`` (``parallel_environment``, ``memory_resource``, ...)."""

    name = "sge"

    def __init__(self, name: str | None = None, host: str | None = None) -> None:
        super().__init__(name, host)
        settings = get_config().get_scheduler_config("sge")
        self.pe_name: str = settings.get("parallel_environment", "smp")
        self.mem_resource: str = settings.get("memory_resource", "mem_free")
        self.time_resource: str = settings.get("time_resource", "h_rt")
        self.merge_output_default: bool = settings.get("merge_output", True)


class SlurmScheduler(LedgerScheduler):
    """SLURM."""

    name = "slurm"


class PBSScheduler(LedgerScheduler):
    """PBS Pro (and Torque, under the name ``torque``)."""

    name = "pbs"


class LSFScheduler(LedgerScheduler):
    """IBM Spectrum LSF."""

    name = "lsf"


def _ledger_job(job: Any, host: str) -> LedgerJob:
    """The jobledger Job to run for ``job`` on ``host`` (a job naming its own host keeps it)."""
    if getattr(job, "is_hpcrunner_job", False):
        made: LedgerJob = job.to_job() if job.host is not None else job.to_job(host=host)
        return made
    if isinstance(job, LedgerJob):
        return job if job.host != "local" or host == "local" else job.with_changes(host=host)
    raise ModelError(f"a scheduler submits hpc-runner Jobs, not {type(job).__name__} {job!r}")
