"""What a decorated function gets back: :class:`JobInfo` (an ``int`` job id that knows its
job) and Hamilton-HPC-Orchestra's :class:`JobStatus`."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from jobledger.api.verbs import RunHandle, fetch, stop, update, wait
from jobledger.errors import ModelError
from jobledger.model.job import Job
from jobledger.session.results import Result
from jobledger.session.selection import Selection
from jobledger.states import JobState


class JobStatus:
    """Hamilton-HPC-Orchestra's status record: ``status`` and ``is_finish``."""

    class Status(enum.Enum):
        """Coarse states."""

        PENDING = 1
        RUNNING = 2
        COMPLETED = 3
        FAILED = 4
        FINISHED = 5

    def __init__(self, job_id: int, status: JobStatus.Status, name: str = "", **others: Any) -> None:
        self.job_id = job_id
        self.status = status
        self.name = name
        self.others = others

    @property
    def is_finish(self) -> bool:
        """True when the job ended (in any way)."""
        return self.status in (self.Status.COMPLETED, self.Status.FAILED, self.Status.FINISHED)

    @classmethod
    def coarse(cls, state: JobState) -> JobStatus.Status:
        """The coarse status of a jobledger state."""
        if state is JobState.COMPLETED:
            return cls.Status.COMPLETED
        if state.is_final:
            return cls.Status.FAILED
        if state is JobState.RUNNING:
            return cls.Status.RUNNING
        return cls.Status.PENDING

    def __repr__(self) -> str:
        return f"<Job {self.name}({self.job_id}): {self.status.name}>"


class JobInfo(int):
    """What a decorated function receives back: the job id, as an ``int``, that also
    knows its job (``job``), state, result (``value``, ``stdout``, ``unit_dir`` ...).

    Pass it as a dependency of another job (``"job_deps": [info]``) or to any verb
    (``jobledger.wait(info)``).
    """

    job: Job
    handle: RunHandle | None
    host: str

    def __new__(cls, number: int, *, job: Job, handle: RunHandle | None, host: str) -> JobInfo:
        obj = super().__new__(cls, number)
        obj.job = job
        obj.handle = handle
        obj.host = host
        return obj

    # ------------------------------------------------------------------ identity
    @property
    def job_id(self) -> int:
        """The id as a plain int."""
        return int(self)

    @property
    def name(self) -> str:
        """The job's name."""
        return self.job.name

    @property
    def key(self) -> str:
        """The job's content key in the ledger."""
        if self.handle is not None:
            return self.handle.keys[self.job.name]
        return self.job.key

    @property
    def submitted(self) -> bool:
        """False for ``test_only`` jobs (recorded, never submitted)."""
        return self.handle is not None and bool(self.handle.verdicts)

    def _jobledger_selection(self) -> Selection:
        if self.handle is None:
            raise ModelError(f"job {self.name!r} was never handed to the engine")
        return self.handle._jobledger_selection()

    # ------------------------------------------------------------------ state
    @property
    def result(self) -> Result:
        """jobledger's :class:`~jobledger.Result` of the job, as it is now (observed)."""
        if self.handle is None:
            raise ModelError(f"job {self.name!r} was never handed to the engine")
        if not self.submitted:  # test_only: observing must not submit it
            return fetch(self.handle)[self.job.name]
        return update(self.handle)[self.job.name]

    @property
    def state(self) -> JobState:
        """The job's state now."""
        return self.result.state

    @property
    def status(self) -> JobStatus.Status:
        """Hamilton-HPC-Orchestra's coarse status."""
        return JobStatus.coarse(self.state)

    @property
    def is_finish(self) -> bool:
        """True once the job ended."""
        return self.state.is_final

    @property
    def ok(self) -> bool:
        """True when the job completed."""
        return self.state is JobState.COMPLETED

    def wait(self, timeout: float | None = None) -> Result:
        """Block until the job ended; its :class:`~jobledger.Result`."""
        if self.handle is None:
            raise ModelError(f"job {self.name!r} was never handed to the engine")
        return wait(self.handle, timeout=timeout, progress=False, check=False)[self.job.name]

    def cancel(self) -> list[str]:
        """Cancel the job."""
        return stop(self.handle) if self.handle is not None else []

    @property
    def exit_code(self) -> int | None:
        """Exit code once ended."""
        return self.result.exit_code

    @property
    def value(self) -> Any:
        """The return value of a Python-call job."""
        return self.result.value

    @property
    def stdout(self) -> str:
        """Standard output (last lines)."""
        return self.result.stdout

    @property
    def stderr(self) -> str:
        """Standard error (last lines)."""
        return self.result.stderr

    @property
    def unit_dir(self) -> Path:
        """The folder holding the job's stdout, stderr and exit record."""
        return self.result.unit_dir

    @property
    def workdir(self) -> Path:
        """The job's working directory."""
        return Path(self.job.workdir) if self.job.workdir else Path.cwd()

    def __repr__(self) -> str:
        return f"JobInfo({int(self)}, name={self.name!r}, host={self.host!r})"

    def __reduce__(self) -> Any:  # pickles as a plain id: the handle holds an engine
        return (int, (int(self),))
