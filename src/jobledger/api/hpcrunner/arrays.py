"""hpc-runner's :class:`JobArray`: one job run for a range of indices."""

from __future__ import annotations

from typing import Any

from jobledger.api.hpcrunner.presets import rebuild
from jobledger.api.hpcrunner.results import ArrayJobResult
from jobledger.api.hpcrunner.submission import _check_job, _choose, _ours, _place, _run_alone
from jobledger.errors import ModelError
from jobledger.model.array import ArraySpec
from jobledger.model.job import Job
from jobledger.session.selection import project_for


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

    def __len__(self) -> int:
        return len(self.indices)

    def to_job(self) -> Job:
        """The array as one jobledger :class:`~jobledger.Job`."""
        return rebuild(self.job, array=ArraySpec(tuple(self.indices), self.max_concurrent))

    def submit(self, scheduler: Any = None, *, force: bool = False) -> ArrayJobResult:
        """Submit the array; returns an :class:`ArrayJobResult`."""
        job = _check_job(self.to_job())
        chosen = _ours(_choose(job, scheduler))
        project = project_for(None, create=True)
        prepared, name = _place(job, chosen, project)
        return ArrayJobResult(prepared, _run_alone(prepared, project, force), name)
