"""Runners: :class:`AbstractRunner`, and :class:`ClusterRunner`/:class:`ParallelLocalRunner`,
which run a sweep as ONE jobledger array job."""

from __future__ import annotations

import abc
import asyncio
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.api.multirun.files import _symlink
from jobledger.api.multirun.inflight import in_flight
from jobledger.api.multirun.layout import (
    INDEX_ENV,
    RESULTS_FILE,
    RUN_DIR_ENV,
    STATUS_FILE,
    STDERR_LINK,
    STDERR_TAIL,
    STDOUT_LINK,
)
from jobledger.api.multirun.runs import Run, RunStatistics
from jobledger.api.verbs import RunHandle, WaitTimeout, fetch, run, stop, wait
from jobledger.errors import ModelError
from jobledger.model.hashing import canonical_hash
from jobledger.model.job import Job
from jobledger.model.names import check_argv, safe_name
from jobledger.model.workflow import Workflow
from jobledger.session.results import Result
from jobledger.states import JobState


class AbstractRunner(abc.ABC):
    """What :func:`multirun` needs from a runner: ``add`` runs, then ``await gather()``.

    ``runs`` holds this runner's current sweep; :func:`multirun` starts a new one each
    call (the runner is reusable; statistics describe its latest sweep).
    """

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._active = 0

    @abc.abstractmethod
    def add(self, cmd: list[str], cwd: Path = Path()) -> Run:
        """Add a run of ``cmd`` in folder ``cwd``; returns its (pending) record."""

    @abc.abstractmethod
    async def gather(self) -> None:
        """Execute every pending run and wait until all are complete."""

    def skip(self, cmd: list[str], cwd: Path) -> Run:
        """Record a run that will not execute (its result already exists)."""
        record = Run(list(cmd), Path(cwd), status="skipped")
        self.runs.append(record)
        return record

    def reset(self) -> None:
        """Start a new sweep: forget the runs of the previous one."""
        self.runs = []

    def compute_statistics(self) -> RunStatistics:
        """Counts of this runner's runs in each state."""
        return RunStatistics.of(self.runs)

    computeStatistics = compute_statistics  # noqa: N815 - Karana's spelling

    @property
    def active(self) -> bool:
        """True while a sweep is being prepared or executed."""
        return getattr(self, "_active", 0) > 0


def sweep_workflow_name(output_path: Path) -> str:
    """Name of the jobledger workflow that runs the sweep of folder ``output_path``."""
    digest = canonical_hash(str(output_path))[:6]
    return f"multirun-{safe_name(output_path.name, 40)}-{digest}"


def _validate_job_options(host: str, options: Mapping[str, Any]) -> None:
    Job(command="true", name="multirun-check", host=host, **options)


