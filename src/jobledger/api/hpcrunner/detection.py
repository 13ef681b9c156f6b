"""Which scheduler ``Job.submit()`` uses, and the registry of scheduler names.

Detection (:func:`detect_scheduler_name`), in order:

1. ``$HPC_SCHEDULER``;
2. ``scheduler = "..."`` in the hpc-runner configuration's ``[defaults]`` (``"auto"``: go on);
3. the scheduler of the first ``[hosts.*]`` of the project's ``jobledger.toml`` that has one
   (a host you configured is where you mean to run);
4. what this machine's PATH offers, in hpc-runner's order: Grid Engine (``qsub`` with
   ``$SGE_ROOT``, or a ``qstat`` that says it is Grid Engine), SLURM (``sbatch`` and
   ``squeue``), PBS Pro or Torque (``qsub`` with ``$PBS_CONF_FILE``, or a ``qstat`` that
   says so), LSF (``bsub``);
5. ``local``.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from typing import Any

from jobledger.api.hpcrunner import config as _config
from jobledger.api.hpcrunner.machine import qsub_flavour
from jobledger.api.hpcrunner.schedulers import (
    LedgerScheduler,
    LocalScheduler,
    LSFScheduler,
    PBSScheduler,
    SGEScheduler,
    SlurmScheduler,
)
from jobledger.config import load_config as load_project_config
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project

#: Names every :func:`get_scheduler` knows.
BUILTIN_SCHEDULERS = ("local", "lsf", "pbs", "sge", "slurm")
_CLASSES: dict[str, type[LedgerScheduler]] = {
    "local": LocalScheduler,
    "sge": SGEScheduler,
    "slurm": SlurmScheduler,
    "pbs": PBSScheduler,
    "torque": PBSScheduler,
    "lsf": LSFScheduler,
}


def detect_scheduler_name() -> str:
    """The scheduler ``Job.submit()`` uses when none is named (see the module docstring)."""
    forced = os.environ.get("HPC_SCHEDULER")
    if forced:
        return forced.strip().lower()
    chosen = str(_config.get_config().defaults.get("scheduler") or "auto").strip().lower()
    if chosen != "auto":
        return chosen
    found = Project.find()
    for table in load_project_config(found.root if found else None).hosts.values():
        if table.scheduler not in ("local", "auto"):
            return table.scheduler
    flavour = qsub_flavour()
    if flavour == "sge":
        return "sge"
    if shutil.which("sbatch") and shutil.which("squeue"):
        return "slurm"
    if flavour in ("pbs", "torque"):
        return flavour
    if shutil.which("bsub"):
        return "lsf"
    return "local"


def get_scheduler(name: str | None = None) -> Any:
    """The scheduler called ``name`` (detected when ``None``): ``local``, ``slurm``,
    ``sge``, ``pbs``, ``torque``, ``lsf``, a host alias of ``jobledger.toml``, or a name
    added with :func:`register_scheduler`."""
    chosen = (name or detect_scheduler_name()).lower()
    custom = _config.settings.schedulers.get(chosen)
    if custom is not None:
        if isinstance(custom, str) and ":" in custom:
            module, _, attr = custom.partition(":")
            return getattr(importlib.import_module(module), attr)()
        if isinstance(custom, str):
            return _CLASSES.get(chosen, LedgerScheduler)(chosen, host=custom)
        return custom()
    if chosen in _CLASSES:
        return _CLASSES[chosen](chosen)
    found = Project.find()
    hosts = load_project_config(found.root if found else None).hosts
    if chosen in hosts:
        return scheduler_for_host(chosen)
    raise ConfigError(f"unknown scheduler {chosen!r}; known: {', '.join(list_schedulers())}")


def register_scheduler(name: str, target: str | Callable[[], Any]) -> None:
    """Add a scheduler name: a host alias (``"cluster"``), an import path
    (``"pkg.mod:Class"``) or a factory returning an object with ``submit(job)``."""
    if not name or not isinstance(name, str):
        raise ModelError(f"a scheduler name must be a non-empty string, not {name!r}")
    _config.settings.schedulers[name.lower()] = target


def list_schedulers() -> list[str]:
    """Every scheduler name :func:`get_scheduler` accepts besides host aliases."""
    return sorted({*BUILTIN_SCHEDULERS, *_config.settings.schedulers})


def scheduler_for_host(host: str) -> LedgerScheduler:
    """The scheduler object of the jobledger host ``host`` (configured or implicit)."""
    found = Project.find()
    kind = load_project_config(found.root if found else None).host(host).scheduler
    return _CLASSES.get(kind, LedgerScheduler)(kind, host=host)


def scheduler_object(scheduler: Any) -> Any:
    """A scheduler object from a name, an object, or ``None`` (detected)."""
    if scheduler is None or isinstance(scheduler, str):
        return get_scheduler(scheduler)
    return scheduler
