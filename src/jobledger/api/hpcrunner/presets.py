"""Jobs from configured presets: ``Job.from_config``, ``job_type=`` and :func:`rebuild`."""

from __future__ import annotations

from typing import Any

from jobledger.api.hpcrunner.config import get_config
from jobledger.api.hpcrunner.keywords import job_kwargs
from jobledger.errors import ModelError
from jobledger.model.job import SEPARATE, Job
from jobledger.model.resources import Resources


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
