"""The workflow DAG as DOT, Mermaid or SVG, drawn from the ledger alone.

Everything here is pure: a :class:`~jobledger.ledger.state.ProjectState` goes in, text comes
out, and the same state always gives the same bytes (no clock, no randomness, no system
binary). Nodes are coloured by state; an array job is one node that counts its elements
by state; an edge between jobs on different hosts is drawn dashed, orange and labelled.

The SVG uses a small layered layout computed here: each job sits in the column of its
dependency depth (longest path from a job without upstream), edges spanning several
columns are routed through placeholder slots, and a few barycentre sweeps order each
column to reduce crossings.

    state = project.ledger.state
    graph = build_graph(state, ["pi"])
    Path("pi.svg").write_text(to_svg(graph))
"""

from __future__ import annotations

from jobledger.view.graph.dot import to_dot
from jobledger.view.graph.formats import FORMATS, render
from jobledger.view.graph.layered import layout, main_host, svg_subtitle
from jobledger.view.graph.mermaid import to_mermaid
from jobledger.view.graph.model import Edge, Graph, Node, build_graph, counts_by_state
from jobledger.view.graph.palette import CROSS_HOST_COLOUR, STATE_COLOURS, colours
from jobledger.view.graph.svg import to_svg

__all__ = [
    "CROSS_HOST_COLOUR",
    "FORMATS",
    "STATE_COLOURS",
    "Edge",
    "Graph",
    "Node",
    "build_graph",
    "colours",
    "counts_by_state",
    "layout",
    "main_host",
    "render",
    "svg_subtitle",
    "to_dot",
    "to_mermaid",
    "to_svg",
]
