"""Explicit, lazy registry of scheduler adapters: name -> dotted path (nothing scanned)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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


def get_adapter(name: str, template: Template | None = None) -> SchedulerAdapter:
    """Instantiate the adapter registered as ``name``."""
    try:
        target = ADAPTERS[name.lower()]
    except KeyError:
        valid = ", ".join(SCHEDULER_NAMES)
        raise ConfigError(f"unknown scheduler {name!r}; valid names: {valid}") from None
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(template) if template is not None else cls()  # type: ignore[no-any-return]
