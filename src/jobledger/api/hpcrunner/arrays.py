"""hpc-runner's :class:`JobArray`: one job run for a range of indices."""

from __future__ import annotations

from typing import Any

from jobledger.api.hpcrunner.detection import scheduler_object
from jobledger.api.hpcrunner.job import Job
from jobledger.api.hpcrunner.results import ArrayJobResult
from jobledger.api.hpcrunner.schedulers import LedgerScheduler
from jobledger.errors import ModelError
from jobledger.model.array import ArraySpec
from jobledger.model.job import Job as LedgerJob


class JobArray:
    """``JobArray(job=, start=1, end=1, step=1, max_concurrent=None)``: one array job.

    Each element runs the job's command with its index in ``$SLURM_ARRAY_TASK_ID``,
    ``$SGE_TASK_ID``, ``$HPC_ARRAY_TASK_ID`` and ``$JOBLEDGER_ARRAY_INDEX``.
    """

    def __init__(
        self,
        job: Job,
        start: int = 1,
        end: int = 1,
        step: int = 1,
        max_concurrent: int | None = None,
    ) -> None:
        if step < 1 or end < start or start < 0:
            raise ModelError(f"invalid array range start={start}, end={end}, step={step}")
        self.job = job
        self.start = start
        self.end = end
        self.step = step
        self.max_concurrent = max_concurrent

    @property
    def indices(self) -> range:
        """``range(start, end + 1, step)``."""
        return range(self.start, self.end + 1, self.step)

    @property
    def range_str(self) -> str:
        """``start-end:step`` (hpc-runner's spelling)."""
        return f"{self.start}-{self.end}:{self.step}"

    def __len__(self) -> int:
        return len(self.indices)

    def to_job(self, **changes: Any) -> LedgerJob:
        """The array as one jobledger :class:`~jobledger.Job`."""
        spec = ArraySpec(tuple(self.indices), self.max_concurrent)
        return self.job.to_job(**{"array": spec, **changes})

    def submit(self, scheduler: Any = None, *, reuse: bool = False) -> ArrayJobResult:
        """Submit the array (a scheduler name, object, or detected); returns an
        :class:`ArrayJobResult`."""
        if scheduler is None and self.job.host not in (None, "local"):
            from jobledger.api.hpcrunner.detection import scheduler_for_host

            chosen = scheduler_for_host(str(self.job.host))
        else:
            chosen = scheduler_object(scheduler)
        if not isinstance(chosen, LedgerScheduler):
            result: ArrayJobResult = chosen.submit_array(self)
            return result
        return chosen.submit_array(self, reuse=reuse)
