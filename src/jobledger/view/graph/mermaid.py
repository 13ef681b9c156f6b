"""The DAG as a Mermaid flowchart (:func:`to_mermaid`)."""

from __future__ import annotations

from jobledger.view.graph.model import Graph
from jobledger.view.graph.palette import _TEXT_ON, CROSS_HOST_COLOUR, colours


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart LR`` (paste into Markdown that renders Mermaid)."""
    lines = ["flowchart LR"]
    ident = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    used: list[str] = []
    for node in graph.nodes:
        label = f"{_mermaid_text(node.name)}<br/>{_mermaid_text(node.subtitle)}"
        opening, closing = ('[["', '"]]') if node.is_array else ('("', '")')
        lines.append(f"  {ident[node.key]}{opening}{label}{closing}:::{node.state}")
        if node.state not in used:
            used.append(node.state)
    cross: list[int] = []
    for number, edge in enumerate(graph.edges):
        a, b = ident[edge.source], ident[edge.target]
        if edge.cross_host:
            label = _mermaid_text(f"{edge.source_host} → {edge.target_host}")
            lines.append(f'  {a} -. "{label}" .-> {b}')
            cross.append(number)
        elif edge.kind == "afterany":
            lines.append(f'  {a} -. "any" .-> {b}')
        elif edge.kind == "afternotok":
            lines.append(f'  {a} -. "on failure" .-> {b}')
        else:
            lines.append(f"  {a} --> {b}")
    for state in used:
        fill, stroke = colours(state)
        text = _TEXT_ON.get(state, "#212121")
        lines.append(f"  classDef {state} fill:{fill},stroke:{stroke},color:{text}")
    if cross:
        joined = ",".join(str(n) for n in cross)
        lines.append(f"  linkStyle {joined} stroke:{CROSS_HOST_COLOUR},stroke-width:2px")
    return "\n".join(lines) + "\n"
