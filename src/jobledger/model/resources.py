"""What a job asks the scheduler for: :class:`Resources` (immutable)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from jobledger.errors import ResourceError
from jobledger.model.units import (
    format_duration,
    format_memory,
    parse_count,
    parse_duration,
    parse_memory,
)

#: Seed spellings accepted for each field (hpc-runner, awflow, hyrun, pysqa, Hamilton).
ALIASES: dict[str, str] = {
    "cpu": "cpus",
    "cpus_per_task": "cpus",
    "cores": "cpus",
    "n_cores": "cpus",
    "max_cores": "cpus",
    "mem": "memory",
    "ram": "memory",
    "memory_max": "memory",
    "mem_per_cpu": "memory_per_cpu",
    "memory_per_core": "memory_per_cpu",
    "queue": "partition",
    "walltime": "time",
    "timelimit": "time",
    "time_limit": "time",
    "run_time_max": "time",
    "job_time": "time",
    "gpu": "gpus",
    "node": "nodes",
    "ntasks": "tasks",
    "project": "account",
    "slurm_account": "account",
    "constraints": "constraint",
    "raw_args": "extra",
    "extra_directives": "extra",
}


_LINE_BREAKER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _count(value: object, field: str, minimum: int = 1) -> int | None:
    return None if value is None else parse_count(value, field, minimum)


def _memory_mb(value: object, field: str) -> int | None:
    return None if value is None else parse_memory(value, field)


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or _LINE_BREAKER.search(value):
        raise ResourceError(field, value, "expected a non-empty single-line string (no control characters)")
    return value.strip()


def _cpus(value: object) -> int | None:
    return _count(value, "cpus")


def _gpus(value: object) -> int | None:
    return _count(value, "gpus", 0)


def _nodes(value: object) -> int | None:
    return _count(value, "nodes")


def _tasks(value: object) -> int | None:
    return _count(value, "tasks")


def _memory(value: object) -> int | None:
    return _memory_mb(value, "memory")


def _memory_per_cpu(value: object) -> int | None:
    return _memory_mb(value, "memory_per_cpu")


def _time(value: object) -> int | None:
    return None if value is None else parse_duration(value, "time")


def _partition(value: object) -> str | None:
    return _text(value, "partition")


def _account(value: object) -> str | None:
    return _text(value, "account")


def _qos(value: object) -> str | None:
    return _text(value, "qos")


def _constraint(value: object) -> str | None:
    return _text(value, "constraint")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ResourceError("exclusive", value, "expected true or false")


def _extra(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        value = [f"{k}={v}" if v not in (None, True, "") else str(k) for k, v in value.items()]
    if not isinstance(value, Iterable):
        raise ResourceError("extra", value, "expected a list of raw directives")
    out = []
    for item in value:
        if not isinstance(item, str) or _LINE_BREAKER.search(item):
            raise ResourceError("extra", item, "each raw directive must be a single-line string")
        out.append(item)
    return tuple(out)


@attrs.frozen(kw_only=True)
class Resources:
    """What one job (or each element of an array job) requests.

    Memory is held in megabytes (MiB) and time in seconds; both accept the usual
    spellings (``"8G"``, ``"1:00:00"``, ``"90m"``). Use :meth:`from_kwargs` to accept the
    seeds' aliases (``cpu``, ``mem``, ``queue``, ``walltime`` ...).
    """

    cpus: int | None = attrs.field(default=None, converter=_cpus)
    """CPUs per task (``--cpus-per-task``)."""
    memory: int | None = attrs.field(default=None, converter=_memory)
    """Memory per node in MB (``--mem``)."""
    memory_per_cpu: int | None = attrs.field(default=None, converter=_memory_per_cpu)
    """Memory per CPU in MB (``--mem-per-cpu``); exclusive with ``memory``."""
    time: int | None = attrs.field(default=None, converter=_time)
    """Wall-time limit in seconds."""
    gpus: int | None = attrs.field(default=None, converter=_gpus)
    nodes: int | None = attrs.field(default=None, converter=_nodes)
    tasks: int | None = attrs.field(default=None, converter=_tasks)
    """Number of tasks (MPI ranks, ``--ntasks``)."""
    partition: str | None = attrs.field(default=None, converter=_partition)
    account: str | None = attrs.field(default=None, converter=_account)
    qos: str | None = attrs.field(default=None, converter=_qos)
    constraint: str | None = attrs.field(default=None, converter=_constraint)
    exclusive: bool = attrs.field(default=False, converter=_bool)
    extra: tuple[str, ...] = attrs.field(default=(), converter=_extra)
    """Raw directives passed to the scheduler unchanged (e.g. ``"--reservation=x"``)."""

    def __attrs_post_init__(self) -> None:
        if self.memory is not None and self.memory_per_cpu is not None:
            raise ResourceError("memory_per_cpu", self.memory_per_cpu, "give either memory or memory_per_cpu")

    @property
    def queue(self) -> str | None:
        """Alias of :attr:`partition` (PBS, SGE and LSF say queue)."""
        return self.partition

    @property
    def walltime(self) -> int | None:
        """Alias of :attr:`time`."""
        return self.time

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The canonical field names."""
        return tuple(a.name for a in attrs.fields(cls))

    @staticmethod
    def canonical_name(name: str) -> str | None:
        """Return the canonical field for ``name`` (an alias or a field), else ``None``."""
        name = ALIASES.get(name, name)
        return name if name in _FIELDS else None

    @classmethod
    def split_kwargs(cls, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``kwargs`` into (resource fields under canonical names, the rest).

        Raises :class:`ResourceError` when a field is given twice under two spellings.
        """
        fields: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for key, value in kwargs.items():
            canonical = cls.canonical_name(key)
            if canonical is None:
                rest[key] = value
                continue
            if canonical in fields and fields[canonical] != value:
                raise ResourceError(canonical, value, f"given twice (also as {key!r})")
            fields[canonical] = value
        return fields, rest

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Resources:
        """Build from canonical names or aliases; unknown names are an error."""
        fields, rest = cls.split_kwargs(kwargs)
        if rest:
            unknown = ", ".join(sorted(rest))
            valid = ", ".join(sorted(set(_FIELDS) | set(ALIASES)))
            raise ResourceError(unknown, rest[next(iter(rest))], f"unknown resource; use {valid}")
        return cls(**fields)

    def merged(self, **overrides: Any) -> Resources:
        """Return a copy with ``overrides`` (aliases allowed); ``None`` values are ignored."""
        fields, rest = self.split_kwargs({k: v for k, v in overrides.items() if v is not None})
        if rest:
            raise ResourceError(next(iter(rest)), rest[next(iter(rest))], "unknown resource")
        if "memory" in fields and "memory_per_cpu" not in fields:
            fields["memory_per_cpu"] = None
        if "memory_per_cpu" in fields and "memory" not in fields:
            fields["memory"] = None
        return attrs.evolve(self, **fields)

    def layered_over(self, base: Resources) -> Resources:
        """Return ``base`` with every field set here taking precedence."""
        mine = {k: v for k, v in self.to_dict().items() if v not in (None, False, ())}
        return base.merged(**mine) if mine else base

    def scaled(self, factors: Mapping[str, float], attempt: int) -> Resources:
        """Escalate: multiply each named field by ``factor ** (attempt - 1)``."""
        updates: dict[str, Any] = {}
        for name, factor in factors.items():
            canonical = self.canonical_name(name)
            if canonical not in ("memory", "memory_per_cpu", "time", "cpus", "gpus", "nodes"):
                raise ResourceError(name, factor, "only numeric resources can be escalated")
            current = getattr(self, canonical)
            if current is None:
                continue
            updates[canonical] = max(1, math.ceil(current * float(factor) ** (attempt - 1)))
        return attrs.evolve(self, **updates)

    def capped(self, limits: Resources) -> Resources:
        """Clamp numeric fields to the ones set in ``limits`` (a host's maxima)."""
        updates: dict[str, Any] = {}
        for name in ("memory", "memory_per_cpu", "time", "cpus", "gpus", "nodes"):
            mine, cap = getattr(self, name), getattr(limits, name)
            if mine is not None and cap is not None and mine > cap:
                updates[name] = cap
        return attrs.evolve(self, **updates) if updates else self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every field (``extra`` as a list)."""
        out = attrs.asdict(self)
        out["extra"] = list(self.extra)
        return out

    def describe(self) -> str:
        """Short human summary, e.g. ``'4 cpus, 8G, 01:00:00'``."""
        parts = []
        if self.nodes:
            parts.append(f"{self.nodes} nodes")
        if self.tasks:
            parts.append(f"{self.tasks} tasks")
        if self.cpus:
            parts.append(f"{self.cpus} cpus")
        if self.gpus:
            parts.append(f"{self.gpus} gpus")
        if self.memory:
            parts.append(format_memory(self.memory))
        if self.memory_per_cpu:
            parts.append(f"{format_memory(self.memory_per_cpu)}/cpu")
        if self.time:
            parts.append(format_duration(self.time))
        for name in ("partition", "account", "qos", "constraint"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)}")
        if self.exclusive:
            parts.append("exclusive")
        return ", ".join(parts) or "defaults"


_FIELDS = Resources.field_names()
