"""The DAG collapsed into groups of jobs (:func:`group_graph`), as Snakemake's rule graph.

Jobs whose names differ only in their numbers (``sim-1`` .. ``sim-5000``: pattern
``sim-*``) become one node that counts its jobs by state (drawn like an array job), and
the edges between their jobs become one edge between the groups. A job whose pattern no
other job shares stays as it is. A graph of 10,000 jobs of a few kinds draws as a few
nodes; ``jobledger graph --full`` draws every job.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, NamedTuple

from jobledger.gcpause import gc_paused
from jobledger.ledger.queries import SettledJob, SettledNode
from jobledger.ledger.state import ProjectState
from jobledger.states import JobState
from jobledger.view.graph.model import Edge, Graph, Members, Node, after_of, every_job, members

#: Graphs of more nodes than this are collapsed into groups unless the full graph is asked.
COLLAPSE_AT = 100

_NUMBER = re.compile(r"\d+")
_ORDER = {s.value: i for i, s in enumerate(JobState)}
#: The one state a group shows: the first of these that some member has.
_SHOWN = ("lost", "failed", "timeout", "out_of_memory", "node_fail", "boot_fail", "preempted",
          "dependency_failed", "cancelled", "running", "submitted", "pending", "completed")  # fmt: skip


def pattern(name: str) -> str:
    """The group a job name falls in: its numbers replaced by ``*``."""
    return _NUMBER.sub("*", name)


class _Group:
    """The jobs of one name pattern, added one by one, and the node that draws them."""

    def __init__(self) -> None:
        self.size = 0
        self.counts: dict[str, int] = {}
        self.hosts: dict[str, None] = {}
        self.attempts = 0
        self.reused = True
        self.first_state = ""

    def add(
        self, state: str, host: str, attempts: int, reused: bool, elements: Iterable[tuple[str, int]] = ()
    ) -> None:
        """One job: its state, or the counts of its array ``elements`` by state."""
        if not self.size:
            self.first_state = state
        self.size += 1
        counts = self.counts
        if elements:
            for value, n in elements:
                counts[value] = counts.get(value, 0) + n
        else:
            counts[state] = counts.get(state, 0) + 1
        self.hosts[host] = None
        self.attempts = max(self.attempts, attempts)
        self.reused = self.reused and reused

    def add_node(self, node: Node) -> None:
        """One job drawn as ``node``."""
        self.add(
            node.state, node.host, node.attempts, node.reused, node.array_counts if node.is_array else ()
        )

    def node(self, pat: str) -> Node:
        """The group's node."""
        counts = self.counts
        shown = next((s for s in _SHOWN if s in counts), self.first_state)
        hosts = list(self.hosts)
        return Node(
            key=f"group:{pat}",
            ident=pat,
            name=f"{pat} ({self.size:,} jobs)",
            state=shown,
            host=hosts[0] if len(hosts) == 1 else "several hosts",
            attempts=self.attempts,
            exit_code=None,
            array_total=sum(counts.values()),
            array_counts=tuple(sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 99))),
            reused=self.reused,
        )


def _group_node(pat: str, members: list[Node]) -> Node:
    group = _Group()
    for node in members:
        group.add_node(node)
    return group.node(pat)


def group_graph(graph: Graph) -> Graph:
    """``graph`` with the jobs of each name pattern shared by several jobs as one node."""
    members: dict[str, list[Node]] = {}
    for node in graph.nodes:
        members.setdefault(pattern(node.name), []).append(node)
    group_of: dict[str, Node] = {}
    nodes: list[Node] = []
    for pat, group in members.items():
        if len(group) == 1:
            group_of[group[0].key] = group[0]
            nodes.append(group[0])
            continue
        node = _group_node(pat, group)
        nodes.append(node)
        for member in group:
            group_of[member.key] = node
    edges: dict[tuple[str, str, str], Edge] = {}
    for edge in graph.edges:
        source, target = group_of[edge.source], group_of[edge.target]
        if source.key == target.key:
            continue  # between jobs of one group (a chain sim-1 -> sim-2): inside the node
        edges.setdefault(
            (source.key, target.key, edge.kind),
            Edge(source.key, target.key, edge.kind, edge.source_host, edge.target_host),
        )
    return Graph(graph.title, tuple(nodes), tuple(edges.values()))


def collapsed(graph: Graph, full: bool | None = None) -> Graph:
    """``graph`` grouped when ``full`` is False, or when it is None and the graph has more
    than :data:`COLLAPSE_AT` nodes; else ``graph`` itself."""
    if full or (full is None and len(graph.nodes) <= COLLAPSE_AT):
        return graph
    return group_graph(graph)


def grouped_graph(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    *,
    settled: Mapping[str, SettledJob] | None = None,
) -> Graph:
    """``group_graph(build_graph(state, workflows))``, without a node for each job of a group
    in between (a 100,000-job graph of a few name patterns)."""
    return _grouped(members(state, workflows, settled))