class ClusterRunner(AbstractRunner):
    """Sends a sweep to host ``host`` (a ``[hosts.NAME]`` of ``jobledger.toml``, or
    ``"local"``) as ONE array job; each index runs in its own run folder.

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
        self.name = name
        self.job_options = dict(job_options)
        self.handle: RunHandle | None = None
        self.workdir: Path | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, max_parallel={self.max_parallel})"

    def reset(self) -> None:
        super().reset()
        self.handle = None
        self.workdir = None

    def add(self, cmd: list[str], cwd: Path = Path()) -> Run:
        """Add a pending run (executed by :meth:`gather`)."""
        if not cmd:
            raise ModelError("a run's command is empty")
        record = Run(list(check_argv(cmd, "run command")), Path(cwd).absolute(), index=len(self.runs))
        self.runs.append(record)
        return record

    # ------------------------------------------------------------------ the array job
    def build_job(self, pending: Sequence[Run], workdir: Path | None = None) -> Job:
        """The array job running ``pending`` (index = position in :attr:`runs`)."""
        if not pending:
            raise ModelError("nothing to run")
        indices = [self._index(r) for r in pending]
        base = workdir or _common_parent(pending)
        same_cmd = all(r.cmd == pending[0].cmd for r in pending)
        lines = ['case "${JOBLEDGER_ARRAY_INDEX:-}" in']
        for index, record in zip(indices, pending, strict=True):
            folder = os.path.relpath(record.cwd, base)
            entry = f"  {index}) jl_dir={shlex.quote(folder)}"
            if not same_cmd:
                entry += f"; set -- {shlex.join(record.cmd)}"
            lines.append(entry + " ;;")
        lines += [
            '  *) echo "multirun: no run for array index ${JOBLEDGER_ARRAY_INDEX:-?}" >&2',
            "     exit 2 ;;",
            "esac",
        ]
        if same_cmd:
            lines.append(f"set -- {shlex.join(pending[0].cmd)}")
        lines += [
            'cd -- "$jl_dir" || exit 1',
            f"rm -f -- {STATUS_FILE} {RESULTS_FILE}",
            f'export {RUN_DIR_ENV}="$PWD" {INDEX_ENV}="$JOBLEDGER_ARRAY_INDEX"',
            '"$@"',
            "jl_rc=$?",
            f'printf \'{{"exit_code": %d}}\\n\' "$jl_rc" > .{STATUS_FILE}.tmp '
            f"&& mv -f -- .{STATUS_FILE}.tmp {STATUS_FILE}",
            'exit "$jl_rc"',
        ]
        label = self.name or safe_name(base.name, 24)
        name = f"{label}-runs-{min(indices)}-{max(indices)}"
        return Job(
            command="\n".join(lines),
            name=name,
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

    async def gather(self) -> None:
        """Submit the pending runs as one array job and follow it until every run ended."""
        pending = [r for r in self.runs if r.status == "pending"]
        loop = asyncio.get_running_loop()
        for record in self.runs:
            if record.task is None:
                record.task = loop.create_future()
            if record.complete and not record.task.done():
                record.task.set_result(record)
        if not pending:
            return
        workdir = self.workdir or _common_parent(pending)
        name = self.workflow_name(workdir)
        earlier = await asyncio.to_thread(in_flight, name, self.project, {self._index(r) for r in pending})
        if earlier is not None:  # this sweep was killed and run again: follow what still runs
            handle, job_name, indices = earlier
            await self._follow(handle, job_name, {self._index(r): r for r in pending if r.index in indices})
            pending = [r for r in pending if not r.complete]
            if not pending:
                return
        job = self.build_job(pending, self.workdir)
        handle = await asyncio.to_thread(run, Workflow([job], name=name), force=True, project=self.project)
        assert isinstance(handle, RunHandle)
        self.handle = handle
        await self._follow(handle, job.name, {self._index(r): r for r in pending})

    async def _follow(self, handle: RunHandle, job_name: str, by_index: Mapping[int, Run]) -> None:
        """Apply the array job's element results to the runs until it ended."""
        try:
            while True:
                try:
                    results = await asyncio.to_thread(wait, handle, timeout=0, progress=False, check=False)
                    final = True
                except WaitTimeout:
                    results = await asyncio.to_thread(fetch, handle)
                    final = False
                self._apply(results.get(job_name), by_index, final)
                if final:
                    break
                await asyncio.sleep(self.poll_interval)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(stop, handle))
            raise

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
                record.task.set_result(record)


def _common_parent(runs: Sequence[Run]) -> Path:
    """The folder holding every run folder (the job's working directory)."""
    if len(runs) == 1:
        return runs[0].cwd.parent
    return Path(os.path.commonpath([str(r.cwd) for r in runs]))


def _finish(record: Run, element: Result, state: JobState) -> None:
    record.job = element
    record.exit_code = element.exit_code
    record.reason = element.reason
    record.status = "success" if state is JobState.COMPLETED else "failure"
    record.stdout = element.read_stdout(STDERR_TAIL)
    record.stderr = element.read_stderr(STDERR_TAIL)
    if record.status == "failure" and not record.stderr.strip():
        record.stderr = element.reason or f"ended {state.value}"
    record.reload()
    for link, target in ((STDOUT_LINK, element.stdout_path), (STDERR_LINK, element.stderr_path)):
        try:
            if target.exists():
                _symlink(target, record.cwd / link)
        except OSError:
            pass


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
