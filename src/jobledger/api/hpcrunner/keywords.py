"""The keys of a job table — a configuration table or a Job's keywords — sorted into
hpc-runner's Job fields and jobledger's own job keywords.

hpc-runner's keys (``cpu``, ``mem``, ``queue``, ``modules_path``, ``resources`` ...) are
the face's fields; jobledger's spellings of the same things (``cpus``, ``memory``,
``partition``, ``env``) land on those fields too; jobledger's other resources (``gpus``,
``account`` ...) and job settings (``setup``, ``python``, ``retries`` ...) are carried to
the jobledger Job unchanged. Anything else is an error naming where it was found.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from jobledger.errors import ConfigError, JobledgerError, ModelError, ResourceError
from jobledger.model.names import env_name_problem
from jobledger.model.resources import Resources

#: hpc-runner's single-valued fields.
SCALARS = (
    "name",
    "cpu",
    "mem",
    "time",
    "queue",
    "priority",
    "nodes",
    "tasks",
    "stdout",
    "stderr",
    "inherit_env",
    "workdir",
    "shell",
    "use_cwd",
    "venv",
    "host",
)
#: Fields holding ``{VAR: value}`` tables.
MAPPINGS = ("env_vars", "env_prepend", "env_append")
#: Fields holding lists of module names or paths (``$VAR`` expanded, unset is an error).
MODULE_LISTS = ("modules", "modules_path", "modules_path_append")
#: ``extra_<field>`` appends to ``<field>`` instead of replacing it.
EXTRA_LISTS = {f"extra_{name}": name for name in MODULE_LISTS}
#: Raw scheduler arguments.
ARGS = ("raw_args", "sge_args", "slurm_args", "pbs_args")
FIELDS = frozenset({*SCALARS, *MAPPINGS, *MODULE_LISTS, *EXTRA_LISTS, *ARGS, "resources"})
#: Keys read elsewhere: the command comes from the caller, ``options`` are a tool's
#: specialisations, ``scheduler`` (in ``[defaults]``) is read by scheduler detection.
IGNORED = frozenset({"command", "options", "scheduler"})
#: jobledger's resource names that are hpc-runner fields.
RESOURCE_FIELDS = {
    "cpus": "cpu",
    "memory": "mem",
    "time": "time",
    "partition": "queue",
    "nodes": "nodes",
    "tasks": "tasks",
}
#: jobledger's job keywords carried over unchanged.
JOB_EXTRAS = frozenset(
    {
        "setup",
        "python",
        "retries",
        "retry_on",
        "backoff",
        "escalate",
        "retry",
        "inputs",
        "outputs",
        "ensure",
        "waitfor",
        "metadata",
        "array",
        "max_concurrent",
        "scheduler_args",
        "lsf_args",
        "torque_args",
        "local_args",
    }
)


def split_keys(
    table: Mapping[str, Any], where: str, error: type[JobledgerError] = ModelError
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(fields, extras)``: hpc-runner fields and jobledger keywords of ``table``."""
    fields: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in table.items():
        if key in IGNORED:
            continue
        if key in FIELDS:
            fields[key] = value
            continue
        if key == "env":
            if not isinstance(value, Mapping):
                raise error(f"{where}: env must be a table of names to values, not {value!r}")
            fields["env_vars"] = {**value, **dict(fields.get("env_vars") or {})}
            continue
        canonical = Resources.canonical_name(key)
        if canonical in RESOURCE_FIELDS:
            fields[RESOURCE_FIELDS[canonical]] = value
        elif canonical is not None:
            extras[canonical] = value
        elif key in JOB_EXTRAS:
            extras[key] = value
        else:
            raise error(
                f"{where}: unknown key {key!r} "
                "(not an hpc-runner job field, a resource or a jobledger job setting)"
            )
    return fields, extras


def check_table(table: Mapping[str, Any], where: str) -> None:
    """Refuse what a job table cannot mean, naming ``where`` and the key."""
    from jobledger.api.hpcrunner.resources import ResourceSet

    fields, extras = split_keys(table, where, ConfigError)
    for key in (*MODULE_LISTS, *EXTRA_LISTS, *ARGS):
        value = fields.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: {key} must be a list of strings, not {value!r}")
    for key in MAPPINGS:
        value = fields.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {key} must be a table of names to values, not {value!r}")
    try:
        ResourceSet.of(fields.get("resources"), where)
        requested = {k: fields[v] for k, v in RESOURCE_FIELDS.items() if fields.get(v) is not None}
        Resources(**requested, **{k: v for k, v in extras.items() if Resources.canonical_name(k) == k})
    except (ModelError, ResourceError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def env_setup(prepend: Mapping[str, Any], append: Mapping[str, Any], where: str) -> list[str]:
    """``export`` lines putting ``prepend`` values before, ``append`` values after, what
    each variable holds when the job starts."""
    lines = []
    for key, table in (("env_prepend", prepend), ("env_append", append)):
        for var, text in table.items():
            problem = env_name_problem(var)
            if problem is not None:
                raise ModelError(f"{where}: {key}: {problem}")
            new = shlex.quote(str(text))
            joined = f'{new}"${{{var}:+:${var}}}"' if key == "env_prepend" else f'"${{{var}:+${var}:}}"{new}'
            lines.append(f"export {var}={joined}")
    return lines
