"""The hpc-runner face: ``Job.submit()``, :class:`JobResult`, :class:`JobArray`, :class:`Pipeline`.

``jobledger.Job`` already takes hpc-runner's keywords (``Job("python x.py", cpu=4,
mem="8G", time="1:00:00", queue="gpu.q", modules=[...], stderr=None)``); this module
gives the rest::

    result = Job("python train.py", cpu=4).submit()   # auto-detected scheduler
    print(result.job_id, result.status)                 # status is observed live
    result.wait()                                       # -> JobStatus.COMPLETED

Every submission builds an ordinary :class:`~jobledger.Workflow` and hands it to
:func:`jobledger.run` in the project found upward from the current directory (created
there when there is none). A loose job is its own small workflow named
``<job name>-<key8>``; a job whose ``dependencies`` are earlier results carries those
upstream jobs in its workflow, where the engine recognises them by key and does not
submit them again. A :class:`JobResult` is accepted by every hyrun-style verb
(``jobledger.wait(result)``).

Schedulers are names for host aliases: ``local`` runs here, and ``slurm``, ``sge``,
``pbs``, ``lsf`` go to the first ``[hosts.*]`` table of ``jobledger.toml`` with that
``scheduler`` (or a host alias of that name). ``get_scheduler()`` without a name
detects one like hpc-runner: ``$HPC_SCHEDULER``, else ``sbatch`` -> slurm, ``qsub`` ->
sge/pbs, ``bsub`` -> lsf, else local.

Process-wide settings (hpc-runner keeps them global too) live in one explicit object,
:data:`settings`: the config file given to :func:`reload_config` and schedulers added by
:func:`register_scheduler`. ``settings.reset()`` (or ``reload_config()`` with no path)
returns to the defaults. Nothing else is remembered between calls: the ledger is the state.
"""

from __future__ import annotations

import enum
import importlib
import os
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.api.awflow import resolve_backend
from jobledger.api.results import Result
from jobledger.api.session import Selection, project_for
from jobledger.api.verbs import RunHandle, check, fetch, run, stop, wait
from jobledger.config import load_config as load_project_config
from jobledger.config import read_toml
from jobledger.errors import ConfigError, ModelError, ResourceError
from jobledger.model.array import ArraySpec
from jobledger.model.job import SEPARATE, Dependency, Job
from jobledger.model.resources import Resources
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.states import JobState

#: Names every :func:`get_scheduler` knows (each maps to a configured host, or here).
BUILTIN_SCHEDULERS = ("local", "lsf", "pbs", "sge", "slurm")
#: Environment variable naming an hpc-runner config file when none was loaded explicitly.
CONFIG_ENV = "HPC_RUNNER_CONFIG"


# ====================================================================== statuses
class JobStatus(enum.Enum):
    """hpc-runner's job statuses; :meth:`from_state` maps jobledger's :class:`JobState`."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True when the job will not change any more."""
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)

    @classmethod
    def from_state(cls, state: JobState) -> JobStatus:
        """The status hpc-runner users see for a jobledger state."""
        return _STATUS_OF[state]


_STATUS_OF = {
    JobState.PENDING: JobStatus.PENDING,
    JobState.SUBMITTED: JobStatus.PENDING,
    JobState.RUNNING: JobStatus.RUNNING,
    JobState.COMPLETED: JobStatus.COMPLETED,
    JobState.FAILED: JobStatus.FAILED,
    JobState.OUT_OF_MEMORY: JobStatus.FAILED,
    JobState.NODE_FAIL: JobStatus.FAILED,
    JobState.BOOT_FAIL: JobStatus.FAILED,
    JobState.CANCELLED: JobStatus.CANCELLED,
    JobState.PREEMPTED: JobStatus.CANCELLED,
    JobState.DEPENDENCY_FAILED: JobStatus.CANCELLED,
    JobState.TIMEOUT: JobStatus.TIMEOUT,
    JobState.LOST: JobStatus.UNKNOWN,
}


# ====================================================================== results
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
        wait(self, timeout=timeout, progress=False)


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


