"""Value checks for ``jobledger.toml``: every key of a job table, of a ``[hosts.NAME]``
table (with its ``env`` and ``retry`` tables) and of ``[schedulers.NAME]`` settings, each
failing with a :class:`~jobledger.errors.ConfigError` naming the file, table and key.

The loader (:mod:`jobledger.config`) calls these at load time, so ``jobledger hosts``
and a run see the same errors: nothing wrong in the file is found only when a job runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from jobledger.errors import ConfigError, JobledgerError, ModelError, ResourceError
from jobledger.model.names import check_env, check_name, check_text
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy

RETRY_KEYS = ("retries", "retry_on", "backoff", "escalate")
JOB_KEYS = ("modules", "setup", "env", "host", "python", "workdir", *RETRY_KEYS)
_OPTIONS_LIKE = {"options", "args", "raw_args", "command", "name", "cpu_bind", "queue_args"}

HOST_KEYS = {
    "ssh",
    "host",
    "user",
    "port",
    "identity_file",
    "ssh_config",
    "ssh_options",
    "scheduler",
    "workdir",
    "python",
    "max_in_flight",
    "max_parallel",
    "setup",
    "modules",
    "env",
    "resources",
    "limits",
    "retry",
    "template",
    "accounting",
    "poll_interval",
    "connect_timeout",
    "command_timeout",
    "flavor",
    "parallel_environment",
    "description",
}

Fail = Callable[[str, str, str], ConfigError]
"""``fail(table, key, message)``: the error naming the file that set ``table.key``."""


def strings(value: Any, table: str, key: str, fail: Fail) -> tuple[str, ...]:
    """A string or a list of strings, none holding a NUL byte."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(table, key, f"expected a list of strings, got {value!r}")
    for item in value:
        if "\x00" in item:
            raise fail(table, key, f"{item!r} contains a NUL byte")
    return tuple(value)


def text(value: Any, table: str, key: str, fail: Fail) -> str:
    """A non-empty string with no NUL byte."""
    if not isinstance(value, str) or not value:
        raise fail(table, key, f"expected a non-empty string, got {value!r}")
    try:
        return check_text(value, key)
    except ModelError as exc:
        raise fail(table, key, str(exc)) from None


def env_table(value: Any, table: str, fail: Fail) -> dict[str, str]:
    """An ``env`` table: names ``[A-Za-z_][A-Za-z0-9_]*``; strings as they are, TOML
    integers and floats as their decimal text; anything else is refused."""
    if not isinstance(value, Mapping):
        raise fail(table, "env", f"expected a table of NAME = value, got {value!r}")
    for name, item in value.items():
        try:
            check_env({name: item})
        except ModelError as exc:
            raise fail(f"{table}.env", str(name), str(exc)) from None
    return check_env(value)


def retry_table(value: Mapping[str, Any], table: str, fail: Fail, *, only_retry: bool) -> None:
    """The retry keys of ``value`` (``retries``, ``retry_on``, ``backoff``, ``escalate``)."""
    if only_retry:
        for key in value:
            if key not in RETRY_KEYS:
                raise fail(table, key, f"unknown key (use {', '.join(RETRY_KEYS)})")
    for key in RETRY_KEYS:
        if key in value:
            try:
                RetryPolicy.build(**{key: value[key]})
            except (ModelError, TypeError, ValueError) as exc:
                message = str(exc)
                raise fail(table, key, message.removeprefix(f"{key}: ")) from None


def job_table(table: Mapping[str, Any], where: str, fail: Fail) -> None:
    """A ``[defaults]``, ``[types.NAME]`` or ``[tools.NAME]`` table: resources, job
    settings (``modules``, ``setup``, ``env``, ``host`` ...) and retry keys."""
    res, rest = Resources.split_kwargs({k: v for k, v in table.items() if k not in JOB_KEYS})
    for key in rest:
        if key not in _OPTIONS_LIKE and not key.endswith("_args"):
            raise fail(where, key, "unknown key (not a resource or job setting)")
        if key.endswith("_args") or key in ("options", "args"):
            for item in strings(rest[key], where, key, fail):
                if "\n" in item or "\r" in item:
                    raise fail(where, key, f"{item!r}: a raw directive must be one line")
    try:
        Resources(**res)
    except ResourceError as exc:
        raise fail(where, exc.field, str(exc)) from None
    except (JobledgerError, TypeError, ValueError) as exc:
        raise fail(where, next(iter(res), ""), str(exc)) from None
    for key in ("modules", "setup"):
        if key in table:
            strings(table[key], where, key, fail)
    for key in ("python", "workdir"):
        if key in table:
            text(table[key], where, key, fail)
    if "host" in table:
        host = table["host"]
        try:
            check_name(host, "host name")
        except ModelError as exc:
            raise fail(where, "host", str(exc)) from None
    if "env" in table:
        env_table(table["env"], where, fail)
    retry_table(table, where, fail, only_retry=False)


