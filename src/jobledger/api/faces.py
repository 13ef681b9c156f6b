"""The public names of the awflow and hpc-runner faces, in one place.

``jobledger/__init__.py`` re-exports these. ``jobledger.Job`` is already hpc-runner's
``Job`` (``Job("cmd", cpu=4).submit()``); awflow's decorated functions are
:class:`AwflowJob` objects.
"""

from __future__ import annotations

from jobledger.api.awflow import (
    AwflowJob,
    DependencyNeverSatisfiedException,
    JobException,
    after,
    available_backends,
    disable,
    ensure,
    job,
    leafs,
    roots,
    schedule,
    terminal_nodes,
    waitfor,
)
from jobledger.api.hpcrunner import (
    ArrayJobResult,
    JobArray,
    JobResult,
    JobStatus,
    Pipeline,
    PipelineError,
    get_config,
    get_scheduler,
    job_from_config,
    list_schedulers,
    register_scheduler,
    reload_config,
    submit_job,
)

__all__ = [
    "ArrayJobResult",
    "AwflowJob",
    "DependencyNeverSatisfiedException",
    "JobArray",
    "JobException",
    "JobResult",
    "JobStatus",
    "Pipeline",
    "PipelineError",
    "after",
    "available_backends",
    "disable",
    "ensure",
    "get_config",
    "get_scheduler",
    "job",
    "job_from_config",
    "leafs",
    "list_schedulers",
    "register_scheduler",
    "reload_config",
    "roots",
    "schedule",
    "submit_job",
    "terminal_nodes",
    "waitfor",
]
