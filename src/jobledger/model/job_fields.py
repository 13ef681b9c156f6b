"""The checks and conversions of :class:`~jobledger.model.job.Job`'s fields: tasks,
default name, resources, retry policy, paths and raw scheduler directives."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import ModelError, ResourceError
from jobledger.model.names import (
    check_env,
    check_name,
    check_path,
    check_texts,
    control_char,
    describe_char,
    safe_name,
)
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.model.task import Task

# Sentinel meaning "stderr to its own file" (``stderr=None`` writes it into the stdout file).
SEPARATE = "<separate>"


def _checked_change(field: str, value: Any, where: str) -> Any:
    """A replaced field of :meth:`Job.with_changes`, held to the rules of ``__init__``."""
    if field == "name":
        return check_name(value, "job name")
    if field == "host":
        return check_name(value, "host name", where)
    if field == "env":
        return check_env(value, where)
    if field in ("workdir", "stdout") and value is not None:
        return check_path(value, field, where)
    if field == "stderr" and value not in (None, SEPARATE):
        return check_path(value, field, where)
    if field in ("modules", "setup"):
        return check_texts(value, field, where)
    if field in ("inputs", "outputs"):
        return tuple(check_path(p, f"{field} item", where) for p in _listed(value, field, where))
    if field == "scheduler_args":
        return {k: _raw_args(v, k, where) for k, v in dict(value).items()}
    if field == "tasks":
        return _tasks(None, value, (), None)
    return value


def _listed(value: Any, field: str, where: str) -> tuple[Any, ...]:
    """A path or a sequence of paths as a tuple."""
    if isinstance(value, (str, os.PathLike)):
        return (value,)
    if not isinstance(value, Iterable) or isinstance(value, (bytes, Mapping)):
        raise ModelError(f"{where}: {field} must be a list of paths, not {value!r}")
    return tuple(value)


def _raw_args(value: Any, field: str, where: str) -> tuple[str, ...]:
    """Raw scheduler directives: one-line strings (a newline would end the directive line
    of the batch script and start a shell command)."""
    items = check_texts(value, field, where)
    for item in items:
        bad = control_char(item.replace("\t", " "))
        if bad is not None:
            raise ModelError(f"{where}: {field} item {item!r} contains {describe_char(bad)}")
    return items


def _tasks(command: Any, tasks: Any, args: Sequence[Any], kwargs: Any) -> tuple[Task, ...]:
    if command is not None and tasks is not None:
        raise ModelError("give either command= or tasks=, not both")
    if command is not None:
        return (command if isinstance(command, Task) else Task(command, args=args, kwargs=kwargs),)
    if tasks is None:
        raise ModelError("a job needs a command= or tasks=")
    out = tuple(t if isinstance(t, Task) else Task(t) for t in tasks)
    if not out:
        raise ModelError("a job needs at least one task")
    return out


def _default_name(tasks: tuple[Task, ...]) -> str:
    first = tasks[0]
    if first.func is not None:
        return str(getattr(first.func, "__name__", "call"))
    word = first.argv[0] if first.argv else (first.shell or "job").split()[0]
    label = " && ".join(t.label for t in tasks)
    short = hashlib.blake2b(label.encode(), digest_size=3).hexdigest()
    return f"{safe_name(Path(word).name, 20)}-{short}"


_RESOURCE_CACHE: dict[tuple[tuple[str, str, Any], ...], Resources] = {}


def _cached_resources(fields: dict[str, Any]) -> Resources:
    """Identical requests share one (immutable) Resources: workflows repeat them a lot."""
    try:
        signature = tuple(sorted((k, type(v).__name__, v) for k, v in fields.items()))
        found = _RESOURCE_CACHE.get(signature)
    except TypeError:  # unhashable values (lists of extra directives)
        return Resources(**fields)
    if found is None:
        found = Resources(**fields)
        if len(_RESOURCE_CACHE) < 4096:
            _RESOURCE_CACHE[signature] = found
    return found


def _resources(value: Resources | Mapping[str, Any] | None) -> Resources:
    if value is None:
        return Resources()
    if isinstance(value, Resources):
        return value
    if isinstance(value, Mapping):
        return Resources.from_kwargs(**value)
    raise ModelError(f"resources must be a Resources or a dict, not {type(value).__name__}")


_Signature = tuple[tuple[tuple[str, Any], ...], tuple[type, ...]]
_BY_KEYWORDS: dict[_Signature, Resources] = {}
"""Resources of plain resource keywords (``cpus=1, memory="4G"``) seen before, by the
keywords, their values and their types: jobs of a workflow repeat them a lot."""


def _signature(extra: Mapping[str, Any]) -> _Signature:
    """The cache key of keyword arguments (unhashable when a value is): the ``(keyword,
    value)`` pairs and the values' types (``cpus=1`` and ``cpus=True`` are equal values)."""
    return tuple(extra.items()), tuple(map(type, extra.values()))


