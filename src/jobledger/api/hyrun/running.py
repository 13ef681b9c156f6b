"""hyrun's verbs on jobledger: ``get_workflow``, ``run``/``arun``, ``init``, ``check``,
``get_status``, ``fetch``/``fetch_results``, ``update``, ``stop``, ``remove``.

Each takes what hyrun's take — a JobGraph or a path to its JSON file, Jobs, RunSettings,
dicts, tasks, (nested) lists of them (one inner list is one job) — and works through the
jobledger verbs, so the project's ledger is hyrun's database: a job's ``db_id`` is its key
there, and a job that completed before is not run again (unless ``rerun``). ``check``,
``get_status``, ``fetch`` and ``update`` never record or submit a job that never ran.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from jobledger.api import verbs
from jobledger.api.hyrun.graph import JobGraph
from jobledger.api.hyrun.jobs import Job, JobStatus, Output, get_job, outputs_of, status_of
from jobledger.api.hyrun.settings import FLAGS
from jobledger.api.nodelink import is_graph_file
from jobledger.errors import ModelError, ProjectError
from jobledger.model.job import JobRef
from jobledger.model.workflow import Workflow
from jobledger.session.results import Result
from jobledger.session.selection import project_for


def get_workflow(*args: Any, **kwargs: Any) -> JobGraph:
    """A :class:`JobGraph` of: a JobGraph (itself), a path to a graph file, a jobledger
    Workflow, or jobs (each argument, or each item of a list argument, is one job; an
    inner list is one job of several tasks). ``kwargs`` go to the JobGraph."""
    if not args:
        raise ModelError("get_workflow() needs a workflow, a graph file or jobs")
    first = args[0]
    if len(args) == 1 and isinstance(first, JobGraph):
        return first
    if len(args) == 1 and isinstance(first, (str, os.PathLike)) and Path(first).is_file():
        return JobGraph(**kwargs).read(first)  # as hyrun: any existing file is a graph file
    if len(args) == 1 and isinstance(first, Workflow):
        jobs = {}
        for n in first.order:  # edges inside the workflow become the graph's edges
            job = first.jobs[n]
            jobs[n] = Job(
                [job.with_changes(depends=tuple(d for d in job.depends if isinstance(d.target, JobRef)))]
            )
        edges = [
            (jobs[up].hash, jobs[n].hash, {"kind": kind})
            for n in first.order
            for up, kind in first.upstream[n]
        ]
        kwargs.setdefault("name", first.name)
        return JobGraph(nodes=list(jobs.values()), edges=edges, **kwargs)
    items = list(first) if len(args) == 1 and isinstance(first, list) else list(args)
    return JobGraph(jobs=[get_job(i) for i in items], **kwargs)


def _flags(graph: JobGraph, given: dict[str, bool | None]) -> dict[str, bool]:
    """A keyword wins; else a flag is on when any task of the graph sets it."""
    tasks = [s for job in graph.jobs.values() for s in job.settings]
    return {f: bool(given[f]) if given[f] is not None else any(t.flags[f] for t in tasks) for f in FLAGS}


def _done_locally(job: Job) -> bool:
    """Every task names an ``output_file`` and each one exists (hyrun skips such jobs)."""
    settings = job.settings
    if not settings or len(settings) != len(job.tasks) or not all(s.output_file for s in settings):
        return False
    return all(Path(s.workdir or ".", str(s.output_file)).exists() for s in settings)


def _results(graph: JobGraph, names: dict[Any, str], results: dict[str, Result]) -> list[list[Output]]:
    """Outputs per job, in the graph's node order; node attributes and Jobs updated."""
    out = []
    for node in graph.nodes:
        job = graph.jobs.get(node) or Job(hash=node)
        result = results.get(names.get(node, ""))
        if result is not None:
            graph[node].update(
                db_id=result.key, status=result.state.value.upper(), job_id=result.scheduler_id
            )
            job.db_id, job.status, job.job_id = result.key, result.state.value.upper(), result.scheduler_id
        job.outputs = outputs_of(job, result)
        out.append(job.outputs)
    return out


def run(
    *args: Any,
    wait: bool | None = None,
    dry_run: bool | None = None,
    rerun: bool | None = None,
    force_recompute: bool | None = None,
    transfer_all: bool = True,
    logger: logging.Logger | None = None,
    name: str | None = None,
    project: str | os.PathLike[str] | None = None,
    host: str | None = None,
) -> Any:
    """Run a workflow as hyrun does; returns ``[[Output, ...] per job]`` when waiting,
    else (and on ``dry_run``) ``{workflow name: [ledger keys]}``.

    Flags a task sets apply to the run; a keyword overrides them. ``rerun`` and
    ``force_recompute`` run completed jobs again; without them a job whose every task's
    ``output_file`` exists is skipped, and a job completed before is reused from the
    ledger. ``dry_run`` records and submits nothing. ``transfer_all`` (default) brings
    remote jobs' stdout, stderr and results home after waiting (``jobledger fetch``);
    declared ``outputs`` come home in any case. A failed job does not raise: its Outputs
    carry ``returncode`` and ``error``.
    """
    graph = get_workflow(*args, logger=logger) if args else None
    if graph is None:
        raise ModelError("run() needs a workflow, a graph file or jobs")
    flags = _flags(
        graph, {"wait": wait, "dry_run": dry_run, "rerun": rerun, "force_recompute": force_recompute}
    )
    force = flags["rerun"] or flags["force_recompute"]
    workflow, names = graph.workflow(name)
    if workflow is None:
        raise ModelError("nothing to run: no node of the graph carries a job")
    done = [] if force else [n for n, job in graph.jobs.items() if _done_locally(job)]
    if done:  # hyrun skips them; a job the ledger has completed is reused instead
        completed = {n for n, r in _recorded(workflow, project).items() if r.ok}
        done = [n for n in done if names.get(n) not in completed]
    if done:
        todo = graph.__copy__()
        for node in done:
            todo.remove_node(node)
            graph[node]["status"] = "COMPLETED"
        workflow, names = todo.workflow(name or workflow.name)
        if workflow is None:
            return {graph.name or "": []}
    graph.name = workflow.name
    if flags["dry_run"]:
        keys = workflow.keys()
        for node, job_name in names.items():
            graph[node]["db_id"] = keys.get(job_name, graph[node].get("db_id"))
        return {workflow.name: [keys[names[n]] for n in graph.nodes if names.get(n) in keys]}
    handle = verbs.run(workflow, force=force, project=project, host=host, logger=logger)
    keys = dict(handle.keys)
    for node, job_name in names.items():
        if job_name in keys:
            graph[node]["db_id"] = keys[job_name]
    if not flags["wait"]:
        return {workflow.name: [keys[names[n]] for n in graph.nodes if names.get(n) in keys]}
    results = handle.wait(check=False)
    if transfer_all:
        results = verbs.fetch(handle, project=project, logger=logger)
    return _results(graph, names, results)


