"""From a yielded dict to a :class:`~jobledger.Job`: :func:`job_from_config`, dependencies,
scheduler flags, and :func:`portable` functions for Python-call jobs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.api.hamilton.hosts import _scheduler_of, resolve_host
from jobledger.errors import ModelError
from jobledger.model.job import Dependency, Job, JobRef, normalize_kind
from jobledger.model.resources import Resources
from jobledger.session.registry import session_for
from jobledger.session.selection import project_for

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


def _dep_target(target: Any, project: Any) -> Job | JobRef:
    if isinstance(target, (Job, JobRef)):
        return target
    inner = getattr(target, "job", None)
    if isinstance(inner, Job):
        return inner
    if isinstance(target, str):
        return _job_named(target, project)
    raise ModelError(f"a dependency is a JobInfo, a Job or a job name, not {target!r}")


def _job_named(name: str, project: Any) -> JobRef:
    """The latest job called ``name`` in the project's recorded workflows, by key."""
    session = session_for(project_for(project, create=False))
    session.ledger.refresh()
    state = session.state
    best: tuple[float, str] | None = None
    for info in state.workflows().values():
        for key in info.job_keys:
            job_info = state.job(key)
            if job_info is not None and job_info.name == name and (best is None or info.defined > best[0]):
                best = (info.defined, key)
    if best is not None:
        return JobRef(best[1], name)
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
