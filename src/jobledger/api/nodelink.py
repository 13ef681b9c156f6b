"""Workflow graphs as node-link JSON files (the format of hyrun's ``JobGraph.write``).

A file holds ``{"directed": true, "multigraph": false, "graph": {...}, "nodes": [...],
"edges": [...]}``. Each node has an ``id`` and, as jobledger writes it, the job's
``name``, its ledger key as ``db_id`` (once the job was defined), its ``status`` and,
when the job is made of shell lines or argv lists only, a ``job`` object describing it
fully (tasks, resources, host, env ...), so the file alone can be run again. Edges are
``{"source": u, "target": v, ...attributes}``.

Every verb accepts a path to such a file: :func:`selection_of_file` turns it into what
the verbs select (the recorded keys, and the described jobs as a workflow whose keys are
computed without recording anything).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.errors import ModelError
from jobledger.model.job import SEPARATE, Dependency, Job, JobRef
from jobledger.model.resources import Resources
from jobledger.model.task import Task
from jobledger.model.workflow import Workflow
from jobledger.session.selection import Selection, default_workflow_name

Edge = tuple[Any, Any, dict[str, Any]]
Node = tuple[Any, dict[str, Any]]


def job_spec(job: Job) -> dict[str, Any] | None:
    """A JSON-ready description of ``job`` that :func:`job_from_spec` rebuilds with the
    same key, or ``None`` when a task is a Python call (code is not kept in the file)."""
    tasks: list[dict[str, Any]] = []
    for task in job.tasks:
        if task.func is not None:
            return None
        entry: dict[str, Any] = (
            {"shell": task.shell} if task.shell is not None else {"argv": list(task.argv or ())}
        )
        if task.env:
            entry["env"] = dict(task.env)
        if task.cwd is not None:
            entry["cwd"] = task.cwd
        tasks.append(entry)
    spec: dict[str, Any] = {"name": job.name, "tasks": tasks}
    resources = {k: v for k, v in job.resources.to_dict().items() if v not in (None, False, [], ())}
    optional: dict[str, Any] = {
        "host": job.host if job.host != "local" else None,
        "resources": resources or None,
        "env": dict(job.env) or None,
        "workdir": job.workdir,
        "stdout": job.stdout,
        "modules": list(job.modules) or None,
        "setup": list(job.setup) or None,
        "inputs": list(job.inputs) or None,
        "outputs": list(job.outputs) or None,
        "scheduler_args": {k: list(v) for k, v in job.scheduler_args.items()} or None,
        "waitfor": job.waitfor if job.waitfor != "all" else None,
        "python": job.python,
    }
    spec.update({k: v for k, v in optional.items() if v is not None})
    if job.stderr != SEPARATE:
        spec["stderr"] = job.stderr
    if job.array is not None:
        spec["array"] = list(job.array.indices)
        if job.array.max_concurrent is not None:
            spec["max_concurrent"] = job.array.max_concurrent
    return spec


def job_from_spec(spec: Mapping[str, Any], after: Sequence[Any] = (), where: str = "graph") -> Job:
    """The :class:`~jobledger.model.Job` a :func:`job_spec` describes, after ``after``."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("tasks"), list) or not spec["tasks"]:
        raise ModelError(f"{where}: a job needs a non-empty list of tasks, got {spec!r}")
    tasks = []
    for entry in spec["tasks"]:
        if not isinstance(entry, Mapping) or ("shell" in entry) == ("argv" in entry):
            raise ModelError(f"{where}: a task is {{'shell': line}} or {{'argv': [...]}}, got {entry!r}")
        command = entry["shell"] if "shell" in entry else list(entry["argv"])
        tasks.append(Task(command, env=entry.get("env"), cwd=entry.get("cwd")))
    known = {
        "host", "env", "workdir", "stdout", "modules", "setup", "inputs", "outputs",
        "scheduler_args", "waitfor", "python", "array", "max_concurrent",
    }  # fmt: skip
    unknown = set(spec) - known - {"name", "tasks", "resources", "stderr"}
    if unknown:
        raise ModelError(f"{where}: unknown job field(s) {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {k: spec[k] for k in known if k in spec}
    if "stderr" in spec:
        kwargs["stderr"] = spec["stderr"]
    resources = Resources(**spec["resources"]) if spec.get("resources") else None
    return Job(name=spec.get("name"), tasks=tasks, resources=resources, after=list(after), **kwargs)


def write_graph(
    nodes: Sequence[tuple[Any, Mapping[str, Any]]], edges: Sequence[Edge], graph: Mapping[str, Any]
) -> str:
    """The node-link JSON text of a graph (nodes in order, each with its ``id``)."""
    data = {
        "directed": True,
        "multigraph": False,
        "graph": dict(graph),
        "nodes": [{**attrs, "id": node} for node, attrs in nodes],
        "edges": [{**attrs, "source": u, "target": v} for u, v, attrs in edges],
    }
    return json.dumps(data, indent=4, default=str)


def read_graph(
    path: str | os.PathLike[str],
) -> tuple[list[tuple[Any, dict[str, Any]]], list[Edge], dict[str, Any]]:
    """Nodes ``(id, attributes)``, edges ``(u, v, attributes)`` and graph attributes."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ModelError(f"cannot read the graph file {where}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ModelError(f"{where} is not a JSON graph file: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ModelError(f"{where} is not a node-link graph file (no 'nodes' list)")
    links = data.get("edges", data.get("links", []))
    nodes: list[tuple[Any, dict[str, Any]]] = []
    for i, raw in enumerate(data["nodes"]):
        if not isinstance(raw, dict) or "id" not in raw:
            raise ModelError(f"{where}: node {i} has no 'id'")
        attrs = {k: v for k, v in raw.items() if k != "id"}
        nodes.append((raw["id"], attrs))
    ids = {node for node, _ in nodes}
    edges: list[Edge] = []
    for i, raw in enumerate(links if isinstance(links, list) else []):
        if not isinstance(raw, dict) or "source" not in raw or "target" not in raw:
            raise ModelError(f"{where}: edge {i} needs 'source' and 'target'")
        for end in ("source", "target"):
            if raw[end] not in ids:
                raise ModelError(f"{where}: edge {i} names node {raw[end]!r}, which is not in the file")
        attrs = {k: v for k, v in raw.items() if k not in ("source", "target")}
        edges.append((raw["source"], raw["target"], attrs))
    graph = data.get("graph") if isinstance(data.get("graph"), dict) else {}
    return nodes, edges, dict(graph or {})


def is_graph_file(item: Any) -> bool:
    """True for a path (str or PathLike) to an existing ``.json`` file."""
    if not isinstance(item, (str, os.PathLike)):
        return False
    path = Path(item)
    return path.suffix.lower() == ".json" and path.is_file()


def workflow_of(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    jobs: Mapping[Any, Job],
    name: str | None,
    where: str = "graph",
) -> tuple[Workflow | None, dict[Any, str]]:
    """The workflow of the nodes that carry a job (given in ``jobs`` or described in the
    node's ``job`` attribute), and each such node's job name. A node that only carries a
    ledger key (``db_id``) is a recorded job its children depend on
    (:class:`~jobledger.model.JobRef`). An edge's ``kind`` (afterok, afterany,
    afternotok) says how the child depends; its ``script`` runs before the child (hyrun).
    The workflow is ``None`` when no node carries a job."""
    parents: dict[Any, list[tuple[Any, str]]] = {node: [] for node, _ in nodes}
    scripts: dict[Any, list[str]] = {node: [] for node, _ in nodes}
    for u, v, edge in edges:
        parents[v].append((u, str(edge.get("kind") or "afterok")))
        if isinstance(edge.get("script"), str) and edge["script"].strip():
            scripts[v].append(edge["script"])
    attrs_of = dict(nodes)
    built: dict[Any, Job | JobRef] = {}

    def build(node: Any, trail: tuple[Any, ...]) -> Job | JobRef | None:
        if node in built:
            return built[node]
        if node in trail:
            loop = " -> ".join(str(n) for n in (*trail[trail.index(node) :], node))
            raise ModelError(f"{where}: the graph has a cycle: {loop}")
        attrs = attrs_of[node]
        after = [
            Dependency(up, kind) for p, kind in parents[node] if (up := build(p, (*trail, node))) is not None
        ]
        made: Job | JobRef | None = None
        if node in jobs or isinstance(attrs.get("job"), Mapping):
            job = jobs[node] if node in jobs else job_from_spec(attrs["job"], (), f"{where}: node {node!r}")
            changes: dict[str, Any] = {}
            if after:
                changes["depends"] = (*job.depends, *after)
            if scripts[node]:
                changes["setup"] = (*job.setup, *scripts[node])
            made = job.with_changes(**changes) if changes else job
        elif attrs.get("db_id"):
            made = JobRef(str(attrs["db_id"]), str(attrs.get("name") or node))
        if made is not None:
            built[node] = made
        return made

    for node, _ in nodes:
        build(node, ())
    names = {node: job.name for node, job in built.items()}
    found = [j for j in built.values() if isinstance(j, Job)]
    if not found:
        return None, names
    return Workflow(found, name=name or default_workflow_name(found)), names


def selection_of_file(path: str | os.PathLike[str]) -> Selection:
    """What a verb given a graph file acts on: the keys the file records (``db_id``) and
    the jobs it describes, as one workflow (named as the file's ``graph`` says)."""
    nodes, edges, graph = read_graph(path)
    keys = tuple(str(a["db_id"]) for _, a in nodes if a.get("db_id"))
    name = graph.get("name") if isinstance(graph.get("name"), str) else None
    workflow, _names = workflow_of(nodes, edges, {}, name, str(path))
    workflows = (workflow,) if workflow is not None else ()
    return Selection(None, workflows, keys, (name,) if name and keys else ())
