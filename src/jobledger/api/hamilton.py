"""The Hamilton-HPC-Orchestra face: functions that choose their cluster at call time.

A decorated generator function yields ONE dict describing the job it wants (command,
host, resources, dependencies, whether to block), receives a :class:`JobInfo` back —
an ``int`` (the scheduler's job id) that also carries the job's state and results —
and returns the function's result::

    from jobledger import submit

    @submit("local")                       # default host: a jobledger.toml alias
    def relax(structure: str) -> float:
        info = yield {
            "job_name": f"relax-{structure}",
            "cmd": [f"relax {structure}"],                     # script lines
            "host": "slurm" if big(structure) else "local",  # per-call choice
            "n_cores": 4, "memory_max": "8G", "run_time_max": "2:00:00",
            "work_dir": structure,                           # where the command runs
            "block": True,
        }
        return float(info.stdout.split()[-1])               # or files in work_dir

Keys: ``cmd`` (list of script lines, or one string), or ``func``/``args``/``kwargs`` for a
Python call; ``job_name``/``name``; ``host``/``cluster``; ``n_cores`` (``--ntasks``, as
Hamilton-HPC-Orchestra does), ``cpus``/``max_cores``, ``memory_max``/``memory``,
``run_time_max``/``time``, ``partition``, ``account`` and every other resource keyword of
:class:`~jobledger.Job`; ``work_dir``; ``job_deps``/``dependency``/``after`` (JobInfo
objects, Jobs or job names; a dict ``{"afterok": [...], "condition": "?"}`` too);
``block``/``monitor``; ``test_only`` (record the job, submit nothing); ``env``,
``modules``, ``setup``, ``retries``; ``force`` (run again even if an identical job
completed). Any other key becomes a scheduler flag (``"--gres": "gpu:1"`` becomes
``#SBATCH --gres=gpu:1`` on a SLURM host) and is dropped, with a warning, on ``local``.

Every call builds one :class:`~jobledger.Job` in a one-job :class:`~jobledger.Workflow`
and hands it to :func:`jobledger.run`; an identical job that already completed is reused
(its outputs are still there), unless ``force`` is set. Decorated functions stay plain
functions, so they are ordinary Apache Hamilton nodes; :func:`hamilton_adapter` also runs
*undecorated* Hamilton nodes as jobledger jobs, chosen by tags (needs ``jobledger[hamilton]``).
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.api.results import Result, tail_text
from jobledger.api.session import Selection, engine_for, project_for
from jobledger.api.verbs import RunHandle, WaitTimeout, fetch, init, run, stop, update, wait
from jobledger.config import load_config
from jobledger.errors import ConfigError, ModelError
from jobledger.model.job import Dependency, Job, normalize_kind
from jobledger.model.resources import Resources
from jobledger.model.workflow import Workflow
from jobledger.states import JobState

log = logging.getLogger("jobledger.hamilton")

#: Yield keys that are :class:`~jobledger.Job` fields (passed as they are).
_JOB_FIELDS = frozenset(
    {
        "env",
        "env_vars",
        "modules",
        "setup",
        "stdout",
        "stderr",
        "python",
        "retries",
        "retry_on",
        "backoff",
        "inputs",
        "outputs",
        "array",
        "max_concurrent",
        "metadata",
    }
)
#: Keys that only matter to Hamilton-HPC-Orchestra's own script writer.
_IGNORED = frozenset({"script_name", "is_monitor"})
#: Scheduler flag prefixes by scheduler name (for passthrough keys).
_SCHEDULER_ARGS = {"slurm": "slurm", "sge": "sge", "pbs": "pbs", "torque": "pbs", "lsf": "lsf"}


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
        return wait(self.handle, timeout=timeout, progress=False)[self.job.name]

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


# ====================================================================== building jobs
def _scheduler_of(alias: str, project: Any) -> str:
    if alias == "local":
        return "local"
    proj = project_for(project, create=True)
    return load_config(proj.root).host(alias).scheduler


def resolve_host(cluster_name: str | None, cluster_type: str | None, project: Any = None) -> str:
    """The jobledger host alias for Hamilton-HPC-Orchestra's ``(cluster_name, cluster_type)``.

    A configured ``[hosts.NAME]`` wins (its scheduler must match ``cluster_type`` when
    given); ``"local"`` (name or type) is this machine; otherwise the one host whose
    scheduler is ``cluster_type``.
    """
    if cluster_name is None or cluster_name == "local":
        if cluster_type not in (None, "local"):
            return resolve_host(cluster_type, cluster_type, project)
        return "local"
    proj = project_for(project, create=True)
    config = load_config(proj.root)
    found = config.hosts.get(cluster_name)
    if found is not None:
        if cluster_type is not None and cluster_type != found.scheduler:
            raise ConfigError(
                f"cluster {cluster_name!r} is a {found.scheduler} host in jobledger.toml, "
                f"not {cluster_type!r}"
            )
        return cluster_name
    if cluster_type is None:
        config.host(cluster_name)  # raises the usual "unknown host alias" error
        return cluster_name
    if cluster_type == "local":
        return "local"
    matching = sorted(n for n, h in config.hosts.items() if h.scheduler == cluster_type)
    if cluster_type in config.hosts and config.hosts[cluster_type].scheduler == cluster_type:
        return cluster_type
    if len(matching) == 1:
        return matching[0]
    hint = (
        f"one of {', '.join(matching)}"
        if matching
        else f'[hosts.{cluster_name}] scheduler = "{cluster_type}"'
    )
    raise ConfigError(
        f"cluster {cluster_name!r} ({cluster_type}): not configured; name {hint} in jobledger.toml"
    )


def _deps(value: Any, project: Any) -> tuple[list[Dependency], str]:
    """``job_deps`` as dependencies, and ``waitfor`` (``any`` for a ``?`` condition)."""
    if value is None:
        return [], "all"
    if isinstance(value, Mapping):
        table = dict(value)
        condition = str(table.pop("condition", ","))
        deps = []
        for kind, targets in table.items():
            items = targets if isinstance(targets, Iterable) and not isinstance(targets, str) else [targets]
            deps += [Dependency(_dep_target(t, project), normalize_kind(kind)) for t in items]
        return deps, "any" if condition.strip() == "?" else "all"
    items = value if isinstance(value, Iterable) and not isinstance(value, str) else [value]
    return [Dependency(_dep_target(t, project), "afterok") for t in items], "all"


def _dep_target(target: Any, project: Any) -> Job:
    if isinstance(target, Job):
        return target
    inner = getattr(target, "job", None)
    if isinstance(inner, Job):
        return inner
    if isinstance(target, str):
        return _job_named(target, project)
    raise ModelError(f"a dependency is a JobInfo, a Job or a job name, not {target!r}")


def _job_named(name: str, project: Any) -> Job:
    """The latest job called ``name`` in the project's recorded workflows."""
    proj = project_for(project, create=False)
    engine = engine_for(proj)
    engine.ledger.refresh()
    state = engine.ledger.state
    best: tuple[float, str] | None = None
    for wf_name, info in state.workflows().items():
        for key in info.job_keys:
            job_info = state.job(key)
            if job_info is not None and job_info.name == name and (best is None or info.defined > best[0]):
                best = (info.defined, wf_name)
    if best is not None:
        workflow = engine.load_cached(best[1])
        if workflow is not None and name in workflow:
            return workflow[name]
    raise ModelError(
        f"no job named {name!r} was submitted from this project; pass the JobInfo the "
        "upstream function received instead of its name"
    )