def _recorded(workflow: Workflow, project: Any) -> dict[str, Result]:
    """Results of the workflow's jobs that the ledger knows (none without a project)."""
    try:
        known = project_for(project, create=False)
    except ProjectError:
        return {}
    return verbs.results(workflow, project=known)


async def arun(*args: Any, **kwargs: Any) -> list[list[Output]]:
    """``await`` form of :func:`run` with ``wait=True``."""
    kwargs["wait"] = True
    outputs: list[list[Output]] = await asyncio.to_thread(run, *args, **kwargs)
    return outputs


def init(
    *args: Any, logger: logging.Logger | None = None, project: Any = None, name: str | None = None
) -> JobGraph:
    """The workflow's :class:`JobGraph`, its definition recorded in the ledger (nodes get
    their ``db_id``); nothing is submitted."""
    graph = get_workflow(*args, logger=logger)
    workflow, names = graph.workflow(name)
    if workflow is None:
        raise ModelError("nothing to define: no node of the graph carries a job")
    graph.name = workflow.name
    handle = verbs.init(workflow, project=project, logger=logger)
    for node, job_name in names.items():
        if job_name in handle.keys:
            graph[node]["db_id"] = handle.keys[job_name]
    return graph


def _looked(args: tuple[Any, ...], project: Any, logger: logging.Logger | None, act: str) -> Any:
    """Graph, each node's job name, and results of the jobs the ledger knows (read-only:
    ``check`` looks at the backends, ``fetch`` brings remote outputs home, ``update``
    also carries on workflows nobody drives)."""
    graph = get_workflow(*args, logger=logger)
    _workflow, names = graph.workflow()
    try:
        known = project_for(project, create=False)
    except ProjectError:
        return graph, names, {}  # no project here: nothing ever ran
    if act == "check":
        verbs.check(graph, project=known, logger=logger)
        results = verbs.results(graph, project=known, logger=logger)
    elif act == "fetch":
        results = verbs.fetch(graph, project=known, logger=logger)
    else:
        results = verbs.update(graph, project=known, logger=logger)
    return graph, names, results


def get_status(
    *args: Any, fetch_results: bool = False, logger: logging.Logger | None = None, project: Any = None
) -> Any:
    """One :class:`JobStatus` per job (after one look at the backends); with
    ``fetch_results=True`` the jobs' Outputs instead, as :func:`fetch` gives them."""
    if fetch_results:
        return fetch(*args, logger=logger, project=project)
    graph, names, results = _looked(args, project, logger, "check")
    _results(graph, names, results)
    return [status_of(results.get(names.get(n, "")), names.get(n)) for n in graph.nodes]


def check(*args: Any, logger: logging.Logger | None = None, project: Any = None) -> list[JobStatus]:
    """hyrun's ``check``: each job's :class:`JobStatus`; records and submits nothing."""
    statuses: list[JobStatus] = get_status(*args, logger=logger, project=project)
    return statuses


def fetch(*args: Any, logger: logging.Logger | None = None, project: Any = None) -> list[list[Output]]:
    """hyrun's ``fetch``: each job's Outputs (remote ones brought home); read-only."""
    graph, names, results = _looked(args, project, logger, "fetch")
    return _results(graph, names, results)


fetch_results = fetch


def update(*args: Any, logger: logging.Logger | None = None, project: Any = None) -> list[list[Output]]:
    """hyrun's ``update``: ``check`` and ``fetch`` in one; where a workflow that ran has
    no driver, this process carries it on a step. Never submits a job that never ran."""
    graph, names, results = _looked(args, project, logger, "update")
    return _results(graph, names, results)


def stop(*args: Any, logger: logging.Logger | None = None, project: Any = None) -> list[str]:
    """Cancel the jobs (a workflow or job name is accepted too); returns their names."""
    if len(args) == 1 and isinstance(args[0], str) and not is_graph_file(args[0]):
        return verbs.stop(args[0], project=project, logger=logger)
    return verbs.stop(get_workflow(*args, logger=logger), project=project, logger=logger)


def remove(*args: Any, logger: logging.Logger | None = None, project: Any = None) -> list[str]:
    """Cancel the jobs that have not ended and take them out of a JobGraph given; the
    ledger keeps their history (it is append-only): pass ``rerun=True`` to ``run`` to run
    completed jobs again. Returns the names of the jobs cancelled."""
    stopped = stop(*args, logger=logger, project=project)
    for item in args:
        if isinstance(item, JobGraph):
            for node in [n for n in item.nodes if item[n].get("name") in stopped]:
                item.remove_node(node)
    return stopped
