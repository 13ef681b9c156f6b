"""The awflow face: ``@job``, ``@after``, ``@ensure``, ``prune`` and ``schedule``.

Decorating a function gives an :class:`AwflowJob`, a node of a graph the user holds (no
registry: the graph is the objects and their ``after`` links). :func:`schedule` turns the
part of that graph upstream of the jobs it is given into one :class:`~jobledger.Workflow`
of ordinary :class:`~jobledger.Job` objects and hands it to :func:`jobledger.run`::

    @ensure(lambda i: os.path.exists(f"pi-{i}.npy"))
    @job(cpus="4", memory="4GB", array=10)
    def estimate(i): ...

    @after(estimate)
    @job(cpus="4")
    def merge(): ...

    merge.prune()                       # skip what already exists
    schedule(merge, backend="local")    # blocks; returns the functions' results

Differences from awflow 0.1.0 (see ``docs/coming-from/awflow.md``): jobs run as separate
processes (what they print reaches the terminal as they run), results and logs live in
the project's ledger, re-runs reuse completed jobs by content key, ``backend="slurm"``
goes to a ``[hosts.*]`` table of ``jobledger.toml`` whose scheduler is ``slurm`` or else
to this machine's SLURM (``sbatch`` on the PATH), and a cycle raises
:class:`~jobledger.errors.CycleError` naming it.
"""

from __future__ import annotations

from jobledger.api.awflow.decorators import after, disable, ensure, job, waitfor
from jobledger.api.awflow.graph import build_workflow, leafs, roots, terminal_nodes
from jobledger.api.awflow.node import AwflowJob, as_job
from jobledger.api.awflow.outcomes import (
    DependencyNeverSatisfiedException,
    JobException,
    exception_of,
    outcome,
)
from jobledger.api.awflow.scheduling import available_backends, backend_alias, resolve_backend, schedule

# Job keys (a job function referring to a job or to these exceptions) and pickles name a
# class by its module: the classes keep the one they had before this package was split.
AwflowJob.__module__ = DependencyNeverSatisfiedException.__module__ = JobException.__module__ = __name__

__all__ = [
    "AwflowJob",
    "DependencyNeverSatisfiedException",
    "JobException",
    "after",
    "as_job",
    "available_backends",
    "backend_alias",
    "build_workflow",
    "disable",
    "ensure",
    "exception_of",
    "job",
    "leafs",
    "outcome",
    "resolve_backend",
    "roots",
    "schedule",
    "terminal_nodes",
    "waitfor",
]