def _flag(key: str, value: Any) -> str:
    flag = key if key.startswith("-") else (f"-{key}" if len(key) == 1 else f"--{key}")
    if value is True or value is None:
        return flag
    return f"{flag}={value}" if flag.startswith("--") else f"{flag} {value}"


def job_from_config(
    config: Mapping[str, Any],
    *,
    default_name: str,
    default_host: str,
    project: Any = None,
) -> tuple[Job, dict[str, Any]]:
    """Build the :class:`~jobledger.Job` a yielded dict asks for; also returns the
    control keys (``block``, ``test_only``, ``force``)."""
    cfg = dict(config)
    control = {
        "block": bool(cfg.pop("block", False)) | bool(cfg.pop("monitor", False)),
        "test_only": bool(cfg.pop("test_only", False)),
        "force": bool(cfg.pop("force", False)),
    }
    name = cfg.pop("job_name", None) or cfg.pop("name", None) or default_name
    host = cfg.pop("host", None) or cfg.pop("cluster", None) or cfg.pop("cluster_name", None)
    cluster_type = cfg.pop("cluster_type", None)
    alias = resolve_host(host, cluster_type, project) if host or cluster_type else default_host
    func = cfg.pop("func", None) or cfg.pop("call", None)
    args = tuple(cfg.pop("args", ()))
    kwargs = dict(cfg.pop("kwargs", None) or {})
    cmd = cfg.pop("cmd", None)
    if func is not None and cmd is not None:
        raise ModelError(f"job {name!r}: give either cmd or func, not both")
    command: Any
    if func is not None:
        if not callable(func):
            raise ModelError(f"job {name!r}: func must be callable")
        command, func_env = portable(func)
        if func_env:
            cfg["env"] = {**func_env, **dict(cfg.get("env") or {})}
    elif isinstance(cmd, str):
        command = cmd
    elif isinstance(cmd, Sequence) and cmd:
        command = "\n".join(str(line) for line in cmd)
    else:
        raise ModelError(f"job {name!r}: the yielded dict needs a 'cmd' (script lines) or a 'func'")
    workdir = cfg.pop("work_dir", None) or cfg.pop("workdir", None) or cfg.pop("cwd", None)
    deps, waitfor = _deps(
        cfg.pop("job_deps", None) or cfg.pop("dependency", None) or cfg.pop("after", None), project
    )
    if "n_cores" in cfg:  # Hamilton-HPC-Orchestra writes --ntasks=n_cores
        cfg["tasks"] = cfg.pop("n_cores")
    options = {k: cfg.pop(k) for k in list(cfg) if k in _JOB_FIELDS}
    for key in _IGNORED:
        cfg.pop(key, None)
    resources, rest = Resources.split_kwargs(cfg)
    scheduler = _scheduler_of(alias, project)
    scheduler_args: dict[str, list[str]] = {}
    if rest:
        target = _SCHEDULER_ARGS.get(scheduler)
        if target is None:
            log.warning("job %s on %s: ignoring %s", name, alias, ", ".join(sorted(rest)))
        else:
            scheduler_args[target] = [_flag(k, v) for k, v in rest.items()]
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    job = Job(
        command,
        name=str(name),
        args=args,
        kwargs=kwargs,
        host=alias,
        after=deps,
        waitfor=waitfor,
        workdir=workdir,
        scheduler_args=scheduler_args or None,
        resources=Resources.from_kwargs(**resources),
        **options,
    )
    return job, control