#: Schedulers the ``scheduler`` setting and ``[schedulers.NAME]`` tables may name (each has
#: an adapter in :mod:`jobledger.schedulers.registry`; ``local`` has none).
SCHEDULER_NAMES = ("local", "slurm", "sge", "pbs", "torque", "lsf")


def scheduler_settings(name: str, settings: Any, fail: Fail) -> dict[str, Any]:
    """A ``[schedulers.NAME]`` table: a known scheduler, settings that are one-line text or
    true/false. Whether its adapter takes them is checked where adapters live
    (:func:`jobledger.schedulers.registry.check_settings`), by every command that reads the
    configuration to act."""
    if not isinstance(settings, Mapping):
        raise fail("schedulers", name, f"expected a table, got {settings!r}")
    if name not in SCHEDULER_NAMES[1:]:
        raise fail("schedulers", name, f"unknown scheduler (use {', '.join(SCHEDULER_NAMES[1:])})")
    table = f"schedulers.{name}"
    for key, value in settings.items():
        if isinstance(value, bool):
            continue
        if not isinstance(value, str) or not value or "\n" in value or "\x00" in value:
            raise fail(table, key, f"expected a one-line string or true/false, got {value!r}")
    return dict(settings)


def host_values(name: str, table: Mapping[str, Any], fail: Fail) -> dict[str, Any]:
    """The fields of a ``HostConfig`` from one ``[hosts.NAME]`` table, every key checked."""
    where = f"hosts.{name}"
    for key in table:
        if key not in HOST_KEYS:
            raise fail(where, key, f"unknown key (valid: {', '.join(sorted(HOST_KEYS))})")
    values: dict[str, Any] = {"name": name}
    ssh = table.get("ssh", table.get("host"))
    if ssh is not None:
        if not isinstance(ssh, str) or not ssh.strip() or ssh.startswith("-") or _unsafe_word(ssh):
            raise fail(where, "ssh", f"expected 'user@host' or an ssh alias, got {ssh!r}")
        user = table.get("user")
        if user is not None and (not isinstance(user, str) or not user or user.startswith("-")
                                 or "@" in user or _unsafe_word(user)):  # fmt: skip
            raise fail(where, "user", f"expected a user name, got {user!r}")
        values["ssh"] = f"{user}@{ssh}" if user and "@" not in ssh else ssh
    for key in (
        "identity_file",
        "ssh_config",
        "workdir",
        "python",
        "accounting",
        "flavor",
        "parallel_environment",
        "description",
    ):
        if key in table:
            value = text(table[key], where, key, fail)
            if key == "description":
                continue
            values[key] = os.path.expanduser(value) if key in ("identity_file", "ssh_config") else value
    scheduler = table.get("scheduler", "auto" if ssh is not None else "local")
    if scheduler not in (*SCHEDULER_NAMES, "auto"):
        raise fail(where, "scheduler", f"{scheduler!r} is not one of {', '.join((*SCHEDULER_NAMES, 'auto'))}")
    values["scheduler"] = scheduler
    for key in ("port", "max_in_flight", "max_parallel"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail(where, key, f"expected a positive whole number, got {value!r}")
            values[key] = value
    for key in ("poll_interval", "connect_timeout", "command_timeout"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise fail(where, key, f"expected a positive number of seconds, got {value!r}")
            values[key] = float(value)
    for key in ("ssh_options", "setup", "modules"):
        if key in table:
            values[key] = strings(table[key], where, key, fail)
    if "env" in table:
        values["env"] = env_table(table["env"], where, fail)
    for key in ("retry", "template"):
        if key in table:
            if not isinstance(table[key], Mapping):
                raise fail(where, key, f"expected a table, got {table[key]!r}")
            values[key] = {str(k): v for k, v in table[key].items()}
    if "retry" in values:
        retry_table(values["retry"], f"{where}.retry", fail, only_retry=True)
    for key in ("resources", "limits"):
        if key in table:
            if not isinstance(table[key], Mapping):
                raise fail(where, key, f"expected a table of resources, got {table[key]!r}")
            try:
                values[key] = Resources.from_kwargs(**dict(table[key]))
            except (JobledgerError, TypeError, ValueError) as exc:
                raise fail(f"{where}.{key}", getattr(exc, "field", ""), str(exc)) from None
    if "template" in values:
        for key, value in values["template"].items():
            if key not in ("header", "epilogue"):
                raise fail(f"{where}.template", key, "unknown key (use header, epilogue)")
            text(value, f"{where}.template", key, fail)
    return values


def _unsafe_word(value: str) -> bool:
    """True when ``value`` holds whitespace, a control character or a NUL byte."""
    return any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in value)
