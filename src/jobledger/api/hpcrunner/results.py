"""Submitted jobs as hpc-runner sees them: :class:`JobResult` and :class:`ArrayJobResult`.

Each reads the project's ledger through its :class:`~jobledger.session.Session`:
``status`` looks at the backend first (one observing step), ``wait()`` is
:meth:`Session.wait <jobledger.session.Session.wait>` (progress and summary included, a
failed job is a status, not an exception), ``cancel()`` is :meth:`Session.cancel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobledger.api.hpcrunner.status import JobStatus
from jobledger.model.job import Job as LedgerJob
from jobledger.model.job import JobRef
from jobledger.session.results import Result
from jobledger.session.selection import Selection
from jobledger.states import JobState

if TYPE_CHECKING:
    from jobledger.session.session import Session


class _Submitted:
    """What :class:`JobResult` and :class:`ArrayJobResult` share."""

    def __init__(
        self, job: Any, submitted: LedgerJob, session: Session, workflow: str, key: str, scheduler: Any
    ) -> None:
        self.job = job
        """What was submitted (hpc-runner's :class:`~jobledger.api.hpcrunner.Job`)."""
        self.scheduler = scheduler
        """The scheduler object it was submitted to."""
        self.session = session
        self.project = session.project
        self.workflow = workflow
        """The jobledger workflow it runs in."""
        self.key = key
        """The job's content key in the ledger."""
        self._submitted = submitted

    def to_job(self) -> LedgerJob:
        """The jobledger :class:`~jobledger.Job` that was submitted."""
        return self._submitted

    def ledger_ref(self) -> JobRef:
        """A reference for jobs that depend on this one."""
        return JobRef(self.key, self._submitted.name)

    def _jobledger_selection(self) -> Selection:
        return Selection(self.project, (), (self.key,), (self.workflow,))

    @property
    def name(self) -> str:
        """The job's name."""
        return self._submitted.name

    @property
    def result(self) -> Result | None:
        """jobledger's :class:`~jobledger.Result` of this job, as recorded now."""
        return self.session.results([self.key]).get(self._submitted.name)

    def _state(self, observe: bool = True) -> JobState:
        if observe:
            self.session.observe([self.workflow])
        found = self.result
        return found.state if found is not None else JobState.PENDING

    @property
    def job_id(self) -> str:
        """The scheduler's id; ``local_<key12>`` on this machine (``<key12>`` for a batch
        job the driver has not submitted yet)."""
        found = self.result
        sid = found.scheduler_id if found is not None else None
        if sid and sid not in ("local", "unknown"):
            return sid
        local = sid == "local" or getattr(self.scheduler, "name", None) == "local"
        return f"local_{self.key[:12]}" if local else self.key[:12]

    @property
    def status(self) -> JobStatus:
        """The status now (the backend is looked at first)."""
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

    @property
    def exit_code(self) -> int | None:
        """Same as :attr:`returncode`."""
        return self.returncode

    def cancel(self) -> bool:
        """Cancel the job (it never starts if it has not); ``True`` if there was one."""
        return bool(self.session.cancel([self.key]))

    def _wait(self, timeout: float | None) -> None:
        self.session.wait([self.key], [self.workflow], timeout=timeout, check=False)


class JobResult(_Submitted):
    """A submitted job: hpc-runner's ``JobResult`` over the ledger.

    ``wait()`` blocks (raising :class:`~jobledger.WaitTimeout`, a :class:`TimeoutError`,
    after ``timeout`` seconds); ``read_stdout(tail=)``/``read_stderr(tail=)`` read the
    job's files. ``jobledger.wait(result)`` and the other verbs accept it.
    """

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> JobStatus:
        """Block until the job ended; returns its final status.

        ``poll_interval`` is accepted for hpc-runner compatibility: jobledger wakes on
        completion files and polls each host at its own interval.
        """
        del poll_interval
        self._wait(timeout)
        return JobStatus.from_state(self._state(observe=False))

    def read_stdout(self, tail: int | None = None) -> str:
        """The job's stdout, or its last ``tail`` lines."""
        found = self.result
        return found.read_stdout(tail) if found is not None else ""

    def read_stderr(self, tail: int | None = None) -> str:
        """The job's stderr (stdout when ``stderr=None`` merged them), or its last lines."""
        found = self.result
        return found.read_stderr(tail) if found is not None else ""

    def __repr__(self) -> str:
        return f"JobResult({self.name!r}, key={self.key[:12]!r}, scheduler={self.scheduler!r})"


class ArrayJobResult(_Submitted):
    """A submitted :class:`~jobledger.api.hpcrunner.JobArray`; ``wait()`` returns
    ``{index: JobStatus}``."""

    def __init__(self, array: Any, *args: Any) -> None:
        super().__init__(array.job, *args)
        self.array = array
        """The :class:`~jobledger.api.hpcrunner.JobArray` submitted."""

    @property
    def base_job_id(self) -> str:
        """The array's scheduler id (hpc-runner's name for :attr:`job_id`)."""
        return self.job_id

    @property
    def indices(self) -> tuple[int, ...]:
        """The array's indices."""
        spec = self._submitted.array
        return spec.indices if spec is not None else ()

    def statuses(self, observe: bool = True) -> dict[int, JobStatus]:
        """The status of every index now."""
        overall = self._state(observe)
        found = self.result
        by_index = {e.index: e.state for e in found.elements} if found is not None else {}
        return {i: JobStatus.from_state(by_index.get(i, overall)) for i in self.indices}

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> dict[int, JobStatus]:
        """Block until every index ended; returns ``{index: JobStatus}``."""
        del poll_interval
        self._wait(timeout)
        return self.statuses(observe=False)

    def read_stdout(self, index: int, tail: int | None = None) -> str:
        """stdout of element ``index``, or its last ``tail`` lines."""
        element = self._element(index)
        return element.read_stdout(tail) if element is not None else ""

    def read_stderr(self, index: int, tail: int | None = None) -> str:
        """stderr of element ``index``, or its last ``tail`` lines."""
        element = self._element(index)
        return element.read_stderr(tail) if element is not None else ""

    def _element(self, index: int) -> Result | None:
        found = self.result
        return next((e for e in (found.elements if found else ()) if e.index == index), None)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"ArrayJobResult(job_id={self.job_id!r}, name={self.name!r}, tasks={len(self)})"