def submit_job(
    job: Job,
    *,
    block: bool = False,
    test_only: bool = False,
    force: bool = False,
    project: Any = None,
    timeout: float | None = None,
) -> JobInfo:
    """Hand ``job`` (with its upstream jobs) to the engine; the :class:`JobInfo`."""
    key = Workflow([job], name="_").keys()[job.name]
    workflow = Workflow([job], name=f"{job.name}-{key[:8]}")
    if test_only:
        handle = init(workflow, project=project)
        assert isinstance(handle, RunHandle)
        return JobInfo(0, job=job, handle=handle, host=job.host)
    handle = run(workflow, force=force, project=project, wait_for_lock=True)
    assert isinstance(handle, RunHandle)
    if block:
        result = wait(handle, timeout=timeout, progress=False)[job.name]
        if not result.ok:
            log.warning("job %s ended %s: %s", job.name, result.state.value, result.reason)
    return JobInfo(_number(handle, job), job=job, handle=handle, host=job.host)


def _number(handle: RunHandle, job: Job, patience: float = 2.0) -> int:
    """The scheduler's job id; for local jobs the pid of the job's process."""
    deadline = time.monotonic() + patience
    while True:
        result = fetch(handle)[job.name]
        sid = result.scheduler_id
        if sid and sid.isdigit():
            return int(sid)
        claim = tail_text(result.unit_dir / "claim", 1).split()
        if claim and claim[0].isdigit():
            return int(claim[0])
        if result.reused or result.state.is_final or time.monotonic() >= deadline:
            return int(handle.keys[job.name][:7], 16)
        time.sleep(0.05)