_NO_RESOURCES = Resources()
_SCHEDULERS = ("slurm", "sge", "pbs", "torque", "lsf", "local")


def resources_and_directives(
    resources: Resources | Mapping[str, Any] | None,
    extra: dict[str, Any],
    scheduler_args: Mapping[str, Sequence[str]] | None,
    escalate: dict[str, Any],
    where: str,
) -> tuple[Resources, dict[str, tuple[str, ...]]]:
    """A job's resources (``resources=`` and the resource keywords among ``extra``) and
    raw scheduler directives (``scheduler_args=`` and ``<scheduler>_args=`` keywords).
    A callable resource value goes into ``escalate`` (its value at attempt 1 is used)."""
    signature = _signature(extra) if resources is None and extra else None
    try:
        known = _BY_KEYWORDS.get(signature) if signature is not None else None
    except TypeError:  # an unhashable value (a list of directives ...)
        signature = known = None
    if known is not None:  # the same resource keywords as an earlier job's
        sched_args = {k: _raw_args(v, k, where) for k, v in scheduler_args.items()} if scheduler_args else {}
        return known, sched_args
    res_kwargs, unknown = Resources.split_kwargs(extra)
    sched_args = {k: _raw_args(v, k, where) for k, v in (scheduler_args or {}).items()}
    for key in list(unknown):
        if key.endswith("_args") and key[:-5] in _SCHEDULERS:
            sched_args[key[:-5]] = _raw_args(unknown.pop(key), key, where)
    if unknown:
        raise ModelError(f"{where}: unknown keyword argument(s) {', '.join(sorted(unknown))}")
    plain = signature is not None and len(res_kwargs) == len(extra)
    for field, value in list(res_kwargs.items()):
        if callable(value):
            escalate[field] = value
            res_kwargs[field] = value(1)
            plain = False
    try:
        if resources is None:
            res = _cached_resources(res_kwargs) if res_kwargs else _NO_RESOURCES
        else:
            base = _resources(resources)
            res = base.merged(**res_kwargs) if res_kwargs else base
    except ResourceError as exc:
        raise ResourceError(exc.field, exc.value, exc.reason, context=where) from None
    if plain and signature is not None and len(_BY_KEYWORDS) < 4096:
        _BY_KEYWORDS[signature] = res
    return res, sched_args


def retry_policy_of(
    retry: RetryPolicy | None,
    retries: int | None,
    retry_on: Iterable[str] | None,
    backoff: Any,
    escalate: dict[str, Any],
    where: str,
) -> RetryPolicy:
    """A job's retry policy: ``retry=`` (with the escalations of callable resource values
    added), or one built from ``retries=``, ``retry_on=``, ``backoff=`` and ``escalate``."""
    try:
        policy = retry or RetryPolicy.build(
            retries=retries, retry_on=retry_on, backoff=backoff, escalate=escalate
        )
    except ModelError as exc:
        raise ModelError(f"{where}: {exc}") from None
    if retry is not None and escalate:
        policy = attrs.evolve(policy, escalate={**policy.escalate, **escalate})
    return policy
