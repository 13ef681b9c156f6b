"""The Karana ``multirun`` face: parameter sweeps as ONE jobledger array job.

::

    from jobledger import multirun, FileResource, ParallelLocalRunner, ClusterRunner

    runs = [{"alpha": a, "seed": s} for a in (0.1, 0.2) for s in range(25)]
    records = multirun(
        runs=runs,
        cmd=["python", "simulate.py"],
        output_path="sweep",
        input_files=["mesh.h5", FileResource("table.csv", linkage="copy")],
        runner=ClusterRunner("slurm", max_parallel=20, time="1h"),
    )
    for rec in records:
        print(rec.params, rec.status, rec.result, rec.run_dir)

and inside ``simulate.py``::

    from jobledger import get_run_params, post_run_results
    params = get_run_params()
    post_run_results({"energy": run(params["alpha"])})

Layout of ``output_path``::

    multirun.json           manifest: the command and every run (index, folder, digest)
    shared/<name>           the one copy of each ``linkage="shared"`` input
    0000-1a2b3c4d/          one folder per run: ``<index>-<parameter digest>``
      params.json           that run's parameters (``params.pkl`` when not JSON-able)
      results.pkl           what the run posted with ``post_run_results``
      run_status.json       ``{"exit_code": N}``, written when the command ended
      jobledger.stdout      links to the run's stdout/stderr in the project's run folder
      jobledger.stderr

How it runs: the runs that still need to run become **one array job** whose index *i*
``cd``s into run *i*'s folder (a ``case`` table inside the job's command) and runs
``cmd`` there. On a cluster that is a single ``sbatch --array`` (or ``qsub -t``, ``bsub
-J name[..]``); locally each index is its own process, at most ``max_parallel`` at once.
Nothing but :class:`~jobledger.Job`/:class:`~jobledger.Workflow` objects and the public
verbs (``run``, ``wait``, ``fetch``, ``stop``) are used.

Reuse: a run whose folder already holds ``run_status.json`` with exit code 0 is
**skipped**; everything else (new runs, failed runs, runs whose folder was deleted) goes
into the array of this call. The array therefore holds exactly the runs left to do: a
re-run of a finished sweep submits nothing, and appending 10 parameter sets submits an
array of those 10 (indices 50-59, so their folders keep their sweep index). The folder
name contains the parameter digest, so changing a run's parameters gives it a new folder
and it runs again. The array job's content key covers the command and the index-to-folder
table, and the batch is always submitted as an explicit re-run (``force=True``): whether a
run is done is decided by its folder, not by the ledger.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import datetime as _dt
import filecmp
import json
import logging
import os
import pickle
import shlex
import shutil
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import attrs

from jobledger.api.results import Result, tail_text
from jobledger.api.session import Selection, project_for
from jobledger.api.verbs import RunHandle, WaitTimeout, fetch, run, stop, wait
from jobledger.errors import ModelError
from jobledger.model.hashing import canonical_hash
from jobledger.model.job import Job, safe_name
from jobledger.model.workflow import Workflow
from jobledger.states import JobState

log = logging.getLogger("jobledger.multirun")

ParamValue = Any
"""A parameter value: anything JSON can hold is stored readably, the rest is pickled."""
ParamMap = dict[str, Any]
"""The parameters of one run."""
FileLinkage = Literal["copy", "shared", "link"]
"""How an input file reaches a run folder."""
RunStatus = Literal["skipped", "pending", "running", "success", "failure"]
"""The state of one run."""

LINKAGES: tuple[str, ...] = ("copy", "shared", "link")
PARAMS_FILE = "params.json"
PARAMS_PICKLE = "params.pkl"
RESULTS_FILE = "results.pkl"
STATUS_FILE = "run_status.json"
MANIFEST_FILE = "multirun.json"
SHARED_DIR = "shared"
STDOUT_LINK = "jobledger.stdout"
STDERR_LINK = "jobledger.stderr"
#: Environment variables set for each run (both are optional for the helpers).
RUN_DIR_ENV = "JOBLEDGER_RUN_DIR"
PARAMS_ENV = "JOBLEDGER_RUN_PARAMS"
INDEX_ENV = "JOBLEDGER_RUN_INDEX"
#: Lines of stderr kept on a run record.
STDERR_TAIL = 20

_T = TypeVar("_T")


# ====================================================================== in a run
def _run_dir() -> Path:
    return Path(os.environ.get(RUN_DIR_ENV) or Path.cwd())


def get_run_params() -> ParamMap:
    """The parameters of the run this process belongs to.

    Read from ``$JOBLEDGER_RUN_PARAMS`` when set, else ``params.json`` (or
    ``params.pkl``) in ``$JOBLEDGER_RUN_DIR`` or the current directory.
    """
    override = os.environ.get(PARAMS_ENV)
    candidates = [Path(override)] if override else []
    base = _run_dir()
    candidates += [base / PARAMS_FILE, base / PARAMS_PICKLE]
    for path in candidates:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue
        # params.pkl is written by multirun for this very run
        value = pickle.loads(data) if path.suffix == ".pkl" else json.loads(data)  # noqa: S301
        if not isinstance(value, dict):
            raise ModelError(f"{path} does not hold a parameter map")
        return cast("ParamMap", value)
    raise FileNotFoundError(
        f"no {PARAMS_FILE} in {base}: get_run_params() works inside a run started by "
        f"multirun (or set {PARAMS_ENV})"
    )


def post_run_results(results: Any) -> None:
    """Store a picklable object as this run's result (``results.pkl`` in the run folder).

    Posting again replaces the earlier result. The object comes back on the run's record
    (``record.result``) from :func:`multirun` and :func:`fetch_runs`.
    """
    try:
        import cloudpickle

        data = cloudpickle.dumps(results)
    except ImportError:  # pragma: no cover - cloudpickle is a dependency
        data = pickle.dumps(results)
    target = _run_dir() / RESULTS_FILE
    tmp = target.with_name(f".{RESULTS_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


# ====================================================================== inputs
def _linkage(value: str) -> FileLinkage:
    if value not in LINKAGES:
        raise ModelError(f"unknown file linkage {value!r}; use 'copy', 'shared' or 'link'")
    return cast("FileLinkage", value)


@attrs.frozen
class FileResource:
    """A file (or folder) to make available in every run folder.

    ``linkage``: ``"copy"`` copies it into each run folder, ``"shared"`` (the default)
    copies it once to ``<output_path>/shared/`` and symlinks each run to that copy,
    ``"link"`` symlinks each run to the original path. ``rename`` is its name (or
    relative path) inside the run folder.
    """

    path: Path = attrs.field(converter=Path)
    linkage: FileLinkage = attrs.field(default="shared", converter=_linkage)
    rename: str | Path | None = None

    @property
    def name(self) -> Path:
        """Its file name (or relative path) in the run folder."""
        name = Path(self.rename) if self.rename is not None else Path(self.path.name)
        if name.is_absolute() or ".." in name.parts or not name.parts:
            raise ModelError(f"input {self.path}: {name} is not a relative path inside the run folder")
        return name


def _resource(item: FileResource | str | os.PathLike[str]) -> FileResource:
    if isinstance(item, FileResource):
        resource = item
    elif isinstance(item, (str, os.PathLike)):
        resource = FileResource(Path(item))
    else:
        raise ModelError(f"an input file is a path or a FileResource, not {type(item).__name__}")
    path = resource.path.expanduser().absolute()
    if not path.exists():
        raise ModelError(f"input file {resource.path} does not exist")
    return attrs.evolve(resource, path=path)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    _remove(dst)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _symlink(target: Path | str, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    _remove(link)
    link.symlink_to(target)


def _same_file(a: Path, b: Path) -> bool:
    if not b.exists() or a.is_dir() != b.is_dir():
        return False
    if a.is_dir():
        cmp = filecmp.dircmp(a, b)
        return not (cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files)
    return filecmp.cmp(a, b, shallow=False)


def _place_shared(resources: Sequence[FileResource], output: Path) -> None:
    for res in resources:
        if res.linkage == "shared":
            copy = output / SHARED_DIR / res.name
            if not _same_file(res.path, copy):
                _copy(res.path, copy)


def _place_inputs(resources: Sequence[FileResource], output: Path, run_dir: Path) -> None:
    for res in resources:
        dest = run_dir / res.name
        if res.linkage == "copy":
            _copy(res.path, dest)
        elif res.linkage == "shared":
            shared = output / SHARED_DIR / res.name
            _symlink(os.path.relpath(shared, dest.parent), dest)
        else:
            _symlink(res.path, dest)


# ====================================================================== runs
@attrs.define(eq=False)
class Run:
    """One run of a sweep: its command, folder, state and, once ended, its outcome.

    ``multirun`` returns these records in the order of ``runs``; ``task`` is a future
    that resolves (to the record) when the run ends.
    """

    cmd: list[str]
    cwd: Path
    status: RunStatus = "pending"
    task: asyncio.Future[Run] | None = None
    index: int | None = None
    params: ParamMap | None = None
    exit_code: int | None = None
    reason: str = ""
    stdout: str = ""
    """Last lines of the run's standard output (once ended)."""
    stderr: str = ""
    """Last lines of the run's standard error (once ended), or why it never ran."""
    job: Result | None = None
    """jobledger's record of the array element that ran it (``None`` when skipped)."""
    _result: Any = attrs.field(default=None, alias="_result")
    _loaded: bool = attrs.field(default=False, alias="_loaded")

    @property
    def run_dir(self) -> Path:
        """The run's folder."""
        return self.cwd

    path = run_dir

    @property
    def ok(self) -> bool:
        """True when the run succeeded now or earlier (``success`` or ``skipped``)."""
        return self.status in ("success", "skipped")

    @property
    def complete(self) -> bool:
        """True when the run will not change any more."""
        return self.status in ("skipped", "success", "failure")

    @property
    def has_result(self) -> bool:
        """True when the run posted a result."""
        return (self.cwd / RESULTS_FILE).exists()

    @property
    def result(self) -> Any:
        """What the run posted with :func:`post_run_results` (``None`` if nothing)."""
        if not self._loaded:
            self._result = _load_result(self.cwd)
            self._loaded = True
        return self._result

    results = result

    def reload(self) -> Run:
        """Forget the cached result (read it again on next access)."""
        self._loaded = False
        self._result = None
        return self

    def __repr__(self) -> str:
        where = self.cwd.name
        extra = f", exit_code={self.exit_code}" if self.exit_code not in (None, 0) else ""
        return f"Run({self.index}, {where!r}, {self.status}{extra})"


