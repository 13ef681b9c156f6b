"""The hpc-runner face: hpc-runner's Python API on jobledger.

Change the import and hpc-runner code runs as it is::

    from jobledger.api.hpcrunner import Job, JobStatus   # was: from hpc_runner import ...

    result = Job("python train.py", cpu=4, mem="16G").submit()   # scheduler detected
    print(result.job_id, result.status)                          # status observed live
    result.wait()                                                # -> JobStatus.COMPLETED

:class:`Job` is hpc-runner's own, mutable type; when submitted it produces a jobledger
:class:`~jobledger.Job` (``job.to_job()``) and runs as a small workflow in the project
found upward from the current directory (created there when there is none), driven by that
project's :class:`~jobledger.session.Session`. ``submit()`` runs the job now, even when
the same command ran before (``reuse=True`` keeps an earlier completed run). Jobs that
depend on earlier results refer to them in the ledger; nothing is submitted twice.

Schedulers (:mod:`.schedulers`, :mod:`.detection`) are hosts: ``local`` runs here,
``slurm``, ``sge``, ``pbs``, ``torque`` and ``lsf`` go to a host of ``jobledger.toml`` with
that scheduler, or with no configuration to this machine's own scheduler when its
commands are on the PATH. The configuration (:mod:`.config`) is hpc-runner's files as
hpc-runner finds them, with jobledger.toml's presets laid over them. The face's only
process-wide state is :data:`settings` (``reload_config`` and ``register_scheduler``).
"""

from __future__ import annotations

from jobledger.api.hpcrunner.arrays import JobArray
from jobledger.api.hpcrunner.config import (
    CONFIG_ENV,
    HPCConfig,
    RunnerConfig,
    RunnerSettings,
    get_config,
    load_config,
    reload_config,
    settings,
)
from jobledger.api.hpcrunner.config_files import (
    HPC_CONFIG_ENV_VAR,
    find_config_file,
    find_config_files,
)
from jobledger.api.hpcrunner.config_files import _merge as merge_settings
from jobledger.api.hpcrunner.detection import (
    BUILTIN_SCHEDULERS,
    detect_scheduler_name,
    get_scheduler,
    list_schedulers,
    register_scheduler,
)
from jobledger.api.hpcrunner.job import Job, job_from_config
from jobledger.api.hpcrunner.pipeline import Pipeline, PipelineError, PipelineJob
from jobledger.api.hpcrunner.resources import Resource, ResourceSet
from jobledger.api.hpcrunner.results import ArrayJobResult, JobResult
from jobledger.api.hpcrunner.schedulers import (
    LedgerScheduler,
    LocalScheduler,
    LSFScheduler,
    PBSScheduler,
    SGEScheduler,
    SlurmScheduler,
)
from jobledger.api.hpcrunner.status import DependencyType, JobStatus
from jobledger.api.hpcrunner.submission import submit_job
from jobledger.errors import ConfigError

__all__ = [
    "BUILTIN_SCHEDULERS",
    "CONFIG_ENV",
    "HPC_CONFIG_ENV_VAR",
    "ArrayJobResult",
    "ConfigError",
    "DependencyType",
    "HPCConfig",
    "Job",
    "JobArray",
    "JobResult",
    "JobStatus",
    "LSFScheduler",
    "LedgerScheduler",
    "LocalScheduler",
    "PBSScheduler",
    "Pipeline",
    "PipelineError",
    "PipelineJob",
    "Resource",
    "ResourceSet",
    "RunnerConfig",
    "RunnerSettings",
    "SGEScheduler",
    "SlurmScheduler",
    "detect_scheduler_name",
    "find_config_file",
    "find_config_files",
    "get_config",
    "get_scheduler",
    "job_from_config",
    "list_schedulers",
    "load_config",
    "merge_settings",
    "register_scheduler",
    "reload_config",
    "settings",
    "submit_job",
]
