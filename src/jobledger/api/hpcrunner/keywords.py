"""A configuration table (hpc-runner or jobledger keys) translated into :class:`~jobledger.Job` keywords."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from jobledger.errors import ConfigError, ResourceError
from jobledger.model.names import env_name_problem
from jobledger.model.resources import Resources

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
                problem = env_name_problem(var)
                if problem is not None:
                    raise ConfigError(f"{where}: {key}: {problem}")
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
