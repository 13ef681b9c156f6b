"""The Hamilton-HPC-Orchestra face: functions that choose their cluster at call time.

A decorated generator function yields ONE dict describing the job it wants (command,
host, resources, dependencies, whether to block), receives a :class:`JobInfo` back —
an ``int`` (the scheduler's job id) that also carries the job's state and results —
and returns the function's result::

    from jobledger import submit

    @submit("local")                       # default host: a jobledger.toml alias
    def relax(structure: str) -> float:
        info = yield {
            "job_name": f"relax-{structure}",
            "cmd": [f"relax {structure}"],                     # script lines
            "host": "slurm" if big(structure) else "local",  # per-call choice
            "n_cores": 4, "memory_max": "8G", "run_time_max": "2:00:00",
            "work_dir": structure,                           # where the command runs
            "block": True,
        }
        return float(info.stdout.split()[-1])               # or files in work_dir

Keys: ``cmd`` (list of script lines, or one string), or ``func``/``args``/``kwargs`` for a
Python call; ``job_name``/``name``; ``host``/``cluster``; ``n_cores`` (``--ntasks``, as
Hamilton-HPC-Orchestra does), ``cpus``/``max_cores``, ``memory_max``/``memory``,
``run_time_max``/``time``, ``partition``, ``account`` and every other resource keyword of
:class:`~jobledger.Job`; ``work_dir``; ``job_deps``/``dependency``/``after`` (JobInfo
objects, Jobs or job names; a dict ``{"afterok": [...], "condition": "?"}`` too);
``block``/``monitor``; ``test_only`` (record the job, submit nothing); ``env``,
``modules``, ``setup``, ``retries``; ``force`` (run again even if an identical job
completed). Any other key becomes a scheduler flag (``"--gres": "gpu:1"`` becomes
``#SBATCH --gres=gpu:1`` on a SLURM host) and is dropped, with a warning, on ``local``.

Every call builds one :class:`~jobledger.Job` in a one-job :class:`~jobledger.Workflow`
and hands it to :func:`jobledger.run`; an identical job that already completed is reused
(its outputs are still there), unless ``force`` is set. Decorated functions stay plain
functions, so they are ordinary Apache Hamilton nodes; :func:`hamilton_adapter` also runs
*undecorated* Hamilton nodes as jobledger jobs, chosen by tags (needs ``jobledger[hamilton]``).
"""

from __future__ import annotations

from jobledger.api.hamilton.adapter import _node_job as _node_job
from jobledger.api.hamilton.adapter import hamilton_adapter, hamilton_available, is_submitted
from jobledger.api.hamilton.commands import JobProcess, cmdline, run_cmdline
from jobledger.api.hamilton.commands import _read_bytes as _read_bytes
from jobledger.api.hamilton.decorators import _drive_generator as _drive_generator
from jobledger.api.hamilton.decorators import submit
from jobledger.api.hamilton.hosts import _scheduler_of as _scheduler_of
from jobledger.api.hamilton.hosts import resolve_host
from jobledger.api.hamilton.info import JobInfo, JobStatus
from jobledger.api.hamilton.jobs import _IGNORED as _IGNORED
from jobledger.api.hamilton.jobs import _JOB_FIELDS as _JOB_FIELDS
from jobledger.api.hamilton.jobs import _SCHEDULER_ARGS as _SCHEDULER_ARGS
from jobledger.api.hamilton.jobs import _dep_target as _dep_target
from jobledger.api.hamilton.jobs import _deps as _deps
from jobledger.api.hamilton.jobs import _flag as _flag
from jobledger.api.hamilton.jobs import _job_named as _job_named
from jobledger.api.hamilton.jobs import job_from_config, portable
from jobledger.api.hamilton.jobs import log as log
from jobledger.api.hamilton.monitor import Monitor
from jobledger.api.hamilton.monitor import _ByName as _ByName
from jobledger.api.hamilton.submission import _number as _number
from jobledger.api.hamilton.submission import submit_job
from jobledger.api.verbs import RunHandle as RunHandle
from jobledger.api.verbs import WaitTimeout as WaitTimeout
from jobledger.api.verbs import fetch as fetch
from jobledger.api.verbs import init as init
from jobledger.api.verbs import run as run
from jobledger.api.verbs import stop as stop
from jobledger.api.verbs import update as update
from jobledger.api.verbs import wait as wait
from jobledger.config import load_config as load_config
from jobledger.errors import ConfigError as ConfigError
from jobledger.errors import ModelError as ModelError
from jobledger.model.job import Dependency as Dependency
from jobledger.model.job import Job as Job
from jobledger.model.job import normalize_kind as normalize_kind
from jobledger.model.resources import Resources as Resources
from jobledger.model.workflow import Workflow as Workflow
from jobledger.session.registry import session_for as session_for
from jobledger.session.results import Result as Result
from jobledger.session.results import tail_text as tail_text
from jobledger.session.selection import Selection as Selection
from jobledger.session.selection import project_for as project_for
from jobledger.states import JobState as JobState

# ``__all__`` is the public face. The other names imported above keep everything the former
# single module held importable from here: private helpers, constants and the jobledger
# names it imported (``name as name`` marks an explicit re-export).
__all__ = [
    "JobInfo",
    "JobProcess",
    "JobStatus",
    "Monitor",
    "cmdline",
    "hamilton_adapter",
    "hamilton_available",
    "is_submitted",
    "job_from_config",
    "portable",
    "resolve_host",
    "run_cmdline",
    "submit",
    "submit_job",
]
