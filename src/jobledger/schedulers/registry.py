"""Explicit, lazy registry of scheduler adapters: name -> dotted path (nothing scanned)."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from jobledger.errors import ConfigError

if TYPE_CHECKING:
    from jobledger.schedulers.base import SchedulerAdapter, Template

ADAPTERS: dict[str, str] = {
    "slurm": "jobledger.schedulers.slurm:SlurmAdapter",
    "sge": "jobledger.schedulers.sge:SgeAdapter",
    "pbs": "jobledger.schedulers.pbs:PbsAdapter",
    "torque": "jobledger.schedulers.pbs:TorqueAdapter",
    "lsf": "jobledger.schedulers.lsf:LsfAdapter",
}

#: Names accepted for a host's ``scheduler`` setting (``local`` has no adapter).
SCHEDULER_NAMES = ("local", *ADAPTERS)


def get_adapter(name: str, template: Template | None = None, **settings: Any) -> SchedulerAdapter:
    """Instantiate the adapter registered as ``name`` with its ``settings`` (the keyword
    arguments its constructor takes, e.g. SGE's ``parallel_environment``); an unknown
    setting is a :class:`~jobledger.errors.ConfigError` naming the valid ones."""
    try:
        target = ADAPTERS[name.lower()]
    except KeyError:
        valid = ", ".join(SCHEDULER_NAMES)
        raise ConfigError(f"unknown scheduler {name!r}; valid names: {valid}") from None
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    accepted = {
        p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY
    }
    unknown = sorted(set(settings) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted)) or "none"
        raise ConfigError(f"[schedulers.{name}]: unknown setting(s) {', '.join(unknown)} (valid: {valid})")
    return cls(template, **settings)  # type: ignore[no-any-return]
