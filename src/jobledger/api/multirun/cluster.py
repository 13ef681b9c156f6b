"""The runners that run a sweep as ONE jobledger array job per call: :class:`ClusterRunner`
(any host) and :class:`ParallelLocalRunner` (this machine)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.api.driving import in_thread, notify
from jobledger.api.multirun.batches import (
    Batch,
    batch_command,
    in_flight,
    keep,
    latest,
    recorded,
    unique_name,
)
from jobledger.api.multirun.run_endings import _finish, _settle
from jobledger.api.multirun.runners import AbstractRunner, _validate_job_options, sweep_workflow_name
from jobledger.api.multirun.runs import Run
from jobledger.api.verbs import RunHandle
from jobledger.errors import ModelError
from jobledger.model.job import Job
from jobledger.model.names import check_argv, safe_name
from jobledger.model.workflow import Workflow
from jobledger.session.registry import session_for
from jobledger.session.results import Result
from jobledger.session.selection import project_for
from jobledger.session.session import Session
from jobledger.states import JobState


class ClusterRunner(AbstractRunner):
    """Sends a sweep to host ``host`` (a ``[hosts.NAME]`` of ``jobledger.toml``, a scheduler
    of this machine such as ``"slurm"``, or ``"local"``) as ONE array job; each index runs
    in its own run folder.

    ``max_parallel`` throttles the array (``%N`` on SLURM); other keywords are
    :class:`~jobledger.Job` options for every run (``cpus``, ``memory``, ``time``,
    ``partition``, ``account``, ``modules``, ``setup``, ``env``, ``slurm_args`` ...).
    ``project`` is the jobledger project (default: found from the current directory).
    The run folders must be visible to the cluster's nodes (a shared file system).
    """

    def __init__(
        self,
        host: str = "local",
        *,
        max_parallel: int | None = None,
        project: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.5,
        name: str | None = None,
        **job_options: Any,
    ) -> None:
        super().__init__()
        if max_parallel is not None and max_parallel < 1:
            raise ModelError(f"max_parallel must be >= 1, got {max_parallel}")
        _validate_job_options(host, job_options)
        self.host = host
        self.max_parallel = max_parallel
        self.project = project
        self.poll_interval = poll_interval
        """Kept for compatibility: the runner wakes on the jobs' own events."""
        self.name = name
        self.job_options = dict(job_options)
        self.handle: RunHandle | None = None
        self.workdir: Path | None = None
        self.inputs: str | None = None
        """Digest of the sweep's input files, recorded by each run (set by multirun)."""
        self.progress: bool | None = None
        """Progress and summary of the wait (``None``: unless quiet; off under a display)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, max_parallel={self.max_parallel})"

    def reset(self) -> None:
        super().reset()
        self.handle = None
        self.workdir = None
        self.inputs = None

    def add(self, cmd: list[str], cwd: Path = Path()) -> Run:
        """Add a pending run (executed by :meth:`gather`)."""
        if not cmd:
            raise ModelError("a run's command is empty")
        record = Run(list(check_argv(cmd, "run command")), Path(cwd).absolute(), index=len(self.runs))
        self.runs.append(record)
        return record

    # ------------------------------------------------------------------ the array job
    def build_job(
        self, pending: Sequence[Run], workdir: Path | None = None, taken: Sequence[str] = ()
    ) -> Job:
        """The array job running ``pending`` (index = position in :attr:`runs`), named
        apart from the jobs ``taken``."""
        if not pending:
            raise ModelError("nothing to run")
        indices = [self._index(r) for r in pending]
        base = workdir or _common_parent(pending)
        entries = [(i, os.path.relpath(r.cwd, base), r.cmd) for i, r in zip(indices, pending, strict=True)]
        label = self.name or safe_name(base.name, 24)
        return Job(
            command=batch_command(entries, self.inputs),
            name=unique_name(f"{label}-runs-{min(indices)}-{max(indices)}", taken),
            host=self.host,
            array=indices,
            max_concurrent=self.max_parallel,
            workdir=base,
            **self.job_options,
        )

    def _index(self, record: Run) -> int:
        if record.index is None:
            record.index = self.runs.index(record)
        return record.index

    def workflow_name(self, workdir: Path) -> str:
        """Name of the workflow that holds the sweep of folder ``workdir``."""
        return sweep_workflow_name(workdir)

    def _session(self) -> Session:
        return session_for(project_for(self.project, create=True))

    def busy_folders(self, workdir: Path) -> set[str]:
        """Run folders of the sweep in ``workdir`` that an earlier batch still runs (a sweep
        killed and run again follows them; it never runs them twice)."""
        session = self._session()
        session.ledger.refresh()
        found = latest(recorded(session, self.workflow_name(workdir)))
        return {f for f, (batch, index) in found.items() if in_flight(session, batch.key, index)}

    async def gather(self) -> None:
        """Submit the pending runs as one array job and follow them until every run ended.

        Runs still in flight in an earlier batch are followed, not submitted again; the
        sweep's workflow holds every batch that last ran one of its runs.
        """
        loop = asyncio.get_running_loop()
        for record in self.runs:
            if record.task is None:
                record.task = loop.create_future()
            if record.complete and not record.task.done():
                record.task.set_result(record)
        pending = [r for r in self.runs if r.status == "pending"]
        if not pending:
            return
        workdir = self.workdir or _common_parent(pending)
        session = await asyncio.to_thread(self._session)
        plan = await asyncio.to_thread(self._plan, session, workdir, pending)
        if plan is None:
            return
        workflow, follow = plan
        await asyncio.to_thread(session.run, [workflow], rerun=False, source=f"multirun {workdir}")
        keys = {key: follow[key][0] for key in follow}
        self.handle = RunHandle(session, workflow.name, {n: k for k, n in keys.items()}, {})
        self._loop = loop
        by_key = {key: dict(runs) for key, (_name, runs) in follow.items()}
        try:
            results = await in_thread(
                session.wait,
                list(keys),
                [workflow.name],
                check=False,
                progress=self.progress,
                on_step=lambda states: self._follow(session, by_key, states),
            )
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(session.cancel, list(keys)))
            raise
        for key, runs in by_key.items():
            self._apply(results.get(keys[key]), runs, final=True)
        self._changed()

    def _plan(
        self, session: Session, workdir: Path, pending: Sequence[Run]
    ) -> tuple[Workflow, dict[str, tuple[str, dict[int, Run]]]] | None:
        """The sweep's workflow now, and the batches to follow: ``{key: (job name, {index:
        run})}``. ``None`` when nothing is left to run or follow."""
        session.ledger.refresh()
        name = self.workflow_name(workdir)
        batches = recorded(session, name)
        last = latest(batches)
        follow: dict[str, tuple[str, dict[int, Run]]] = {}
        fresh: list[Run] = []
        for record in pending:
            hit = last.get(str(record.cwd))
            if hit is not None and in_flight(session, hit[0].key, hit[1]):
                batch, index = hit
                follow.setdefault(batch.key, (batch.job.name, {}))[1][index] = record
            else:
                fresh.append(record)
        moved = {str(r.cwd) for r in fresh}
        kept: dict[str, Batch] = {}
        for record in self.runs:
            hit = last.get(str(record.cwd))
            if hit is not None and str(record.cwd) not in moved:
                kept.setdefault(hit[0].key, hit[0])
        jobs = [b.job for b in kept.values()]
        if fresh:
            job = self.build_job(fresh, self.workdir, taken=[j.name for j in jobs])
            batch = keep(session.project, job, {self._index(r): r.cwd for r in fresh})
            follow[batch.key] = (job.name, {self._index(r): r for r in fresh})
            jobs.append(job)
        if not follow:
            return None
        return Workflow(jobs, name=name), follow

    def _follow(self, session: Session, by_key: Mapping[str, dict[int, Run]], _states: Any) -> None:
        """After each step of the wait: runs whose element started or ended move on."""
        moved = False
        for key, runs in by_key.items():
            info = session.state.job(key)
            current = info.current if info is not None else None
            if current is None:
                continue
            ended = []
            for element in current.elements:
                record = runs.get(element.index)
                if record is None or record.complete:
                    continue
                if element.state.is_final:
                    ended.append(element.index)
                elif element.state is JobState.RUNNING and record.status != "running":
                    record.status = "running"
                    moved = True
            if ended:
                result = session.results([key]).get(info.name if info else "")
                self._apply(result, {i: runs[i] for i in ended}, final=False)
                moved = True
        if moved:
            self._changed()

    def _apply(self, result: Result | None, by_index: Mapping[int, Run], final: bool) -> None:
        if result is None:
            return
        elements = {e.index: e for e in result.elements}
        for index, record in by_index.items():
            if record.complete:
                continue
            element = elements.get(index)
            state = element.state if element is not None else result.state
            if state is JobState.RUNNING:
                record.status = "running"
            elif state.is_final or (final and result.state.is_final):
                _finish(record, element or result, state)
            if record.complete and record.task is not None and not record.task.done():
                notify(getattr(self, "_loop", None), _settle, record)


def _common_parent(runs: Sequence[Run]) -> Path:
    """The folder holding every run folder (the job's working directory)."""
    if len(runs) == 1:
        return runs[0].cwd.parent
    return Path(os.path.commonpath([str(r.cwd) for r in runs]))


class ParallelLocalRunner(ClusterRunner):
    """Runs a sweep on this machine, at most ``max_parallel`` runs at once.

    It is one local array job: each index is its own process. The machine's CPU budget
    (``[hosts.local] max_parallel``, default the number of CPUs) also caps concurrency.
    """

    def __init__(
        self,
        *,
        max_parallel: int = 4,
        project: str | os.PathLike[str] | None = None,
        poll_interval: float = 0.3,
        **job_options: Any,
    ) -> None:
        super().__init__(
            "local",
            max_parallel=max_parallel,
            project=project,
            poll_interval=poll_interval,
            **job_options,
        )

    @property
    def semaphore(self) -> int:
        """Karana's attribute: the number of runs allowed at once."""
        return self.max_parallel or 1
