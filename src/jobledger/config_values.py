"""Value checks for ``jobledger.toml``: every key of a job table, a host's ``env`` and
``retry`` tables and ``[schedulers.NAME]`` settings, each failing with a
:class:`~jobledger.errors.ConfigError` that names the file, the table and the key.

The loader (:mod:`jobledger.config`) calls these at load time, so ``jobledger hosts``
and a run see the same errors: nothing wrong in the file is found only when a job runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from jobledger.errors import ConfigError, JobledgerError, ModelError, ResourceError
from jobledger.model.names import check_env, check_name, check_text
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy

RETRY_KEYS = ("retries", "retry_on", "backoff", "escalate")
JOB_KEYS = ("modules", "setup", "env", "host", "python", "workdir", *RETRY_KEYS)
_OPTIONS_LIKE = {"options", "args", "raw_args", "command", "name", "cpu_bind", "queue_args"}

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


def scheduler_settings(name: str, settings: Any, fail: Fail) -> dict[str, Any]:
    """A ``[schedulers.NAME]`` table: a known scheduler, settings its adapter takes, of
    the type it takes (text, or true/false where the default is a boolean)."""
    from jobledger.schedulers.registry import ADAPTERS, get_adapter

    if not isinstance(settings, Mapping):
        raise fail("schedulers", name, f"expected a table, got {settings!r}")
    if name not in ADAPTERS:
        raise fail("schedulers", name, f"unknown scheduler (use {', '.join(ADAPTERS)})")
    table = f"schedulers.{name}"
    try:
        adapter = get_adapter(name)
    except ConfigError as exc:  # pragma: no cover - registry names are importable
        raise fail(table, "", str(exc)) from None
    params = inspect.signature(type(adapter).__init__).parameters
    for key, value in settings.items():
        param = params.get(key)
        if param is None or param.kind is not param.KEYWORD_ONLY:
            valid = ", ".join(p.name for p in params.values() if p.kind is p.KEYWORD_ONLY) or "none"
            raise fail(table, key, f"unknown setting (valid: {valid})")
        if isinstance(param.default, bool):
            if not isinstance(value, bool):
                raise fail(table, key, f"expected true or false, got {value!r}")
        elif not isinstance(value, str) or not value or "\n" in value or "\x00" in value:
            raise fail(table, key, f"expected a one-line string, got {value!r}")
    try:
        get_adapter(name, **settings)
    except (JobledgerError, TypeError, ValueError) as exc:
        raise fail(table, "", str(exc)) from None
    return dict(settings)
