"""The hyrun face: hyrun's workflows and verbs, run by jobledger.

Change the import and keep the code::

    # was: import hyrun; from hyrun.job import JobGraph, Job
    from jobledger.api import hyrun
    from jobledger.api.hyrun import Job, JobGraph

    graph = JobGraph(nodes=[prepare, simulate], edges=[(0, 1)])
    outputs = hyrun.run(graph, wait=True)      # [[Output, ...] per job]
    graph.write("graph.json")
    hyrun.check("graph.json")                  # [JobStatus per job], read-only

Tasks are RunSettings objects (or dicts of their fields), jobledger Tasks, shell lines or
argv lists; a jobledger Job is a job too. The project's ledger is hyrun's database: a
job's ``db_id`` is its key there.
"""

from jobledger.api.hyrun.graph import JobGraph, ancestors_completed
from jobledger.api.hyrun.jobs import Job, JobStatus, Output, get_job
from jobledger.api.hyrun.running import (
    arun,
    check,
    fetch,
    fetch_results,
    get_status,
    get_workflow,
    init,
    remove,
    run,
    stop,
    update,
)

__all__ = [
    "Job",
    "JobGraph",
    "JobStatus",
    "Output",
    "ancestors_completed",
    "arun",
    "check",
    "fetch",
    "fetch_results",
    "get_job",
    "get_status",
    "get_workflow",
    "init",
    "remove",
    "run",
    "stop",
    "update",
]
