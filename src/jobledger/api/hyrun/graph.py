"""hyrun's ``JobGraph``: jobs as the nodes of a directed graph, dependencies as its edges."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from jobledger.api.hyrun.graph_text import GraphText
from jobledger.api.hyrun.jobs import Job, get_job
from jobledger.api.nodelink import job_spec, workflow_of
from jobledger.errors import ModelError
from jobledger.model.job import Job as ModelJob
from jobledger.model.workflow import Workflow
from jobledger.session.selection import Selection

NODE_KEYS = ("node", "nodes", "jobs", "job", "tasks", "task")
EDGE_KEYS = ("edge", "edges", "dependencies", "dependency")
EDGE_ATTRS = ("weight", "script", "kind")
Requirement = Callable[["JobGraph", Any], bool]

_log = logging.getLogger("jobledger.hyrun")


def ancestors_completed(graph: JobGraph, node: Any) -> bool:
    """The default requirement: every direct ancestor's status is ``COMPLETED``."""
    return all(str(graph[p].get("status", "")).upper() == "COMPLETED" for p in graph.predecessors(node))


class JobGraph(GraphText):
    """A workflow as hyrun draws it: nodes are jobs (by hash, or by insertion index),
    edges ``(u, v[, weight])`` say that ``v`` runs after ``u``.

    ``JobGraph(nodes=jobs, edges=[(u, v), ...])`` (also spelled ``jobs=``,
    ``dependencies=``); ``weights=[(u, v, w)]``; an edge's ``script`` attribute is a shell
    line that runs before the child. Edges may name nodes by id, by position in
    ``nodes``, or by the Job object. ``graph[node]`` and ``graph[(u, v)]`` are the
    attribute dicts (``status``, ``db_id``, ``name``, ``weight`` ...). Every jobledger and
    hyrun verb takes a JobGraph, and a path to the JSON file :meth:`write` makes.
    """

    def __init__(
        self,
        *,
        weights: Sequence[Any] | None = None,
        run_requirements: Requirement | Sequence[Requirement] | None = None,
        logger: logging.Logger | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.logger = logger or _log
        self.name = name
        self._attrs: dict[Any, dict[str, Any]] = {}
        self._jobs: dict[Any, Job] = {}
        self._succ: dict[Any, dict[Any, dict[str, Any]]] = {}
        self._pred: dict[Any, dict[Any, dict[str, Any]]] = {}
        reqs = run_requirements if run_requirements is not None else [ancestors_completed]
        self.run_requirements: list[Requirement] = [reqs] if callable(reqs) else list(reqs)
        nodes = _pick(kwargs, NODE_KEYS, "nodes")
        edges = _pick(kwargs, EDGE_KEYS, "edges")
        if kwargs:
            raise TypeError(f"JobGraph() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        order = [self.add_node(n) for n in _listed(nodes, edges=False)]
        for edge in [*_listed(edges, edges=True), *_listed(weights, edges=True)]:
            if isinstance(edge, dict) and len(edge) == 1:
                (u, v), attrs = next(iter(edge.items())), {}
            elif isinstance(edge, (tuple, list)) and len(edge) >= 2:
                u, v = edge[0], edge[1]
                attrs = dict(edge[2]) if len(edge) > 2 and isinstance(edge[2], dict) else {}
                if len(edge) > 2 and not isinstance(edge[2], dict):
                    attrs = {"weight": edge[2]}
            else:
                raise ModelError(f"an edge is (u, v), (u, v, weight) or {{u: v}}, not {edge!r}")
            self.add_edge(self._id(u, order), self._id(v, order), **attrs)

    # -------------------------------------------------------------- building
    def _id(self, ref: Any, order: Sequence[Any] = ()) -> Any:
        if isinstance(ref, (Job, ModelJob)):
            ref = get_job(ref).hash
        if ref in self._attrs:
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(order):
            return order[ref]
        raise ModelError(
            f"no node {ref!r} in the graph (nodes: {', '.join(map(str, self._attrs)) or 'none'})"
        )

    def add_node(self, node: Any) -> Any:
        """Add a job (anything :func:`~jobledger.api.hyrun.get_job` takes); returns its id:
        the job's hash, or the insertion index when it has none."""
        job = get_job(node)
        idx = job.hash if job.hash is not None else len(self._attrs)
        if idx in self._attrs:
            self.logger.debug("node %s is already in the graph", idx)
            return idx
        model = job.model()
        attrs: dict[str, Any] = {"hash": job.hash, "status": job.status, "db_id": job.db_id}
        if model is not None:
            attrs["name"] = model.name
            spec = job_spec(model)
            if spec is not None:
                attrs["job"] = spec
        self._attrs[idx] = attrs
        self._jobs[idx] = job
        self._succ[idx], self._pred[idx] = {}, {}
        return idx

    def add_edge(self, u: Any, v: Any, **attrs: Any) -> None:
        """``v`` runs after ``u`` (attributes: ``weight``, ``script``, ``kind``)."""
        u, v = self._id(u), self._id(v)
        data = self._succ[u].setdefault(v, {})
        data.update(attrs)
        self._pred[v][u] = data

    def remove_node(self, node: Any) -> None:
        """Remove a node and its edges."""
        node = self._id(node)
        for v in list(self._succ[node]):
            del self._pred[v][node]
        for u in list(self._pred[node]):
            del self._succ[u][node]
        for table in (self._attrs, self._jobs, self._succ, self._pred):
            table.pop(node, None)

    def remove_edge(self, u: Any, v: Any, remove_descendants: bool = False) -> None:
        """Remove an edge; with ``remove_descendants``, ``v`` and all below it go too."""
        u, v = self._id(u), self._id(v)
        if v not in self._succ[u]:
            raise ModelError(f"no edge {u!r} -> {v!r} in the graph")
        below = self.descendants(v)
        del self._succ[u][v]
        del self._pred[v][u]
        if remove_descendants:
            for node in [v, *below]:
                if node in self._attrs:
                    self.remove_node(node)

    # -------------------------------------------------------------- reading
    @property
    def nodes(self) -> list[Any]:
        """Node ids, in insertion order."""
        return list(self._attrs)

    @property
    def edges(self) -> list[tuple[Any, Any]]:
        """Edges ``(u, v)``."""
        return [(u, v) for u, outs in self._succ.items() for v in outs]

    @property
    def jobs(self) -> dict[Any, Job]:
        """The :class:`~jobledger.api.hyrun.Job` of each node (read from a file: none)."""
        return dict(self._jobs)

    def predecessors(self, node: Any) -> list[Any]:
        """Direct ancestors of ``node``."""
        return list(self._pred[self._id(node)])

    def successors(self, node: Any) -> list[Any]:
        """Direct descendants of ``node``."""
        return list(self._succ[self._id(node)])

    def _reach(self, node: Any, table: dict[Any, dict[Any, dict[str, Any]]]) -> list[Any]:
        seen: dict[Any, None] = {}
        stack = list(table[self._id(node)])
        while stack:
            cur = stack.pop(0)
            if cur not in seen:
                seen[cur] = None
                stack.extend(table[cur])
        return list(seen)

    def ancestors(self, node: Any) -> list[Any]:
        """Every node ``node`` depends on, transitively."""
        return self._reach(node, self._pred)

    def descendants(self, node: Any) -> list[Any]:
        """Every node that depends on ``node``, transitively."""
        return self._reach(node, self._succ)

    @property
    def topological(self) -> list[Any]:
        """Node ids so that every node comes after its ancestors (insertion order kept
        among nodes that do not depend on each other)."""
        pending = {n: len(p) for n, p in self._pred.items()}
        ready = [n for n in self._attrs if pending[n] == 0]
        order: list[Any] = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for child in self._succ[node]:
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
        if len(order) != len(self._attrs):
            stuck = ", ".join(str(n) for n in self._attrs if n not in order)
            raise ModelError(f"the graph has a cycle through {stuck}")
        return order

    def is_ready_to_run(self, node: Any) -> bool:
        """True when every run requirement holds (by default: direct ancestors completed)."""
        node = self._id(node)
        return all(req(self, node) for req in self.run_requirements)

    def __getitem__(self, item: Any) -> dict[str, Any]:
        if isinstance(item, tuple) and len(item) == 2 and item not in self._attrs:
            u, v = self._id(item[0]), self._id(item[1])
            if v not in self._succ[u]:
                raise KeyError(f"no edge {u!r} -> {v!r}")
            return self._succ[u][v]
        return self._attrs[self._id(item)]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._attrs))

    def __len__(self) -> int:
        return len(self._attrs)

    def __contains__(self, item: object) -> bool:
        return item in self._attrs

    def __copy__(self) -> JobGraph:
        new = JobGraph(logger=self.logger, name=self.name, run_requirements=self.run_requirements)
        new._attrs = {n: dict(a) for n, a in self._attrs.items()}
        new._jobs = dict(self._jobs)
        new._succ = {u: {v: dict(a) for v, a in outs.items()} for u, outs in self._succ.items()}
        new._pred = {v: {u: new._succ[u][v] for u in ins} for v, ins in self._pred.items()}
        return new

    def __add__(self, other: JobGraph) -> JobGraph:
        if not isinstance(other, JobGraph):
            raise TypeError("only a JobGraph can be added to a JobGraph")
        new = copy.copy(self)
        for node in other.nodes:
            if node not in new._attrs:
                new._attrs[node] = dict(other[node])
                new._succ[node], new._pred[node] = {}, {}
                if node in other._jobs:
                    new._jobs[node] = other._jobs[node]
        for u, v in other.edges:
            new.add_edge(u, v, **other[(u, v)])
        return new

    def __repr__(self) -> str:
        return f"JobGraph(nodes={len(self)}, edges={len(self.edges)})"

    # -------------------------------------------------------------- running
    def workflow(self, name: str | None = None) -> tuple[Workflow | None, dict[Any, str]]:
        """The jobledger workflow of the nodes that carry a job, and each node's job name."""
        nodes = [(n, a) for n, a in self._attrs.items()]
        edges = [(u, v, a) for u, outs in self._succ.items() for v, a in outs.items()]
        models = {n: m for n, j in self._jobs.items() if (m := j.model()) is not None}
        return workflow_of(nodes, edges, models, name or self.name)

    def _jobledger_selection(self) -> Selection:
        """Lets every verb take a JobGraph: its jobs, and the keys its nodes recorded."""
        workflow, _names = self.workflow()
        keys = tuple(str(a["db_id"]) for a in self._attrs.values() if a.get("db_id"))
        return Selection(None, (workflow,) if workflow is not None else (), keys, ())


def _pick(kwargs: dict[str, Any], keys: Sequence[str], label: str) -> Any:
    found = [k for k in keys if k in kwargs]
    if len(found) > 1:
        raise TypeError(f"JobGraph(): give the {label} once, not as {' and '.join(found)}")
    return kwargs.pop(found[0]) if found else None


def _listed(value: Any, edges: bool) -> list[Any]:
    """Items of a list (or tuple); a bare edge ``(u, v[, w])`` or node is one item."""
    if value is None:
        return []
    if isinstance(value, tuple) and edges and value and not isinstance(value[0], (tuple, list, dict)):
        return [value]
    return list(value) if isinstance(value, (list, tuple)) else [value]
