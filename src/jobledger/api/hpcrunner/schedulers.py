"""Schedulers: :class:`LedgerScheduler`, auto-detection and the registry of names."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobledger.api.awflow import resolve_backend
from jobledger.api.hpcrunner.config import settings
from jobledger.api.hpcrunner.results import ArrayJobResult, JobResult
from jobledger.api.hpcrunner.status import JobStatus
from jobledger.config import load_config as load_project_config
from jobledger.errors import ConfigError, ModelError
from jobledger.model.job import Job
from jobledger.project import Project

if TYPE_CHECKING:
    from jobledger.api.hpcrunner.arrays import JobArray

#: Names every :func:`get_scheduler` knows (each maps to a configured host, or here).
BUILTIN_SCHEDULERS = ("local", "lsf", "pbs", "sge", "slurm")


class LedgerScheduler:
    """hpc-runner's scheduler object: a name that resolves to a host alias.

    ``submit(job)`` returns a :class:`JobResult`; ``submit_array(array)`` an
    :class:`ArrayJobResult`. The alias is looked up in the project's ``jobledger.toml``
    when something is submitted (``local`` needs no configuration).
    """

    def __init__(self, name: str, host: str | None = None) -> None:
        self.name = name
        self.host = host

    def alias(self, project: Project) -> str:
        """The host alias jobs go to."""
        if self.host is not None:
            return self.host
        try:
            return resolve_backend(self.name, None, load_project_config(project.root))
        except ConfigError as exc:
            raise ConfigError(
                f"scheduler {self.name!r}: {exc}\n(or set HPC_SCHEDULER=local to run jobs here)"
            ) from None

    def submit(self, job: Job, interactive: bool = False) -> JobResult:
        """Submit ``job``; ``interactive`` is accepted and ignored (jobs run in batch)."""
        del interactive
        from jobledger.api.hpcrunner.submission import submit_job  # late: submission imports this module

        return submit_job(job, self)

    def submit_array(self, array: JobArray) -> ArrayJobResult:
        """Submit a :class:`JobArray`."""
        return array.submit(self)

    def cancel(self, result: JobResult | ArrayJobResult) -> bool:
        """Cancel a submitted job."""
        return result.cancel()

    def get_status(self, result: JobResult | ArrayJobResult) -> JobStatus:
        """Current status of a submitted job."""
        return result.status

    def __repr__(self) -> str:
        return f"LedgerScheduler({self.name!r}" + (f", host={self.host!r})" if self.host else ")")


def detect_scheduler_name() -> str:
    """``$HPC_SCHEDULER``, else what is on this machine's PATH (sbatch, qsub, bsub), else local."""
    from jobledger.hosts.local import LocalHost
    from jobledger.schedulers.detect import PROBE, classify

    forced = os.environ.get("HPC_SCHEDULER")
    if forced:
        return forced.strip().lower()
    # this process's PATH as it is now (plumbum's environment is a copy taken at import)
    probe = LocalHost().run(["sh", "-c", PROBE], env={"PATH": os.environ.get("PATH", "")})
    found = classify(probe.stdout + probe.stderr)
    return "pbs" if found == "torque" else found


def get_scheduler(name: str | None = None) -> Any:
    """The scheduler called ``name`` (detected when ``None``): ``local``, ``slurm``,
    ``sge``, ``pbs``, ``lsf`` or one added with :func:`register_scheduler`."""
    chosen = (name or detect_scheduler_name()).lower()
    custom = settings.schedulers.get(chosen)
    if custom is not None:
        if isinstance(custom, str) and ":" in custom:
            module, _, attr = custom.partition(":")
            return getattr(importlib.import_module(module), attr)()
        if isinstance(custom, str):
            return LedgerScheduler(chosen, host=custom)
        return custom()
    if chosen in BUILTIN_SCHEDULERS:
        return LedgerScheduler(chosen)
    raise ConfigError(f"unknown scheduler {chosen!r}; known: {', '.join(list_schedulers())}")


def register_scheduler(name: str, target: str | Callable[[], Any]) -> None:
    """Add a scheduler name: a host alias (``"cluster"``), an import path
    (``"pkg.mod:Class"``) or a factory returning an object with ``submit(job)``."""
    if not name or not isinstance(name, str):
        raise ModelError(f"a scheduler name must be a non-empty string, not {name!r}")
    settings.schedulers[name.lower()] = target


def list_schedulers() -> list[str]:
    """Every scheduler name :func:`get_scheduler` accepts."""
    return sorted({*BUILTIN_SCHEDULERS, *settings.schedulers})
