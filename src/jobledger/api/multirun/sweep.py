"""The sweep itself: :func:`multirun`, :func:`multirun_async`, :class:`SweepResult` and,
later, :func:`fetch_runs`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import pickle
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from jobledger.api.multirun.cluster import ClusterRunner, ParallelLocalRunner
from jobledger.api.multirun.files import FileResource, _check_names, _resource
from jobledger.api.multirun.folders import _folder, _output_dir, _prepare
from jobledger.api.multirun.layout import (
    MANIFEST_FILE,
    PARAMS_FILE,
    PARAMS_PICKLE,
    STDERR_LINK,
    STDERR_TAIL,
    STDOUT_LINK,
    ParamMap,
    RunStatus,
)
from jobledger.api.multirun.runners import AbstractRunner, sweep_workflow_name
from jobledger.api.multirun.runs import Run, RunStatistics, _read_status, _succeeded, inputs_digest
from jobledger.api.verbs import RunHandle
from jobledger.errors import ModelError
from jobledger.model.names import check_argv
from jobledger.session.results import tail_text
from jobledger.session.selection import Selection, project_for

log = logging.getLogger("jobledger.multirun")

_T = TypeVar("_T")


class SweepResult(list[Run]):
    """What :func:`multirun` returns: one :class:`Run` per parameter set, in order.

    Pass it to ``jobledger.fetch``/``check``/``stop`` to reach the array job(s) this call
    ran (``jobledger status`` shows the sweep's every batch).
    """

    def __init__(
        self,
        runs: Iterable[Run],
        output_path: Path,
        handle: RunHandle | None = None,
        workflow: str | None = None,
        project: Any = None,
    ) -> None:
        super().__init__(runs)
        self.output_path = output_path
        self.handle = handle
        self.workflow = workflow
        self.project = project

    @property
    def statistics(self) -> RunStatistics:
        """Counts of the runs in each state."""
        return RunStatistics.of(self)

    @property
    def failures(self) -> list[Run]:
        """The runs that failed."""
        return [r for r in self if r.status == "failure"]

    @property
    def results(self) -> list[Any]:
        """The posted results, in run order (``None`` where nothing was posted)."""
        return [r.result for r in self]

    def report(self) -> str:
        """A summary with each failed run's stderr tail."""
        lines = [str(self.statistics)]
        for record in self.failures:
            lines.append(f"run {record.index} ({record.cwd}) failed: exit code {record.exit_code}")
            lines += [f"    {line}" for line in record.stderr.splitlines()]
        return "\n".join(lines)

    def _jobledger_selection(self) -> Selection:
        """The batch job(s) this call ran or followed; the whole sweep when it ran none."""
        if self.handle is not None:
            return Selection(self.handle.project, (), tuple(self.handle.keys.values()), ())
        project = project_for(self.project, create=False)
        return Selection(project, (), (), (self.workflow,) if self.workflow else ())

    def __repr__(self) -> str:
        return f"SweepResult({self.output_path}, {self.statistics})"


async def multirun_async(
    *,
    runs: Iterable[ParamMap],
    cmd: list[str],
    output_path: Path | str | None = None,
    input_files: list[FileResource | Path | str] | None = None,
    runner: AbstractRunner | None = None,
    force: bool = False,
) -> SweepResult:
    """Run ``cmd`` once per parameter map, each in its own folder (see :func:`multirun`)."""
    if isinstance(cmd, str) or not isinstance(cmd, Sequence) or not cmd:
        raise ModelError("cmd must be a non-empty list of strings (an argv)")
    argv = list(check_argv(cmd, "multirun cmd"))
    params_list: list[ParamMap] = []
    for i, params in enumerate(runs):
        if not isinstance(params, Mapping):
            raise ModelError(f"run {i}: parameters must be a mapping of names to values, not {params!r}")
        if not all(isinstance(k, str) for k in params):
            raise ModelError(f"run {i}: parameter names must be strings, got {list(params)!r}")
        params_list.append(dict(params))
    resources = [_resource(item) for item in (input_files or [])]
    _check_names(resources)
    output = _output_dir(output_path)
    runner = runner if runner is not None else ParallelLocalRunner()
    runner.reset()
    runner._active = getattr(runner, "_active", 0) + 1
    runner._changed()
    try:
        inputs = await asyncio.to_thread(inputs_digest, resources)
        folders = [_folder(i, p) for i, p in enumerate(params_list)]
        done = set() if force else {f for f in folders if _succeeded(output / f, inputs)}
        busy: set[str] = set()
        if isinstance(runner, ClusterRunner):
            runner.workdir = output
            runner.inputs = inputs
            running = await asyncio.to_thread(runner.busy_folders, output)
            busy = {f for f in folders if str(output / f) in running}
        await asyncio.to_thread(_prepare, output, argv, params_list, folders, resources, done | busy)
        records: list[Run] = []
        for i, (params, folder) in enumerate(zip(params_list, folders, strict=True)):
            run_dir = output / folder
            skip = folder in done
            record = runner.skip(argv, run_dir) if skip else runner.add(argv, run_dir)
            record.index = i
            record.params = params
            if skip:
                record.exit_code = 0
            records.append(record)
        await runner.gather()
        sweep = SweepResult(
            records,
            output,
            handle=getattr(runner, "handle", None),
            workflow=runner.workflow_name(output) if isinstance(runner, ClusterRunner) else None,
            project=getattr(runner, "project", None),
        )
        if sweep.failures:
            log.warning("multirun %s: %s", output, sweep.report())
        return sweep
    finally:
        runner._active = getattr(runner, "_active", 1) - 1
        runner._changed()


multirunAsync = multirun_async  # noqa: N816 - Karana's spelling


def multirun(
    *,
    runs: Iterable[ParamMap],
    cmd: list[str],
    output_path: Path | str | None = None,
    input_files: list[FileResource | Path | str] | None = None,
    runner: AbstractRunner | None = None,
    force: bool = False,
) -> SweepResult:
    """Run ``cmd`` once per parameter map in ``runs``, each in its own folder.

    ``output_path`` (default: a new timestamped folder in the current directory) gets one
    folder per run, named ``<index>-<parameter digest>``, holding the parameters
    (read them with :func:`get_run_params`) and the ``input_files`` (paths or
    :class:`FileResource`). ``runner`` executes the runs (default
    ``ParallelLocalRunner(max_parallel=4)``; :class:`ClusterRunner` sends them to a
    cluster as one job array). Runs that already succeeded in that folder are skipped
    (``force=True`` runs them again). A failing run never stops the others.

    Returns a :class:`SweepResult`: one :class:`Run` per parameter map, in order, with
    ``params``, ``status``, ``result`` (what it posted), ``run_dir``, ``exit_code`` and
    ``stderr``. Works inside a running event loop too (a notebook): the sweep then runs
    in a helper thread while this call blocks; use :func:`multirun_async` to ``await``.
    """
    return _run_sync(
        multirun_async(
            runs=runs,
            cmd=cmd,
            output_path=output_path,
            input_files=input_files,
            runner=runner,
            force=force,
        )
    )


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jobledger-multirun") as pool:
        return pool.submit(asyncio.run, coro).result()


# ====================================================================== later
def fetch_runs(output_path: Path | str) -> SweepResult:
    """The records of the sweep in ``output_path``, read back from its folders.

    A run is ``success``/``failure`` by the exit code it recorded, else ``pending``.
    """
    output = Path(output_path).expanduser().absolute()
    try:
        manifest = json.loads((output / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise ModelError(f"{output} holds no multirun sweep (no {MANIFEST_FILE})") from None
    cmd = [str(c) for c in manifest.get("cmd", [])]
    records = []
    for entry in manifest.get("runs", []):
        run_dir = output / entry["dir"]
        code = _read_status(run_dir)
        status: RunStatus = "pending" if code is None else ("success" if code == 0 else "failure")
        try:
            params = _read_params(run_dir)
        except FileNotFoundError:
            params = None
        record = Run(cmd, run_dir, status=status, index=int(entry["index"]), params=params, exit_code=code)
        record.stdout = tail_text(run_dir / STDOUT_LINK, STDERR_TAIL)
        record.stderr = tail_text(run_dir / STDERR_LINK, STDERR_TAIL)
        records.append(record)
    return SweepResult(records, output, workflow=sweep_workflow_name(output))


def _read_params(run_dir: Path) -> ParamMap:
    json_path = run_dir / PARAMS_FILE
    if json_path.exists():
        return cast("ParamMap", json.loads(json_path.read_text()))
    return cast("ParamMap", pickle.loads((run_dir / PARAMS_PICKLE).read_bytes()))  # noqa: S301
