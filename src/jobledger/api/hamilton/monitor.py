"""Hamilton-HPC-Orchestra's :class:`Monitor`, over the project's ledger."""

from __future__ import annotations

from typing import Any

from jobledger.api.hamilton.info import JobInfo, JobStatus
from jobledger.api.verbs import fetch, update
from jobledger.errors import ModelError
from jobledger.session.registry import session_for
from jobledger.session.results import Result
from jobledger.session.selection import Selection, project_for


class Monitor:
    """Hamilton-HPC-Orchestra's monitor, over the project's ledger (no registry)."""

    def __init__(self, host: str, project: Any = None) -> None:
        self.host = host
        self.project = project

    def _workflows(self) -> dict[str, list[str]]:
        """Workflows with unfinished jobs on this host: ``{workflow: [job names]}``."""
        session = session_for(project_for(self.project, create=False))
        session.ledger.refresh()
        state = session.state
        out: dict[str, list[str]] = {}
        for name, info in state.workflows().items():
            for key in info.job_keys:
                job = state.job(key)
                if job is not None and job.host == self.host and not job.state.is_final:
                    out.setdefault(name, []).append(job.name)
        return out

    @property
    def jobs(self) -> dict[str, JobStatus]:
        """Unfinished jobs of this host by name."""
        statuses: dict[str, JobStatus] = {}
        for workflow in self._workflows():
            for name, result in update(_ByName(workflow, self.project)).items():
                sid = result.scheduler_id
                number = int(sid) if sid and sid.isdigit() else 0
                statuses[name] = JobStatus(number, JobStatus.coarse(result.state), name)
        return statuses

    def monitor_all(self, interval: float = 60) -> None:
        """Block until no job of this host is unfinished (the session wakes on each job's
        end; ``interval`` is kept for the seed's signature)."""
        session = session_for(project_for(self.project, create=False))
        while True:
            pending = self._workflows()
            if not pending:
                return
            names = list(pending)
            session.wait(session.keys_of(names), names, progress=False, check=False)

    def block_until_complete(self, job_id: int | JobInfo, interval: float = 2) -> Result:
        """Block until the job ``job_id`` (a JobInfo, or the int id) ended."""
        if isinstance(job_id, JobInfo):
            return job_id.wait()
        session = session_for(project_for(self.project, create=False))
        for workflow, names in self._workflows().items():
            for name, result in fetch(_ByName(workflow, self.project)).items():
                if name in names and result.scheduler_id == str(job_id):
                    return session.wait([result.key], [workflow], progress=False, check=False)[name]
        raise ModelError(f"no unfinished job with id {job_id} on host {self.host!r}")

    def get_status_by_name(self, name: str) -> JobStatus | None:
        """Status of the unfinished job ``name``, if any."""
        return self.jobs.get(name)

    def refresh_all(self) -> None:
        """Observe every unfinished job of this host once."""
        for workflow in self._workflows():
            update(_ByName(workflow, self.project))


class _ByName:
    """A selection of one recorded workflow, for the verbs."""

    def __init__(self, workflow: str, project: Any) -> None:
        self.workflow = workflow
        self.project = project

    def _jobledger_selection(self) -> Selection:
        return Selection(project_for(self.project, create=False), (), (), (self.workflow,))
