"""The DAG as data: :class:`Node`, :class:`Edge` and :class:`Graph`, built from the ledger's
state by :func:`build_graph`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from jobledger.gcpause import gc_paused
from jobledger.ledger.queries import SettledJob, SettledNode, indexed_nodes, node_of
from jobledger.ledger.state import JobInfo, ProjectState
from jobledger.states import JobState


@attrs.frozen
class Node:
    """One job of the DAG (an array job is one node)."""

    key: str
    ident: str
    name: str
    state: str
    host: str
    attempts: int
    exit_code: int | None
    array_total: int
    array_counts: tuple[tuple[str, int], ...]
    reused: bool

    @property
    def is_array(self) -> bool:
        """True for an array job (collapsed to this one node)."""
        return self.array_total > 0

    @property
    def subtitle(self) -> str:
        """Second label line: state, element counts, attempt number."""
        if self.is_array:
            counts = ", ".join(f"{n} {s}" for s, n in self.array_counts)
            text = f"[{self.array_total}] {counts}"
        else:
            text = self.state
            if self.exit_code not in (None, 0):
                text += f" (exit {self.exit_code})"
        if self.attempts > 1:
            text += f" · attempt {self.attempts}"
        if self.reused:
            text += " · reused"
        return text


@attrs.frozen
class Edge:
    """``source`` must end before ``target`` (``kind`` afterok, afterany, afternotok)."""

    source: str
    target: str
    kind: str
    source_host: str
    target_host: str

    @property
    def cross_host(self) -> bool:
        """True when the two jobs run on different hosts."""
        return self.source_host != self.target_host


@attrs.frozen
class Graph:
    """Nodes (in definition order) and edges of one or more workflows."""

    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @property
    def hosts(self) -> list[str]:
        """Hosts in order of first appearance."""
        return list(dict.fromkeys(n.host for n in self.nodes))

    def node(self, key: str) -> Node:
        """The node of ``key``."""
        for candidate in self.nodes:
            if candidate.key == key:
                return candidate
        raise KeyError(key)


_ORDER = {s.value: i for i, s in enumerate(JobState)}


def _node(info: JobInfo, ident: str, reused: bool) -> Node:
    cur = info.current
    counts: dict[str, int] = {}
    total = 0
    if info.array:
        elements = cur.elements if cur else ()
        states = [e.state.value for e in elements] or ["pending"] * len(info.array)
        total = len(info.array)
        for value in states:
            counts[value] = counts.get(value, 0) + 1
    ordered = tuple(sorted(counts.items(), key=lambda kv: _ORDER[kv[0]]))
    return Node(
        key=info.key,
        ident=ident,
        name=info.name,
        state=info.state.value,
        host=(cur.host if cur and cur.host else info.host) or "local",
        attempts=len(info.attempts),
        exit_code=cur.exit_code if cur else None,
        array_total=total,
        array_counts=ordered,
        reused=reused,
    )


def job_node(info: JobInfo, ident: str, reused: bool) -> Node:
    """The node of a job read in full (``ident``: its id in the graph)."""
    return _node(info, ident, reused)


def _settled_node(job: SettledNode, ident: str, reused: bool) -> Node:
    return Node(
        key=job.key,
        ident=ident,
        name=job.name,
        state=job.state.value,
        host=job.host,
        attempts=1,
        exit_code=job.exit_code,
        array_total=0,
        array_counts=(),
        reused=reused,
    )


@attrs.frozen
class Members:
    """The jobs a graph draws, before they become nodes (see :func:`members`)."""

    title: str
    jobs: list[SettledNode | JobInfo]
    """In order, each once: settled ones as read from their packed records."""
    reused: set[str]
    by_name: dict[str, int]
    """Number of jobs of each name (a name several jobs share gets their keys in idents)."""

    def ident(self, job: SettledNode | JobInfo) -> str:
        """The node id of ``job``: its name, with its key's start when the name is shared."""
        return job.name if self.by_name[job.name] == 1 else f"{job.name}-{job.key[:8]}"

    def node(self, job: SettledNode | JobInfo) -> Node:
        """The node of one job."""
        if isinstance(job, SettledNode):
            return _settled_node(job, self.ident(job), job.key in self.reused)
        return _node(job, self.ident(job), job.key in self.reused)


def after_of(job: SettledNode | JobInfo) -> Sequence[Sequence[str]]:
    """``(upstream key, kind)`` of each dependency of ``job``."""
    if isinstance(job, SettledNode):
        return job.after
    return job.spec.after if job.spec is not None else ()


def members(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    settled: Mapping[str, SettledJob] | None = None,
) -> Members:
    """The jobs of ``workflows`` (every workflow by default), each once; settled ones read
    from the snapshot's view index or their packed records (``settled``: those already
    read, see :func:`~jobledger.ledger.queries.settled_jobs`), the others decoded."""
    names = list(workflows) if workflows is not None else list(state.workflows())
    keys: dict[str, None] = {}  # in order, each once
    chosen: list[str] = []
    for name in names:
        wf = state.workflow(name)
        if wf is None:
            continue
        chosen.append(name)
        keys.update(dict.fromkeys(wf.job_keys))
    with gc_paused():
        if settled is None:
            light = indexed_nodes(state.model, keys)
        else:
            light = {key: node_of(job) for key, job in settled.items()}
        jobs: list[SettledNode | JobInfo] = []
        for key in keys:
            found = light.get(key) or state.job(key)
            if found is not None:
                jobs.append(found)
        by_name: dict[str, int] = {}
        for job in jobs:
            by_name[job.name] = by_name.get(job.name, 0) + 1
    reused = set().union(*(state.reused(name) for name in chosen)) if chosen else set()
    return Members(", ".join(chosen) or "(no workflow)", jobs, reused, by_name)


def build_graph(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    *,
    settled: Mapping[str, SettledJob] | None = None,
) -> Graph:
    """The DAG of ``workflows`` (every workflow by default), each job once.

    Unknown workflow names are ignored; edges to jobs outside the selection are dropped.
    Settled jobs are read from their packed records (``settled``: those already read, see
    :func:`~jobledger.ledger.queries.settled_jobs`), the others decoded.
    """
    return every_job(members(state, workflows, settled))


def every_job(found: Members) -> Graph:
    """The graph of ``found`` with a node for each job."""
    with gc_paused():
        nodes = [found.node(job) for job in found.jobs]
        host_of = {n.key: n.host for n in nodes}
        edges = []
        for job in found.jobs:
            for upstream, kind in after_of(job):
                if upstream in host_of:
                    edges.append(Edge(upstream, job.key, kind, host_of[upstream], host_of[job.key]))
    return Graph(found.title, tuple(nodes), tuple(edges))


def counts_by_state(graph: Graph) -> Mapping[str, int]:
    """Number of nodes per state (for legends and summaries)."""
    out: dict[str, int] = {}
    for node in graph.nodes:
        out[node.state] = out.get(node.state, 0) + 1
    return out