# ====================================================================== settings
@attrs.define
class RunnerSettings:
    """The hpc-runner face's process-wide settings, in one explicit, resettable object.

    ``config_path``: the file given to :func:`reload_config` (``None``: the project's
    ``jobledger.toml``, or ``$HPC_RUNNER_CONFIG``). ``schedulers``: names added with
    :func:`register_scheduler`.
    """

    config_path: Path | None = None
    schedulers: dict[str, Any] = attrs.field(factory=dict)

    def reset(self) -> None:
        """Forget the explicit config file and the registered schedulers."""
        self.config_path = None
        self.schedulers.clear()


#: The settings :func:`reload_config`, :func:`register_scheduler` and friends act on.
settings = RunnerSettings()


# ====================================================================== configuration
@attrs.frozen
class RunnerConfig:
    """``[defaults]``, ``[tools.*]``, ``[types.*]`` and ``[schedulers.*]`` as read."""

    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    tools: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    types: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    schedulers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    sources: tuple[str, ...] = ()

    def get_type_config(self, name: str) -> dict[str, Any]:
        """``[defaults]`` merged with ``[types.NAME]`` (or ``[tools.NAME]``)."""
        return self.job_config(name)

    def get_tool_config(self, command: str) -> dict[str, Any]:
        """``[defaults]`` merged with the tool named by ``command``'s first word and the
        first of its ``options`` whose tokens appear in the command."""
        words = shlex.split(command)
        if not words:
            raise ModelError("empty command")
        return self.job_config(Path(words[0]).name, command)

    def job_config(self, name: str, command: str | None = None) -> dict[str, Any]:
        """Merged settings of tool or type ``name`` (tools first, as hpc-runner)."""
        table = self.tools.get(name)
        if table is None:
            table = self.types.get(name)
        if table is None:
            known = ", ".join(sorted({*self.tools, *self.types})) or "none"
            where = " or ".join(self.sources) if self.sources else "no configuration file found"
            raise ConfigError(
                f"no [types.{name}] or [tools.{name}] in the configuration (known: {known}; read: {where})"
            )
        own = {k: v for k, v in table.items() if k != "options"}
        merged = merge_settings(dict(self.defaults), own)
        options = table.get("options")
        if command and isinstance(options, Mapping):
            tokens = _tokens(shlex.split(command)[1:])
            for flag, extra in options.items():
                if _contains(tokens, _tokens(shlex.split(flag))) and isinstance(extra, Mapping):
                    merged = merge_settings(merged, dict(extra))
                    break
        return merged


