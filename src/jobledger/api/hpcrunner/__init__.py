"""The hpc-runner face: ``Job.submit()``, :class:`JobResult`, :class:`JobArray`, :class:`Pipeline`.

``jobledger.Job`` already takes hpc-runner's keywords (``Job("python x.py", cpu=4,
mem="8G", time="1:00:00", queue="gpu.q", modules=[...], stderr=None)``); this module
gives the rest::

    result = Job("python train.py", cpu=4).submit()   # auto-detected scheduler
    print(result.job_id, result.status)                 # status is observed live
    result.wait()                                       # -> JobStatus.COMPLETED

Every submission builds an ordinary :class:`~jobledger.Workflow` and hands it to
:func:`jobledger.run` in the project found upward from the current directory (created
there when there is none). A loose job is its own small workflow named
``<job name>-<key8>``; a job whose ``dependencies`` are earlier results carries those
upstream jobs in its workflow, where the engine recognises them by key and does not
submit them again. A :class:`JobResult` is accepted by every hyrun-style verb
(``jobledger.wait(result)``).

Schedulers are names for host aliases: ``local`` runs here, and ``slurm``, ``sge``,
``pbs``, ``lsf`` go to the first ``[hosts.*]`` table of ``jobledger.toml`` with that
``scheduler`` (or a host alias of that name). ``get_scheduler()`` without a name
detects one like hpc-runner: ``$HPC_SCHEDULER``, else ``sbatch`` -> slurm, ``qsub`` ->
sge/pbs, ``bsub`` -> lsf, else local.

Process-wide settings (hpc-runner keeps them global too) live in one explicit object,
:data:`settings`: the config file given to :func:`reload_config` and schedulers added by
:func:`register_scheduler`. ``settings.reset()`` (or ``reload_config()`` with no path)
returns to the defaults. Nothing else is remembered between calls: the ledger is the state.
"""

from __future__ import annotations

from jobledger.api.awflow import resolve_backend as resolve_backend
from jobledger.api.hpcrunner.arrays import JobArray
from jobledger.api.hpcrunner.config import _FILE_TABLES as _FILE_TABLES
from jobledger.api.hpcrunner.config import CONFIG_ENV as CONFIG_ENV
from jobledger.api.hpcrunner.config import (
    RunnerConfig,
    RunnerSettings,
    get_config,
    load_config,
    merge_settings,
    reload_config,
    settings,
)
from jobledger.api.hpcrunner.config import _contains as _contains
from jobledger.api.hpcrunner.config import _extends_chain as _extends_chain
from jobledger.api.hpcrunner.config import _tokens as _tokens
from jobledger.api.hpcrunner.config import _validate as _validate
from jobledger.api.hpcrunner.keywords import _IGNORED as _IGNORED
from jobledger.api.hpcrunner.keywords import _PASS as _PASS
from jobledger.api.hpcrunner.keywords import _SCHEDULER_ARGS as _SCHEDULER_ARGS
from jobledger.api.hpcrunner.keywords import job_kwargs
from jobledger.api.hpcrunner.pipeline import Pipeline, PipelineError, PipelineJob
from jobledger.api.hpcrunner.presets import apply_job_type, job_from_config, rebuild
from jobledger.api.hpcrunner.results import ArrayJobResult, JobResult
from jobledger.api.hpcrunner.results import _KeyOnly as _KeyOnly
from jobledger.api.hpcrunner.results import _Submitted as _Submitted
from jobledger.api.hpcrunner.schedulers import (
    BUILTIN_SCHEDULERS,
    LedgerScheduler,
    detect_scheduler_name,
    get_scheduler,
    list_schedulers,
    register_scheduler,
)
from jobledger.api.hpcrunner.status import _STATUS_OF as _STATUS_OF
from jobledger.api.hpcrunner.status import JobStatus
from jobledger.api.hpcrunner.submission import _check_job as _check_job
from jobledger.api.hpcrunner.submission import _choose as _choose
from jobledger.api.hpcrunner.submission import _ours as _ours
from jobledger.api.hpcrunner.submission import _place as _place
from jobledger.api.hpcrunner.submission import _run_alone as _run_alone
from jobledger.api.hpcrunner.submission import _scheduler_of as _scheduler_of
from jobledger.api.hpcrunner.submission import submit_job
from jobledger.api.verbs import RunHandle as RunHandle
from jobledger.api.verbs import check as check
from jobledger.api.verbs import fetch as fetch
from jobledger.api.verbs import run as run
from jobledger.api.verbs import stop as stop
from jobledger.api.verbs import wait as wait
from jobledger.config import load_config as load_project_config  # noqa: F401 - the former module's name for it
from jobledger.config import read_toml as read_toml
from jobledger.errors import ConfigError as ConfigError
from jobledger.errors import ModelError as ModelError
from jobledger.errors import ResourceError as ResourceError
from jobledger.model.array import ArraySpec as ArraySpec
from jobledger.model.job import SEPARATE as SEPARATE
from jobledger.model.job import Dependency as Dependency
from jobledger.model.job import Job as Job
from jobledger.model.resources import Resources as Resources
from jobledger.model.workflow import Workflow as Workflow
from jobledger.project import Project as Project
from jobledger.session.results import Result as Result
from jobledger.session.selection import Selection as Selection
from jobledger.session.selection import project_for as project_for
from jobledger.states import JobState as JobState

# ``__all__`` is the public face. The other names imported above keep everything the former
# single module held importable from here: private helpers, constants and the jobledger
# names it imported (``name as name`` marks an explicit re-export).
__all__ = [
    "BUILTIN_SCHEDULERS",
    "ArrayJobResult",
    "JobArray",
    "JobResult",
    "JobStatus",
    "LedgerScheduler",
    "Pipeline",
    "PipelineError",
    "PipelineJob",
    "RunnerConfig",
    "RunnerSettings",
    "apply_job_type",
    "detect_scheduler_name",
    "get_config",
    "get_scheduler",
    "job_from_config",
    "job_kwargs",
    "list_schedulers",
    "load_config",
    "merge_settings",
    "rebuild",
    "register_scheduler",
    "reload_config",
    "settings",
    "submit_job",
]
