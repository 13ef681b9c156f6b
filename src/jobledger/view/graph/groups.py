"""The DAG collapsed into groups of jobs (:func:`group_graph`), as Snakemake's rule graph.

Jobs whose names differ only in their numbers (``sim-1`` .. ``sim-5000``: pattern
``sim-*``) become one node that counts its jobs by state (drawn like an array job), and
the edges between their jobs become one edge between the groups. A job whose pattern no
other job shares stays as it is. A graph of 10,000 jobs of a few kinds draws as a few
nodes; ``jobledger graph --full`` draws every job.
"""

from __future__ import annotations

import re

from jobledger.states import JobState
from jobledger.view.graph.model import Edge, Graph, Node

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


def _group_node(pat: str, members: list[Node]) -> Node:
    counts: dict[str, int] = {}
    for node in members:
        if node.is_array:
            for state, n in node.array_counts:
                counts[state] = counts.get(state, 0) + n
        else:
            counts[node.state] = counts.get(node.state, 0) + 1
    shown = next((s for s in _SHOWN if s in counts), members[0].state)
    hosts = {n.host for n in members}
    return Node(
        key=f"group:{pat}",
        ident=pat,
        name=f"{pat} ({len(members):,} jobs)",
        state=shown,
        host=members[0].host if len(hosts) == 1 else "several hosts",
        attempts=max(n.attempts for n in members),
        exit_code=None,
        array_total=sum(counts.values()),
        array_counts=tuple(sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 99))),
        reused=all(n.reused for n in members),
    )


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