def merge_settings(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """hpc-runner's merge: tables deeply, lists by union (a leading ``"-"`` replaces)."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge_settings(dict(old), value)
        elif isinstance(old, list) and isinstance(value, list):
            if value and value[0] == "-":
                out[key] = list(value[1:])
            else:
                out[key] = list(dict.fromkeys([*old, *value]))
        elif isinstance(value, list) and value and value[0] == "-":
            out[key] = list(value[1:])
        else:
            out[key] = value
    return out


def _tokens(words: Sequence[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if word.startswith("--") and "=" in word:
            flag, _, value = word.partition("=")
            out += [flag, value]
        else:
            out.append(word)
    return out


def _contains(haystack: list[str], needle: list[str]) -> bool:
    size = len(needle)
    return bool(needle) and any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


_FILE_TABLES = ("defaults", "tools", "types", "schedulers")


def load_config(path: str | os.PathLike[str] | None = None) -> RunnerConfig:
    """Read ``path`` (an hpc-runner file, following ``extends``), or, without a path,
    what :func:`get_config` reads."""
    if path is None:
        return get_config()
    chain = _extends_chain(Path(path).resolve(), [])
    merged: dict[str, Any] = {name: {} for name in _FILE_TABLES}
    for file in chain:
        data = read_toml(file)
        for key in data:
            if key == "hosts":
                raise ConfigError(
                    f"{file}: [hosts] tables belong in the project's jobledger.toml "
                    "(the engine reads hosts there)"
                )
            if key not in (*_FILE_TABLES, "extends"):
                raise ConfigError(
                    f"{file}: unknown top-level table or key {key!r} (use {', '.join(_FILE_TABLES)})"
                )
        for name in _FILE_TABLES:
            if name in data:
                merged[name] = merge_settings(merged[name], data[name])
    config = RunnerConfig(
        defaults=merged["defaults"],
        tools=merged["tools"],
        types=merged["types"],
        schedulers=merged["schedulers"],
        sources=tuple(str(f) for f in chain),
    )
    _validate(config)
    return config


def _extends_chain(path: Path, seen: list[Path]) -> list[Path]:
    if path in seen:
        raise ConfigError(f"{path}: circular 'extends' ({' -> '.join(map(str, [*seen, path]))})")
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    data = read_toml(path)
    parent = data.get("extends")
    if not parent:
        return [path]
    target = Path(os.path.expandvars(str(parent)))
    target = (target if target.is_absolute() else path.parent / target).resolve()
    if not target.is_file():
        return [path]  # hpc-runner tolerates a missing base file
    return [*_extends_chain(target, [*seen, path]), path]


def _validate(config: RunnerConfig) -> None:
    where = " or ".join(config.sources) or "configuration"
    job_kwargs(config.defaults, f"{where}: [defaults]")
    for section, tables in (("tools", config.tools), ("types", config.types)):
        for name, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: [{section}.{name}] must be a table")
            job_kwargs({k: v for k, v in table.items() if k != "options"}, f"{where}: [{section}.{name}]")


def get_config() -> RunnerConfig:
    """The configuration in effect: the file given to :func:`reload_config` (or named by
    ``$HPC_RUNNER_CONFIG``), else ``jobledger.toml`` of the project above the cwd plus
    the user's file. Read afresh on every call (no cache to go stale)."""
    explicit = settings.config_path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if explicit is not None:
        return load_config(explicit)
    found = Project.find()
    config = load_project_config(found.root if found else None)
    return RunnerConfig(
        defaults=dict(config.defaults),
        tools=dict(config.types),
        types=dict(config.types),
        schedulers=dict(config.schedulers),
        sources=config.sources,
    )


def reload_config(path: str | os.PathLike[str] | None = None) -> RunnerConfig:
    """Use ``path`` as this process's configuration from now on (``None``: back to the
    project's ``jobledger.toml``). Kept in :data:`settings`; returns what was read."""
    if path is None:
        settings.config_path = None
        return get_config()
    resolved = Path(path).resolve()
    config = load_config(resolved)
    settings.config_path = resolved
    return config


# ====================================================================== config -> Job
_PASS = frozenset(
    {
        "command",
        "name",
        "modules",
        "setup",
        "env",
        "env_vars",
        "host",
        "python",
        "workdir",
        "stdout",
        "stderr",
        "retries",
        "retry_on",
        "backoff",
        "escalate",
        "modules_path",
        "inherit_env",
        "priority",
        "inputs",
        "outputs",
    }
)
_SCHEDULER_ARGS = ("slurm", "sge", "pbs", "lsf", "local")
_IGNORED = frozenset({"use_cwd", "shell", "options", "nodes_args"})


def job_kwargs(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Translate a config table (hpc-runner or jobledger keys) into :class:`Job` keywords.

    ``extra_modules`` join ``modules``; ``venv`` activates a virtualenv in ``setup``;
    ``env_prepend``/``env_append`` become ``setup`` lines; ``use_cwd`` and ``shell`` are
    accepted and ignored (jobs run in the submitting directory, under bash).
    """
    fields, rest = Resources.split_kwargs(dict(table))
    try:
        Resources(**fields)
    except ResourceError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    out: dict[str, Any] = dict(fields)
    setup: list[str] = []
    for key, value in rest.items():
        if key in _PASS or (key.endswith("_args") and key[:-5] in _SCHEDULER_ARGS):
            out[key] = value
        elif key == "extra_modules":
            continue  # joined to modules below
        elif key == "venv":
            setup.append(f"source {shlex.quote(str(value))}/bin/activate")
        elif key in ("env_prepend", "env_append") and isinstance(value, Mapping):
            for var, text in value.items():
                new = shlex.quote(str(text))
                joined = (
                    f'{new}"${{{var}:+:${var}}}"' if key == "env_prepend" else f'"${{{var}:+${var}:}}"{new}'
                )
                setup.append(f"export {var}={joined}")
        elif key in _IGNORED:
            continue
        else:
            raise ConfigError(f"{where}: unknown key {key!r} (not a resource or job setting)")
    if rest.get("extra_modules"):
        out["modules"] = list(dict.fromkeys([*out.get("modules", []), *rest["extra_modules"]]))
    if setup:
        out["setup"] = [*out.get("setup", []), *setup]
    return out


def job_from_config(tool_or_type: str, command: Any = None, **overrides: Any) -> Job:
    """``Job.from_config``: ``[defaults]`` + ``[tools.NAME]``/``[types.NAME]`` + overrides.

    Lists merge by union (a leading ``"-"`` replaces); overrides replace. An unknown
    name raises :class:`~jobledger.errors.ConfigError` listing the known ones.
    """
    config = get_config()
    where = f"Job.from_config({tool_or_type!r})"
    preset = config.job_config(tool_or_type, command if isinstance(command, str) else None)
    kwargs = job_kwargs(preset, where)
    if command is not None:
        kwargs["command"] = command
    if "command" not in kwargs:
        raise ModelError(f"{where}: no command given, and the configuration has none")
    for key, value in overrides.items():
        canonical = Resources.canonical_name(key)
        if canonical is not None:
            kwargs = {k: v for k, v in kwargs.items() if Resources.canonical_name(k) != canonical}
            kwargs[canonical] = value
        else:
            kwargs[key] = value
    metadata = {**dict(kwargs.pop("metadata", None) or {}), "config_preset": tool_or_type}
    return Job(metadata=metadata, **kwargs)


def apply_job_type(job: Job) -> Job:
    """A job made with ``Job(cmd, job_type="gpu")``, with the preset under its own settings.

    The preset fills what the job leaves unset: resources, ``workdir``, ``stdout``,
    ``python``, ``host``; ``modules`` and ``setup`` are joined (preset first), ``env``
    merged (the job's wins). Jobs without ``job_type`` come back unchanged.
    """
    name = job.metadata.get("job_type")
    if not name:
        return job
    where = f"job {job.name!r} (job_type={name!r})"
    preset = job_kwargs(get_config().job_config(str(name)), where)
    fields, rest = Resources.split_kwargs(preset)
    resources = job.resources.layered_over(Resources(**fields)) if fields else job.resources
    changes: dict[str, Any] = {
        "resources": resources,
        "metadata": {k: v for k, v in job.metadata.items() if k != "job_type"} | {"config_preset": name},
    }
    if rest.get("modules"):
        changes["modules"] = list(dict.fromkeys([*rest["modules"], *job.modules]))
    if rest.get("setup"):
        changes["setup"] = [*rest["setup"], *job.setup]
    env = {**dict(rest.get("env") or {}), **dict(rest.get("env_vars") or {})}
    if env:
        changes["env"] = {**env, **job.env}
    for key in ("workdir", "stdout", "python"):
        if rest.get(key) is not None and getattr(job, key) is None:
            changes[key] = rest[key]
    if rest.get("host") and job.host == "local":
        changes["host"] = rest["host"]
    if "stderr" in rest and job.stderr == SEPARATE:
        changes["stderr"] = rest["stderr"]
    return rebuild(job, **changes)


def rebuild(job: Job, **changes: Any) -> Job:
    """A copy of ``job`` with ``changes`` (the constructor's keywords)."""
    fields: dict[str, Any] = {
        "tasks": job.tasks,
        "name": job.name,
        "resources": job.resources,
        "host": job.host,
        "after": list(job.depends),
        "array": job.array,
        "env": job.env,
        "workdir": job.workdir,
        "stdout": job.stdout,
        "stderr": job.stderr,
        "modules": job.modules,
        "setup": job.setup,
        "inputs": job.inputs,
        "outputs": job.outputs,
        "ensure": job.ensure,
        "retry": job.retry,
        "waitfor": job.waitfor,
        "python": job.python,
        "scheduler_args": job.scheduler_args,
        "metadata": job.metadata,
    }
    fields.update(changes)
    return Job(**fields)


# ====================================================================== schedulers
class LedgerScheduler:
    """hpc-runner's scheduler object: a name that resolves to a host alias.

    ``submit(job)`` returns a :class:`JobResult`; ``submit_array(array)`` an
    :class:`ArrayJobResult`. The alias is looked up in the project's ``jobledger.toml``
    when something is submitted (``local`` needs no configuration).
    """

    def __init__(self, name: str, host: str | None = None) -> None:
        self.name = name
        self.host = host

    def alias(self, project: Project) -> str:
        """The host alias jobs go to."""
        if self.host is not None:
            return self.host
        try:
            return resolve_backend(self.name, None, load_project_config(project.root))
        except ConfigError as exc:
            raise ConfigError(
                f"scheduler {self.name!r}: {exc}\n(or set HPC_SCHEDULER=local to run jobs here)"
            ) from None

    def submit(self, job: Job, interactive: bool = False) -> JobResult:
        """Submit ``job``; ``interactive`` is accepted and ignored (jobs run in batch)."""
        del interactive
        return submit_job(job, self)

    def submit_array(self, array: JobArray) -> ArrayJobResult:
        """Submit a :class:`JobArray`."""
        return array.submit(self)

    def cancel(self, result: JobResult | ArrayJobResult) -> bool:
        """Cancel a submitted job."""
        return result.cancel()

    def get_status(self, result: JobResult | ArrayJobResult) -> JobStatus:
        """Current status of a submitted job."""
        return result.status

    def __repr__(self) -> str:
        return f"LedgerScheduler({self.name!r}" + (f", host={self.host!r})" if self.host else ")")


def detect_scheduler_name() -> str:
    """``$HPC_SCHEDULER``, else what is on this machine's PATH (sbatch, qsub, bsub), else local."""
    from jobledger.hosts.local import LocalHost
    from jobledger.schedulers.detect import PROBE, classify

    forced = os.environ.get("HPC_SCHEDULER")
    if forced:
        return forced.strip().lower()
    # this process's PATH as it is now (plumbum's environment is a copy taken at import)
    probe = LocalHost().run(["sh", "-c", PROBE], env={"PATH": os.environ.get("PATH", "")})
    found = classify(probe.stdout + probe.stderr)
    return "pbs" if found == "torque" else found


def get_scheduler(name: str | None = None) -> Any:
    """The scheduler called ``name`` (detected when ``None``): ``local``, ``slurm``,
    ``sge``, ``pbs``, ``lsf`` or one added with :func:`register_scheduler`."""
    chosen = (name or detect_scheduler_name()).lower()
    custom = settings.schedulers.get(chosen)
    if custom is not None:
        if isinstance(custom, str) and ":" in custom:
            module, _, attr = custom.partition(":")
            return getattr(importlib.import_module(module), attr)()
        if isinstance(custom, str):
            return LedgerScheduler(chosen, host=custom)
        return custom()
    if chosen in BUILTIN_SCHEDULERS:
        return LedgerScheduler(chosen)
    raise ConfigError(f"unknown scheduler {chosen!r}; known: {', '.join(list_schedulers())}")


def register_scheduler(name: str, target: str | Callable[[], Any]) -> None:
    """Add a scheduler name: a host alias (``"cluster"``), an import path
    (``"pkg.mod:Class"``) or a factory returning an object with ``submit(job)``."""
    if not name or not isinstance(name, str):
        raise ModelError(f"a scheduler name must be a non-empty string, not {name!r}")
    settings.schedulers[name.lower()] = target


def list_schedulers() -> list[str]:
    """Every scheduler name :func:`get_scheduler` accepts."""
    return sorted({*BUILTIN_SCHEDULERS, *settings.schedulers})


# ====================================================================== submission
def _scheduler_of(scheduler: Any) -> Any:
    if scheduler is None or isinstance(scheduler, str):
        return get_scheduler(scheduler)
    return scheduler


def _check_job(job: Any) -> Job:
    if not isinstance(job, Job):
        raise ModelError(f"expected a jobledger Job, not {type(job).__name__}")
    if job.metadata.get("dependency"):
        raise ModelError(
            f"job {job.name!r}: raw scheduler dependency strings are not supported; "
            "use job.dependencies = [result] or job.after(result)"
        )
    return apply_job_type(job)


def _choose(job: Job, scheduler: Any) -> Any:
    """The scheduler object to use; ``None`` when the job's own ``host=`` decides."""
    if scheduler is None and job.host != "local":
        return None
    return _scheduler_of(scheduler)


def _place(job: Job, chosen: LedgerScheduler | None, project: Project) -> tuple[Job, str]:
    """The job on the chosen scheduler's host, and the scheduler's name."""
    if chosen is None:
        return job, job.host
    alias = chosen.alias(project)
    if alias != job.host:
        job = rebuild(job, host=alias)
    return job, chosen.name


def _ours(chosen: Any) -> LedgerScheduler | None:
    if chosen is not None and not isinstance(chosen, LedgerScheduler):
        raise ModelError(f"scheduler {chosen!r} is not a jobledger scheduler")
    return chosen


def _run_alone(job: Job, project: Project, force: bool) -> RunHandle:
    key = Workflow([job], name="_").keys()[job.name]
    handle: RunHandle = run(Workflow([job], name=f"{job.name}-{key[:8]}"), project=project.root, force=force)
    return handle


def submit_job(job: Job, scheduler: Any = None, *, force: bool = False) -> JobResult:
    """``Job.submit()``: run ``job`` as its own small workflow; returns a :class:`JobResult`.

    ``scheduler`` is a name, a scheduler object, or ``None`` (the job's own ``host=``
    if it set one, else detected). Upstream jobs in ``job.dependencies`` that were
    submitted already are recognised by key and not submitted again. A job whose key
    already completed is reused, not re-run, unless ``force=True``.
    """
    job = _check_job(job)
    chosen = _choose(job, scheduler)
    if chosen is not None and not isinstance(chosen, LedgerScheduler):
        result: JobResult = chosen.submit(job)  # a scheduler the user registered
        return result
    project = project_for(None, create=True)
    prepared, name = _place(job, chosen, project)
    return JobResult(prepared, _run_alone(prepared, project, force), name)


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


# ====================================================================== pipelines
class PipelineError(ModelError, ValueError):
    """A pipeline step is defined twice, or depends on a step that does not exist."""


@attrs.define
class PipelineJob:
    """One step of a :class:`Pipeline`."""

    name: str
    job: Job
    depends_on: tuple[str, ...]
    result: JobResult | None = None


class Pipeline:
    """Named steps with dependencies by name; one workflow named after the pipeline.

    ``with Pipeline("ml") as p:`` submits on leaving the block (when no exception
    escaped and it was not submitted yet); ``p.submit()`` afterwards returns the same
    results without submitting twice.
    """

    def __init__(self, name: str = "pipeline") -> None:
        if not isinstance(name, str) or not name.strip():
            raise PipelineError(f"a pipeline name must be a non-empty string, got {name!r}")
        self.name = name
        self._steps: dict[str, PipelineJob] = {}
        self._results: dict[str, JobResult] = {}
        self._handle: RunHandle | None = None

    def add(
        self,
        command: Any,
        name: str | None = None,
        depends_on: Sequence[str | PipelineJob] | None = None,
        **job_kwargs: Any,
    ) -> PipelineJob:
        """Add a step; the job is named ``<pipeline>_<name>``."""
        if self._handle is not None:
            raise PipelineError(f"pipeline {self.name!r} was submitted; create a new one to add steps")
        step = name or f"step_{len(self._steps) + 1}"
        if step in self._steps:
            raise PipelineError(f"pipeline {self.name!r} already has a step named {step!r}")
        deps: list[str] = []
        for dep in depends_on or ():
            dep_name = dep.name if isinstance(dep, PipelineJob) else str(dep)
            if dep_name not in self._steps:
                raise PipelineError(f"step {step!r} depends on unknown step {dep_name!r}")
            deps.append(dep_name)
        job = Job(command, name=f"{self.name}_{step}", **job_kwargs)
        entry = PipelineJob(step, job, tuple(deps))
        self._steps[step] = entry
        return entry

    @property
    def jobs(self) -> list[PipelineJob]:
        """The steps in the order they were added."""
        return list(self._steps.values())

    def get_job(self, name: str) -> PipelineJob | None:
        """The step called ``name`` (``None`` when there is none)."""
        return self._steps.get(name)

    @property
    def results(self) -> dict[str, JobResult]:
        """``{step: JobResult}`` once submitted (empty before)."""
        return dict(self._results)

    @property
    def submitted(self) -> bool:
        """True once :meth:`submit` ran."""
        return self._handle is not None

    def to_workflow(self, host: str = "local", dependency_type: str = "afterok") -> Workflow:
        """The pipeline as a jobledger :class:`~jobledger.Workflow`."""
        built: dict[str, Job] = {}
        for step in self._steps.values():
            job = apply_job_type(step.job)
            deps = [Dependency(built[d], dependency_type) for d in step.depends_on]
            changes: dict[str, Any] = {"after": [*job.depends, *deps]}
            if job.host == "local" and host != "local":
                changes["host"] = host
            built[step.name] = rebuild(job, **changes)
        return Workflow(list(built.values()), name=self.name)

    def submit(
        self, scheduler: Any = None, dependency_type: str = "afterok", *, force: bool = False
    ) -> dict[str, JobResult]:
        """Submit every step (once); returns ``{step: JobResult}``."""
        if self._handle is not None:
            return dict(self._results)
        if not self._steps:
            raise PipelineError(f"pipeline {self.name!r} has no steps")
        project = project_for(None, create=True)
        chosen = _ours(_scheduler_of(scheduler))
        assert chosen is not None
        workflow = self.to_workflow(chosen.alias(project), dependency_type)
        handle: RunHandle = run(workflow, project=project.root, force=force)
        self._handle = handle
        for step in self._steps.values():
            result = JobResult(workflow[f"{self.name}_{step.name}"], handle, chosen.name)
            step.result = result
            self._results[step.name] = result
        return dict(self._results)

    def wait(self, poll_interval: float = 5.0, timeout: float | None = None) -> dict[str, JobStatus]:
        """Block until every step ended; returns ``{step: JobStatus}``."""
        del poll_interval
        if self._handle is None:
            raise PipelineError(f"pipeline {self.name!r} was not submitted")
        wait(self._handle, timeout=timeout, progress=False)
        states = check(self._handle)
        return {
            s: JobStatus.from_state(states.get(r.job.name, JobState.PENDING))
            for s, r in self._results.items()
        }

    def _jobledger_selection(self) -> Selection:
        if self._handle is None:
            raise PipelineError(f"pipeline {self.name!r} was not submitted")
        return self._handle._jobledger_selection()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None and self._handle is None and self._steps:
            self.submit()

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[PipelineJob]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self)} steps{', submitted' if self.submitted else ''})"


__all__ = [
    "BUILTIN_SCHEDULERS",
    "ArrayJobResult",
    "JobArray",
    "JobResult",
    "JobStatus",
    "LedgerScheduler",
    "Pipeline",
    "PipelineError",
    "PipelineJob",
    "RunnerConfig",
    "RunnerSettings",
    "apply_job_type",
    "detect_scheduler_name",
    "get_config",
    "get_scheduler",
    "job_from_config",
    "job_kwargs",
    "list_schedulers",
    "load_config",
    "merge_settings",
    "rebuild",
    "register_scheduler",
    "reload_config",
    "settings",
    "submit_job",
]