def _load_result(run_dir: Path) -> Any:
    try:
        data = (run_dir / RESULTS_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return pickle.loads(data)  # noqa: S301 - posted by the run itself


def _read_status(run_dir: Path) -> int | None:
    """Exit code recorded in the run folder, ``None`` when the command has not ended."""
    try:
        info = json.loads((run_dir / STATUS_FILE).read_text())
        return int(info["exit_code"])
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
        return None


@attrs.frozen
class RunStatistics:
    """How many runs are in each state (``complete`` = skipped + success + failure)."""

    skipped_count: int = 0
    pending_count: int = 0
    running_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    complete_count: int = 0
    total_count: int = 0

    @classmethod
    def of(cls, runs: Iterable[Run]) -> RunStatistics:
        """Count the states of ``runs``."""
        counts = dict.fromkeys(("skipped", "pending", "running", "success", "failure"), 0)
        for item in runs:
            counts[item.status] = counts.get(item.status, 0) + 1
        return cls(
            skipped_count=counts["skipped"],
            pending_count=counts["pending"],
            running_count=counts["running"],
            success_count=counts["success"],
            failure_count=counts["failure"],
            complete_count=counts["skipped"] + counts["success"] + counts["failure"],
            total_count=sum(counts.values()),
        )

    def __str__(self) -> str:
        return (
            f"{self.complete_count}/{self.total_count} complete: {self.success_count} success, "
            f"{self.failure_count} failure, {self.skipped_count} skipped, "
            f"{self.running_count} running, {self.pending_count} pending"
        )


# ====================================================================== runners
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
        record = Run([str(c) for c in cmd], Path(cwd).absolute(), index=len(self.runs))
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
        job = self.build_job(pending, self.workdir)
        workflow = Workflow([job], name=self.workflow_name(workdir))
        handle = await asyncio.to_thread(run, workflow, force=True, project=self.project)
        assert isinstance(handle, RunHandle)
        self.handle = handle
        by_index = {self._index(r): r for r in pending}
        try:
            while True:
                try:
                    results = await asyncio.to_thread(wait, handle, timeout=0, progress=False)
                    final = True
                except WaitTimeout:
                    results = await asyncio.to_thread(fetch, handle)
                    final = False
                self._apply(results.get(job.name), by_index, final)
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


# ====================================================================== the sweep
class SweepResult(list[Run]):
    """What :func:`multirun` returns: one :class:`Run` per parameter set, in order.

    Pass it to ``jobledger.fetch``/``check``/``stop`` to reach the array job behind it.
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
        if self.handle is not None:
            return self.handle._jobledger_selection()
        project = project_for(self.project, create=False)
        return Selection(project, (), (), (self.workflow,) if self.workflow else ())

    def __repr__(self) -> str:
        return f"SweepResult({self.output_path}, {self.statistics})"


def _output_dir(output_path: Path | str | None) -> Path:
    if output_path is None:
        return _default_output()
    return Path(output_path).expanduser().absolute()


def _default_output() -> Path:
    stamp = _dt.datetime.now().strftime("multirun_%Y-%m-%d_%H-%M-%S")
    path = Path.cwd() / stamp
    suffix = 1
    while path.exists():
        path = Path.cwd() / f"{stamp}_{suffix}"
        suffix += 1
    return path


def _write_params(run_dir: Path, params: ParamMap) -> None:
    try:
        text = json.dumps(params, indent=2, sort_keys=True, allow_nan=True)
        roundtrip = json.loads(text) == params
    except (TypeError, ValueError):
        roundtrip = False
    if roundtrip:
        _write_if_changed(run_dir / PARAMS_FILE, (text + "\n").encode())
        (run_dir / PARAMS_PICKLE).unlink(missing_ok=True)
    else:
        _write_if_changed(run_dir / PARAMS_PICKLE, pickle.dumps(params))
        (run_dir / PARAMS_FILE).unlink(missing_ok=True)


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _params_digest(params: Mapping[str, Any]) -> str:
    return canonical_hash(dict(params), "run parameters")[:8]


def _folder(index: int, params: Mapping[str, Any]) -> str:
    return f"{index:04d}-{_params_digest(params)}"


def _check_names(resources: Sequence[FileResource]) -> None:
    seen: dict[Path, FileResource] = {}
    for res in resources:
        other = seen.get(res.name)
        if other is not None:
            raise ModelError(f"input files {other.path} and {res.path} both become {res.name}")
        seen[res.name] = res


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
    argv = [os.fspath(c) for c in cmd]
    params_list = [dict(p) for p in runs]
    for i, params in enumerate(params_list):
        if not all(isinstance(k, str) for k in params):
            raise ModelError(f"run {i}: parameter names must be strings")
    resources = [_resource(item) for item in (input_files or [])]
    _check_names(resources)
    output = _output_dir(output_path)
    runner = runner if runner is not None else ParallelLocalRunner()
    runner.reset()
    runner._active = getattr(runner, "_active", 0) + 1
    try:
        folders = [_folder(i, p) for i, p in enumerate(params_list)]
        await asyncio.to_thread(_prepare, output, argv, params_list, folders, resources, force)
        records: list[Run] = []
        for i, (params, folder) in enumerate(zip(params_list, folders, strict=True)):
            run_dir = output / folder
            done = not force and _read_status(run_dir) == 0
            record = runner.skip(argv, run_dir) if done else runner.add(argv, run_dir)
            record.index = i
            record.params = params
            if done:
                record.exit_code = 0
            records.append(record)
        if isinstance(runner, ClusterRunner):
            runner.workdir = output
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


multirunAsync = multirun_async  # noqa: N816 - Karana's spelling


def _prepare(
    output: Path,
    cmd: list[str],
    params_list: list[ParamMap],
    folders: list[str],
    resources: list[FileResource],
    force: bool,
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    _place_shared(resources, output)
    for params, folder in zip(params_list, folders, strict=True):
        run_dir = output / folder
        if not force and _read_status(run_dir) == 0:
            continue  # done: leave the folder exactly as the run left it
        run_dir.mkdir(exist_ok=True)
        _write_params(run_dir, params)
        _place_inputs(resources, output, run_dir)
    manifest = {
        "cmd": cmd,
        "runs": [
            {"index": i, "dir": folder, "digest": folder.split("-", 1)[1]} for i, folder in enumerate(folders)
        ],
        "inputs": [{"path": str(r.path), "linkage": r.linkage, "name": str(r.name)} for r in resources],
        "updated": time.time(),
    }
    _write_if_changed(output / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())


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


# ====================================================================== status bar
async def display_status(
    runner: AbstractRunner, *, refresh: float = 0.2, console: Any = None
) -> RunStatistics:
    """Show a live status bar of ``runner``'s sweep until every run is complete.

    Run it next to the sweep::

        await asyncio.gather(multirun_async(..., runner=r), display_status(r))

    Returns the final statistics.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def describe(stats: RunStatistics) -> str:
        return (
            f"[green]{stats.success_count} ok[/] [red]{stats.failure_count} failed[/] "
            f"[dim]{stats.skipped_count} skipped[/] [cyan]{stats.running_count} running[/] "
            f"{stats.pending_count} pending"
        )

    progress = Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console if console is not None else Console(stderr=True),
    )
    stats = runner.compute_statistics()
    task = progress.add_task(describe(stats), total=max(stats.total_count, 1))
    seen_active = runner.active
    started = time.monotonic()
    with progress:
        while True:
            stats = runner.compute_statistics()
            seen_active = seen_active or runner.active
            progress.update(
                task,
                total=max(stats.total_count, 1),
                completed=stats.complete_count,
                description=describe(stats),
            )
            idle = not runner.active
            settled = seen_active or time.monotonic() - started > 1.0
            if idle and settled and stats.complete_count == stats.total_count:
                break
            await asyncio.sleep(refresh)
    return stats


displayStatus = display_status  # noqa: N816 - Karana's spelling
getRunParams = get_run_params  # noqa: N816 - Karana's spelling
postRunResults = post_run_results  # noqa: N816 - Karana's spelling

__all__ = [
    "AbstractRunner",
    "ClusterRunner",
    "FileLinkage",
    "FileResource",
    "ParallelLocalRunner",
    "ParamMap",
    "ParamValue",
    "Run",
    "RunStatistics",
    "RunStatus",
    "SweepResult",
    "displayStatus",
    "display_status",
    "fetch_runs",
    "getRunParams",
    "get_run_params",
    "multirun",
    "multirunAsync",
    "multirun_async",
    "postRunResults",
    "post_run_results",
]