# ====================================================================== decorators
def _drive_generator(func: Callable[..., Any], args: Any, kwargs: Any, act: Callable[[Any], Any]) -> Any:
    generator = func(*args, **kwargs)
    try:
        config = next(generator)
    except StopIteration as stop_:
        return stop_.value  # returned without yielding (e.g. a cached shortcut)
    if not isinstance(config, Mapping):
        generator.close()
        raise TypeError(f"{func.__name__} must yield a dict describing its job, not {config!r}")
    outcome = act(config)
    try:
        generator.send(outcome)
    except StopIteration as stop_:
        return stop_.value
    generator.close()
    raise ValueError(f"{func.__name__}: a submitted function yields exactly once")


class submit:  # noqa: N801 - Hamilton-HPC-Orchestra's name
    """Decorator: the generator function yields its job's dict and gets a :class:`JobInfo`.

    ``cluster_name`` is the default host (a ``[hosts.NAME]`` alias of jobledger.toml, or
    ``"local"``); ``cluster_type`` (``"slurm"``, ``"local"`` ...) checks it, or picks the
    configured host of that type. Each call may choose another host with the ``host``
    key. Nothing is registered: ``submit("x")`` twice is two equal decorators.
    """

    def __init__(
        self,
        cluster_name: str | None = None,
        cluster_type: str | None = None,
        *,
        project: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        self.cluster_type = cluster_type
        self.project = project
        self.timeout = timeout

    @property
    def host(self) -> str:
        """The default host alias (resolved against jobledger.toml now)."""
        return resolve_host(self.cluster_name, self.cluster_type, self.project)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isgeneratorfunction(func):
            raise TypeError(
                f"function {getattr(func, '__name__', func)!r} submitted to "
                f"{self.cluster_name or 'a cluster'} must be a generator function "
                "(that yields the job's dict)"
            )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _drive_generator(func, args, kwargs, lambda cfg: self.submit(cfg, func.__name__))

        wrapper.__annotations__ = {**getattr(func, "__annotations__", {})}
        wrapper.__annotations__["return"] = inspect.signature(func).return_annotation
        wrapper.__jobledger_submit__ = self  # type: ignore[attr-defined]
        return wrapper

    def submit(self, config: Mapping[str, Any], default_name: str = "job") -> JobInfo:
        """Submit the job a yielded ``config`` describes (what the decorator does)."""
        job, control = job_from_config(
            config, default_name=default_name, default_host=self.host, project=self.project
        )
        return submit_job(job, project=self.project, timeout=self.timeout, **control)

    @property
    def monitor(self) -> Monitor:
        """Follow the jobs of this decorator's host."""
        return Monitor(self.host, self.project)

    def __repr__(self) -> str:
        return f"submit({self.cluster_name!r}, {self.cluster_type!r})"


class Monitor:
    """Hamilton-HPC-Orchestra's monitor, over the project's ledger (no registry)."""

    def __init__(self, host: str, project: Any = None) -> None:
        self.host = host
        self.project = project

    def _workflows(self) -> dict[str, list[str]]:
        """Workflows with unfinished jobs on this host: ``{workflow: [job names]}``."""
        engine = engine_for(project_for(self.project, create=False))
        engine.ledger.refresh()
        state = engine.ledger.state
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
        """Block until no job of this host is unfinished, checking every ``interval`` s."""
        while True:
            pending = self._workflows()
            if not pending:
                return
            for workflow in pending:
                try:
                    wait(_ByName(workflow, self.project), timeout=interval, progress=False)
                except WaitTimeout:
                    pass

    def block_until_complete(self, job_id: int | JobInfo, interval: float = 2) -> Result:
        """Block until the job ``job_id`` (a JobInfo, or the int id) ended."""
        if isinstance(job_id, JobInfo):
            return job_id.wait()
        for workflow, names in self._workflows().items():
            for name, result in fetch(_ByName(workflow, self.project)).items():
                if name in names and result.scheduler_id == str(job_id):
                    while True:
                        try:
                            return wait(_ByName(workflow, self.project), timeout=interval, progress=False)[
                                name
                            ]
                        except WaitTimeout:
                            continue
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


# ====================================================================== cmdline
class JobProcess:
    """A ``subprocess.Popen`` look-alike for a non-blocking ``cmdline`` job."""

    def __init__(self, info: JobInfo, args: Any) -> None:
        self.info = info
        self.args = args
        self.pid = int(info)

    @property
    def returncode(self) -> int | None:
        """Exit code once ended, else ``None``."""
        result = self.info.result
        return result.exit_code if result.state.is_final else None

    def poll(self) -> int | None:
        """The exit code if the job ended, else ``None``."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the job ended; its exit code."""
        try:
            return self.info.wait(timeout).exit_code
        except WaitTimeout:
            raise subprocess.TimeoutExpired(self.args, timeout or 0) from None

    def communicate(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Wait; the job's whole stdout and stderr."""
        self.wait(timeout)
        result = self.info.result
        return _read_bytes(result.stdout_path), _read_bytes(result.stderr_path)

    def kill(self) -> None:
        """Cancel the job."""
        self.info.cancel()

    terminate = kill


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return b""


def cmdline(func: Callable[..., Any] | None = None, *, host: str = "local", project: Any = None) -> Any:
    """Decorator: the generator yields ``{"cmd": ..., "cwd": ..., "block": True}`` and gets
    a ``subprocess.CompletedProcess`` (``block``, the default) or a Popen-like
    :class:`JobProcess`.

    The command (an argv list, or a string for the shell) runs as a jobledger job on
    ``host`` (recorded in the ledger; an identical command that completed before is
    reused unless ``"force": True``). Use as ``@cmdline`` or ``@cmdline(host="slurm")``.
    """

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isgeneratorfunction(target):
            return target  # Hamilton-HPC-Orchestra calls non-generators directly

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _drive_generator(
                target, args, kwargs, lambda cfg: run_cmdline(cfg, target.__name__, host, project)
            )

        wrapper.__annotations__ = {**getattr(target, "__annotations__", {})}
        wrapper.__annotations__["return"] = inspect.signature(target).return_annotation
        return wrapper

    return decorate(func) if func is not None else decorate


def run_cmdline(
    config: Mapping[str, Any], default_name: str = "cmd", host: str = "local", project: Any = None
) -> Any:
    """Run the command a ``cmdline`` generator yielded (see :func:`cmdline`)."""
    cfg = dict(config)
    cmd = cfg.get("cmd")
    if not isinstance(cmd, (str, list, tuple)) or not cmd:
        raise ModelError(f"cmd must be a list of strings or a string, got {type(cmd).__name__}")
    block = bool(cfg.get("block", True))
    extra = cfg.get("kwargs") or {}
    if isinstance(cmd, str) or extra.get("shell"):
        command: Any = cmd if isinstance(cmd, str) else shlex.join(str(c) for c in cmd)
    else:
        command = [str(c) for c in cmd]
    first = cmd.split()[0] if isinstance(cmd, str) else str(cmd[0])
    name = cfg.get("job_name") or f"{default_name}-{Path(first).name}"
    job = Job(command, name=str(name), host=host, workdir=cfg.get("cwd"))
    info = submit_job(job, block=block, project=project, force=bool(cfg.get("force", False)))
    if not block:
        return JobProcess(info, cmd)
    result = info.result
    text = bool(extra.get("text", False) or extra.get("universal_newlines", False))
    out, err = _read_bytes(result.stdout_path), _read_bytes(result.stderr_path)
    return subprocess.CompletedProcess(
        cmd,
        result.exit_code if result.exit_code is not None else -1,
        out.decode(errors="replace") if text else out,
        err.decode(errors="replace") if text else err,
    )


# ====================================================================== Apache Hamilton
def _node_job(
    node_name: str,
    tags: Mapping[str, Any],
    node_callable: Callable[..., Any],
    node_kwargs: Mapping[str, Any],
    prefix: str,
    default_host: str | None,
    options: Mapping[str, Any],
) -> Job | None:
    host = tags.get(f"{prefix}host") or default_host
    if host is None or getattr(node_callable, "__jobledger_submit__", None) is not None:
        return None
    resources = dict(options)
    for key, value in tags.items():
        if key.startswith(prefix) and key != f"{prefix}host":
            resources[key[len(prefix) :]] = value
    func, env = portable(node_callable)
    if env:
        resources["env"] = {**env, **dict(resources.get("env") or {})}
    return Job(func, name=node_name, kwargs=dict(node_kwargs), host=str(host), **resources)


def portable(func: Callable[..., Any]) -> tuple[Callable[..., Any], dict[str, str]]:
    """``func`` made loadable in a job's fresh interpreter, and the environment it needs.

    A function of a module that exists only in memory (Hamilton's
    ``create_temporary_module``, a notebook) is re-homed to ``__main__`` so cloudpickle
    sends it by value; one of a module file gets that file's import root on
    ``PYTHONPATH`` (the job's interpreter starts in another directory).
    """
    import sys
    import types

    module_name = getattr(func, "__module__", None) or "__main__"
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None) if module is not None else None
    if module_name == "__main__" or not isinstance(func, types.FunctionType):
        return func, {}
    if path is None:
        copy = types.FunctionType(
            func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
        )
        copy.__kwdefaults__ = func.__kwdefaults__
        copy.__qualname__ = func.__qualname__
        copy.__annotations__ = dict(func.__annotations__)
        copy.__module__ = "__main__"
        return copy, {}
    root = Path(path).resolve().parent
    for _ in range(module_name.count(".") + (1 if Path(path).name == "__init__.py" else 0)):
        root = root.parent
    site = {str(Path(p).resolve()) for p in sys.path if p and "-packages" in p}
    if any(str(root).startswith(s) for s in site):
        return func, {}  # an installed package: importable as it is
    current = os.environ.get("PYTHONPATH", "")
    return func, {"PYTHONPATH": os.pathsep.join(p for p in (str(root), current) if p)}


def hamilton_adapter(
    default_host: str | None = None,
    *,
    tag_prefix: str = "jobledger.",
    project: str | os.PathLike[str] | None = None,
    **job_options: Any,
) -> Any:
    """An Apache Hamilton lifecycle adapter that runs nodes as jobledger jobs.

    A node tagged ``@tag(**{"jobledger.host": "slurm"})`` (other ``jobledger.*`` tags are
    job options: ``jobledger.cpus``, ``jobledger.memory``, ``jobledger.time``,
    ``jobledger.partition`` ...) runs as a Python-call job on that host and the driver
    waits for its value; with ``default_host`` every untagged node does too. Nodes
    decorated with :class:`submit` run in the driver's process (they submit their own
    jobs). Needs the ``hamilton`` extra::

        dr = driver.Builder().with_modules(logic).with_adapters(hamilton_adapter()).build()
    """
    try:
        from hamilton.lifecycle import api as hamilton_api
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "hamilton_adapter needs Apache Hamilton: pip install 'jobledger[hamilton]'"
        ) from exc

    class JobledgerNodeExecutor(hamilton_api.NodeExecutionMethod):  # type: ignore[misc]
        """Runs tagged Hamilton nodes as jobledger jobs."""

        def run_to_execute_node(
            self,
            *,
            node_name: str,
            node_tags: dict[str, Any],
            node_callable: Any,
            node_kwargs: dict[str, Any],
            task_id: str | None = None,
            is_expand: bool = False,
            is_collect: bool = False,
            **future_kwargs: Any,
        ) -> Any:
            job = _node_job(
                node_name,
                node_tags,
                node_callable,
                node_kwargs,
                tag_prefix,
                default_host,
                job_options,
            )
            if job is None or is_expand or is_collect:
                return node_callable(**node_kwargs)
            info = submit_job(job, block=True, project=project)
            result = info.result
            if not result.ok:
                from jobledger.errors import JobFailedError

                detail = result.error.get("message") if result.error else result.reason
                raise JobFailedError(f"Hamilton node {node_name!r} failed on {job.host}: {detail}")
            return result.value

    return JobledgerNodeExecutor()


def is_submitted(func: Callable[..., Any]) -> bool:
    """True for a function decorated with :class:`submit`."""
    return getattr(func, "__jobledger_submit__", None) is not None


def hamilton_available() -> bool:
    """True when Apache Hamilton can be imported."""
    try:
        import hamilton  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = [
    "JobInfo",
    "JobProcess",
    "JobStatus",
    "Monitor",
    "cmdline",
    "hamilton_adapter",
    "hamilton_available",
    "is_submitted",
    "job_from_config",
    "portable",
    "resolve_host",
    "run_cmdline",
    "submit",
    "submit_job",
]
