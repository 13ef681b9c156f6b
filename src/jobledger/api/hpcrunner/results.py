"""Submitted jobs as hpc-runner sees them: :class:`JobResult` and :class:`ArrayJobResult`."""

from __future__ import annotations

import attrs

from jobledger.api.hpcrunner.status import JobStatus
from jobledger.api.verbs import RunHandle, check, fetch, stop, wait
from jobledger.model.job import Job
from jobledger.project import Project
from jobledger.session.results import Result
from jobledger.session.selection import Selection
from jobledger.states import JobState


@attrs.frozen
class _KeyOnly:
    """Selects one job by key, without its workflow (for cancel and fetch)."""

    project: Project
    key: str

    def _jobledger_selection(self) -> Selection:
        return Selection(self.project, (), (self.key,), ())


class _Submitted:
    """What :class:`JobResult` and :class:`ArrayJobResult` share."""

    def __init__(self, job: Job, handle: RunHandle, scheduler: str) -> None:
        self.job = job
        self.handle = handle
        self.project: Project = handle.project
        self.workflow: str = handle.name
        self.key: str = handle.keys[job.name]
        self.scheduler = scheduler

    def _jobledger_selection(self) -> Selection:
        return Selection(self.project, (), (self.key,), (self.workflow,))

    def _only(self) -> _KeyOnly:
        return _KeyOnly(self.project, self.key)

    def _state(self) -> JobState:
        return check(self).get(self.job.name, JobState.PENDING)

    @property
    def result(self) -> Result | None:
        """jobledger's :class:`~jobledger.Result` of this job, as recorded now."""
        return fetch(self._only()).get(self.job.name)

    @property
    def name(self) -> str:
        """The job's name."""
        return self.job.name

    @property
    def job_id(self) -> str:
        """The scheduler's id (on the local backend: the first 12 characters of the key)."""
        found = self.result
        sid = found.scheduler_id if found is not None else None
        return sid if sid and sid not in ("local", "unknown") else self.key[:12]

    @property
    def status(self) -> JobStatus:
        """Current status, observed now (the engine checks the backend first)."""
        return JobStatus.from_state(self._state())

    @property
    def is_complete(self) -> bool:
        """True once the job ended, whatever the outcome."""
        return self._state().is_final

    @property
    def returncode(self) -> int | None:
        """Exit code once known, else ``None``."""
        found = self.result
        return found.exit_code if found is not None else None

    def cancel(self) -> bool:
        """Cancel the job (it never starts if it has not); ``True`` if there was one."""
        return bool(stop(self._only()))

    def _wait(self, timeout: float | None) -> None:
        wait(self, timeout=timeout, progress=False, check=False)


class JobResult(_Submitted):
    """A submitted job: hpc-runner's ``JobResult`` over the ledger.

    ``status`` is queried live; ``wait()`` blocks (raising :class:`TimeoutError` after
    ``timeout`` seconds); ``read_stdout(tail=)``/``read_stderr(tail=)`` read the job's
    files; ``job`` is the submitted :class:`~jobledger.Job` and ``key`` its content key,
    so ``jobledger.wait(result)`` and friends accept it.
    """

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> JobStatus:
        """Block until the job ended; returns its final status.

        ``poll_interval`` is accepted for hpc-runner compatibility; the engine wakes on
        completion files and polls schedulers at each host's own interval.
        """
        del poll_interval
        self._wait(timeout)
        return self.status

    def read_stdout(self, tail: int | None = None) -> str:
        """The job's stdout, or its last ``tail`` lines."""
        found = self.result
        return found.read_stdout(tail) if found is not None else ""

    def read_stderr(self, tail: int | None = None) -> str:
        """The job's stderr (stdout when ``stderr=None`` merged them), or its last lines."""
        found = self.result
        return found.read_stderr(tail) if found is not None else ""

    def __repr__(self) -> str:
        return f"JobResult({self.job.name!r}, key={self.key[:12]!r}, scheduler={self.scheduler!r})"


class ArrayJobResult(_Submitted):
    """A submitted :class:`JobArray`; ``wait()`` returns ``{index: JobStatus}``."""

    @property
    def indices(self) -> tuple[int, ...]:
        """The array's indices."""
        assert self.job.array is not None
        return self.job.array.indices

    def statuses(self) -> dict[int, JobStatus]:
        """Status of every index, as recorded now."""
        overall = self._state()
        found = self.result
        by_index = {e.index: e.state for e in found.elements} if found is not None else {}
        return {i: JobStatus.from_state(by_index.get(i, overall)) for i in self.indices}

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> dict[int, JobStatus]:
        """Block until every index ended; returns ``{index: JobStatus}``."""
        del poll_interval
        self._wait(timeout)
        return self.statuses()

    def read_stdout(self, index: int, tail: int | None = None) -> str:
        """stdout of element ``index``, or its last ``tail`` lines."""
        return self._element(index, tail, "stdout")

    def read_stderr(self, index: int, tail: int | None = None) -> str:
        """stderr of element ``index``, or its last ``tail`` lines."""
        return self._element(index, tail, "stderr")

    def _element(self, index: int, tail: int | None, stream: str) -> str:
        found = self.result
        for element in found.elements if found is not None else ():
            if element.index == index:
                return element.read_stdout(tail) if stream == "stdout" else element.read_stderr(tail)
        return ""

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"ArrayJobResult(job_id={self.key[:12]!r}, name={self.job.name!r}, tasks={len(self)})"
