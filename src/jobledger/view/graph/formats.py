"""The output formats of the DAG and :func:`render`, which picks one by name."""

from __future__ import annotations

from jobledger.view.graph.dot import to_dot
from jobledger.view.graph.mermaid import to_mermaid
from jobledger.view.graph.model import Graph
from jobledger.view.graph.svg import to_svg

FORMATS = ("svg", "dot", "mermaid")


def render(graph: Graph, fmt: str) -> str:
    """``graph`` in one of :data:`FORMATS`."""
    if fmt == "svg":
        return to_svg(graph)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")
