"""hyrun's tasks: RunSettings (hyset) objects or dicts of their fields, read as jobledger tasks.

Only the fields that say what runs, where and with what are read; any object or mapping
that has a ``program`` is taken as RunSettings. What each field becomes:

- ``program``, ``args``, ``launcher``, ``pre_cmd``/``post_cmd`` (shell lines around it),
  ``conda_env`` (``conda run -n ENV``), ``env_vars``, ``work_dir_local`` (the task's
  working directory);
- ``scheduler`` (a name, or an object with ``scheduler_type``) and ``connection`` (its
  ``host``): the jobledger host — ``local``; ``slurm``/``pbs``/``sge``/``lsf`` on this
  machine (no configuration needed on a login node); a ``connection.host`` names a host of
  ``jobledger.toml``;
- ``ntasks``, ``cpus_per_task``, ``memory_per_cpu``, ``job_time``, ``slurm_account``,
  ``qos_devel``, ``modules`` and ``slurm_extra`` (of the scheduler): resources;
- ``output_file``, ``files_to_parse``: what :class:`~jobledger.api.hyrun.Output` points at;
- ``wait``, ``dry_run``, ``rerun``, ``force_recompute``: flags of ``run`` (one task setting
  a flag sets it for the run).
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import ModelError
from jobledger.model.task import Task

FLAGS = ("wait", "dry_run", "rerun", "force_recompute")
_CLUSTERS = ("slurm", "pbs", "torque", "sge", "lsf")


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for a mapping, else ``obj.name``; ``default`` when absent or None."""
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return default if value is None else value


def is_settings(obj: Any) -> bool:
    """True for a RunSettings object or a mapping of its fields (it has a ``program``)."""
    if isinstance(obj, Mapping):
        return "program" in obj
    return not isinstance(obj, (str, bytes, Task)) and getattr(obj, "program", None) is not None


@attrs.frozen
class TaskSettings:
    """One hyrun task read: the jobledger task and what it asks of its job."""

    task: Task
    host: str
    resources: dict[str, Any]
    modules: tuple[str, ...]
    scheduler_args: tuple[str, ...]
    workdir: str | None
    output_file: str | None
    files_to_parse: tuple[str, ...]
    flags: dict[str, bool]


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _time(value: Any) -> Any:
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        return f"{days}-{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return value


def host_of(rs: Any) -> str:
    """The jobledger host a RunSettings' ``connection`` and ``scheduler`` name."""
    scheduler = field(rs, "scheduler")
    kind = scheduler if isinstance(scheduler, str) else field(scheduler, "scheduler_type", "local")
    kind = str(kind).lower()
    connection = field(rs, "connection")
    remote = field(connection, "host") if connection is not None else None
    if remote not in (None, "", "localhost"):
        return str(remote)
    if kind in ("local", "conda"):
        return "local"
    if kind in _CLUSTERS:
        return kind
    raise ModelError(
        f"scheduler {kind!r}: use local, slurm, pbs, sge or lsf (a container runs as the "
        "task's launcher, e.g. launcher=['apptainer', 'exec', 'image.sif'])"
    )


def read_task(rs: Any) -> TaskSettings:
    """The jobledger task a RunSettings describes, and what it asks of its job."""
    program = field(rs, "program")
    if not program:
        raise ModelError(f"a RunSettings needs a program, got {rs!r}")
    argv = [*_words(field(rs, "launcher")), str(program), *_words(field(rs, "args"))]
    conda = field(rs, "conda_env")
    if conda:
        argv = ["conda", "run", "-n", str(conda), *argv]
    pre, post = _lines(field(rs, "pre_cmd")), _lines(field(rs, "post_cmd"))
    command: str | list[str] = "\n".join([*pre, shlex.join(argv), *post]) if pre or post else argv
    workdir = field(rs, "work_dir_local")
    workdir_text = str(Path(workdir)) if workdir else None
    task = Task(command, env=field(rs, "env_vars"), cwd=workdir_text)
    scheduler = field(rs, "scheduler")
    on_scheduler = (
        (lambda name: field(scheduler, name)) if not isinstance(scheduler, str) else (lambda _n: None)
    )
    resources = {
        "tasks": field(rs, "ntasks"),
        "cpus": field(rs, "cpus_per_task"),
        "memory_per_cpu": field(rs, "memory_per_cpu"),
        "time": _time(field(rs, "job_time")),
        "account": on_scheduler("slurm_account"),
        "qos": "devel" if on_scheduler("qos_devel") else None,
    }
    parse = field(rs, "files_to_parse", [])
    return TaskSettings(
        task=task,
        host=host_of(rs),
        resources={k: v for k, v in resources.items() if v is not None},
        modules=tuple(_lines(on_scheduler("modules"))),
        scheduler_args=tuple(_lines(on_scheduler("slurm_extra"))),
        workdir=workdir_text,
        output_file=str(field(rs, "output_file")) if field(rs, "output_file") else None,
        files_to_parse=tuple(str(p) for p in ([parse] if isinstance(parse, (str, Path)) else parse)),
        flags={flag: bool(field(rs, flag, False)) for flag in FLAGS},
    )


def same_job(tasks: Sequence[TaskSettings], where: str) -> TaskSettings | None:
    """The first task's job-level settings; every task of a job must name one host."""
    if not tasks:
        return None
    hosts = sorted({t.host for t in tasks})
    if len(hosts) > 1:
        raise ModelError(f"{where}: the tasks of one job must run on one host, got {', '.join(hosts)}")
    return tasks[0]
