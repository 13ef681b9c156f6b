"""hpc-runner's generic resources: :class:`Resource` and :class:`ResourceSet`.

A job's ``resources`` is a :class:`ResourceSet` of named requests (``gpu=1``,
``scratch="20G"``), written ``resources = [{name = "gpu", value = 1}]`` in a configuration
file. When the job is submitted, each is passed to the batch system in its own spelling:
``-l name=value`` on SGE, PBS and Torque (as hpc-runner does), ``--gres=name:value`` on
SLURM, ``-R "rusage[name=value]"`` on LSF; the local backend has no use for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from jobledger.errors import ModelError


@attrs.frozen
class Resource:
    """One named request: ``Resource("scratch", "20G")``."""

    name: str
    value: int | str

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ModelError(f"a resource name must be a non-empty string, not {self.name!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, str)):
            raise ModelError(
                f"resource {self.name!r}: value must be an integer or a string, not {self.value!r}"
            )


@attrs.define
class ResourceSet:
    """An ordered set of :class:`Resource` (a name given twice keeps the last value)."""

    resources: list[Resource] = attrs.field(factory=list)

    def add(self, name: str, value: int | str) -> ResourceSet:
        """Add (or replace) ``name``; returns the set."""
        item = Resource(name, value)
        self.resources = [r for r in self.resources if r.name != name]
        self.resources.append(item)
        return self

    def get(self, name: str) -> Resource | None:
        """The resource called ``name``, if any."""
        return next((r for r in self.resources if r.name == name), None)

    @classmethod
    def of(cls, value: Any, where: str) -> ResourceSet:
        """A set from a :class:`ResourceSet`, a list of ``{name, value}`` tables or a
        ``{name: value}`` mapping (configuration files use the list)."""
        if value is None:
            return cls()
        if isinstance(value, ResourceSet):
            return value
        if isinstance(value, Mapping):
            pairs: Iterable[Any] = [{"name": k, "value": v} for k, v in value.items()]
        elif isinstance(value, (list, tuple)):
            pairs = value
        else:
            raise ModelError(f"{where}: resources must be a list of {{name, value}} tables, not {value!r}")
        out = cls()
        for item in pairs:
            if isinstance(item, Resource):
                out.add(item.name, item.value)
            elif isinstance(item, Mapping) and set(item) == {"name", "value"}:
                try:
                    out.add(item["name"], item["value"])
                except ModelError as exc:
                    raise ModelError(f"{where}: {exc}") from None
            else:
                raise ModelError(f"{where}: each resource must be {{name = ..., value = ...}}, not {item!r}")
        return out

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def __bool__(self) -> bool:
        return bool(self.resources)


def scheduler_spellings(resources: ResourceSet) -> dict[str, list[str]]:
    """``{scheduler: [directive, ...]}``: each resource in each batch system's spelling."""
    per: dict[str, list[str]] = {name: [] for name in ("sge", "pbs", "torque", "slurm", "lsf")}
    for item in resources:
        for name in ("sge", "pbs", "torque"):
            per[name].append(f"-l {item.name}={item.value}")
        per["slurm"].append(f"--gres={item.name}:{item.value}")
        per["lsf"].append(f'-R "rusage[{item.name}={item.value}]"')
    return {k: v for k, v in per.items() if v}