def collapsed_graph(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    full: bool | None = None,
    *,
    settled: Mapping[str, SettledJob] | None = None,
) -> Graph:
    """``collapsed(build_graph(state, workflows), full)``, without a node for each job of a
    group when it is grouped."""
    return collapsed_members(members(state, workflows, settled), full)


def collapsed_members(found: Members, full: bool | None = None) -> Graph:
    """The graph of ``found``: grouped when ``full`` is False, or when it is None and there
    are more than :data:`COLLAPSE_AT` jobs; else a node for each job."""
    if full or (full is None and len(found.jobs) <= COLLAPSE_AT):
        return every_job(found)
    return _grouped(found)


def _grouped(found: Members) -> Graph:
    jobs = found.jobs
    special: dict[int, Node] = {}
    with gc_paused():
        for p, job in enumerate(jobs):
            if type(job) is not SettledNode:
                special[p] = found.node(job)
        settled: list[Any] = jobs
        keys = [job.key for job in jobs]
        states = [
            job.state._value_ if p not in special else special[p].state for p, job in enumerate(settled)
        ]
        hosts = [job.host if p not in special else special[p].host for p, job in enumerate(settled)]
        afters = [job.after if p not in special else after_of(job) for p, job in enumerate(settled)]
        reused = [key in found.reused for key in keys]

    def node_at(p: int) -> Node:
        return special.get(p) or found.node(jobs[p])

    return group_columns(
        found.title,
        Columns(keys, [job.name for job in jobs], states, hosts, reused, afters),
        node_at,
        special,
    )


class Columns(NamedTuple):
    """Jobs as columns: ``keys[p]`` is the job at position ``p``; its name, state (value),
    host as drawn, whether the latest run reused it, and its dependencies."""

    keys: Sequence[str]
    names: Sequence[str]
    states: Sequence[str]
    hosts: Sequence[str]
    reused: Sequence[bool]
    afters: Sequence[Sequence[Sequence[str]]]


def group_columns(
    title: str, jobs: Columns, node_at: Callable[[int], Node], special: Container[int] = ()
) -> Graph:
    """The grouped graph of ``jobs``: ``node_at(p)`` is the node of the job at ``p`` alone;
    the jobs at ``special`` positions are added to their group as that node (arrays,
    several attempts), the others as settled jobs with one attempt."""
    keys, states, hosts, reused = jobs.keys, jobs.states, jobs.hosts, jobs.reused
    with gc_paused():
        by_pattern = _positions(list(map(_NUMBER.sub, repeat("*"), jobs.names)))
        group_of: dict[str, str] = {}
        nodes: list[Node] = []
        for pat, ps in by_pattern.items():
            if len(ps) == 1:
                node = node_at(ps[0])
                group_of[node.key] = node.key
                nodes.append(node)
                continue
            group = _Group()
            plain = [p for p in ps if p not in special] if special else ps
            group.size = len(ps)
            group.first_state = states[ps[0]]
            group.counts.update(Counter(states[p] for p in plain))
            group.hosts.update(dict.fromkeys(hosts[p] for p in ps))
            group.attempts = 1 if plain else 0
            group.reused = all(reused[p] for p in ps)
            if len(plain) < len(ps):
                for p in ps:
                    if p in special:
                        member = node_at(p)
                        for value, n in member.array_counts if member.is_array else ((member.state, 1),):
                            group.counts[value] = group.counts.get(value, 0) + n
                        group.attempts = max(group.attempts, member.attempts)
            node = group.node(pat)
            nodes.append(node)
            group_of.update(dict.fromkeys((keys[p] for p in ps), node.key))
        host_of = dict(zip(keys, hosts, strict=True))
        # every dependency (downstream key, upstream key, kind), in order
        links = [
            (key, up, kind)
            for key, after in zip(keys, jobs.afters, strict=True)
            if after
            for up, kind in after
        ]
        ends = [(group_of.get(up), group_of[key], kind) for key, up, kind in links]
        first: dict[tuple[str | None, str, str], int] = {}
        for n, end in enumerate(ends):  # the first link between two groups draws their edge
            if end not in first and end[0] is not None and end[0] != end[1]:
                first[end] = n
        edges = [
            Edge(source, target, kind, host_of[links[n][1]], host_of[links[n][0]])  # type: ignore[arg-type]
            for (source, target, kind), n in first.items()
        ]
    return Graph(title, tuple(nodes), tuple(edges))


def _positions(patterns: list[str]) -> dict[str, list[int]]:
    """Pattern -> the positions that have it, patterns in order of first appearance."""
    distinct = dict.fromkeys(patterns)
    if len(distinct) <= 8:  # a few kinds of job: a pass over the names for each
        return {pat: [p for p, x in enumerate(patterns) if x == pat] for pat in distinct}
    out: dict[str, list[int]] = {}
    for p, pat in enumerate(patterns):
        found = out.get(pat)
        if found is None:
            out[pat] = [p]
        else:
            found.append(p)
    return out
