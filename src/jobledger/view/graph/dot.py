"""The DAG as Graphviz DOT (:func:`to_dot`)."""

from __future__ import annotations

from jobledger.view.graph.model import Edge, Graph, Node
from jobledger.view.graph.palette import _TEXT_ON, CROSS_HOST_COLOUR, colours


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _edge_attrs(edge: Edge) -> dict[str, str]:
    out: dict[str, str] = {}
    if edge.kind == "afterany":
        out.update(style="dashed", label="any")
    elif edge.kind == "afternotok":
        out.update(style="dotted", label="on failure")
    if edge.cross_host:
        out.update(
            style="dashed",
            color=CROSS_HOST_COLOUR,
            penwidth="2",
            label=f"{edge.source_host} → {edge.target_host}",
            fontcolor=CROSS_HOST_COLOUR,
        )
    return out


def to_dot(graph: Graph) -> str:
    """Graphviz DOT: left to right, one cluster per host when there are several."""
    lines = [
        f"digraph {_dot_quote(graph.title)} {{",
        "  graph [rankdir=LR, nodesep=0.25, ranksep=0.6, fontname=Helvetica];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11];',
        "  edge [fontname=Helvetica, fontsize=9, arrowsize=0.7];",
    ]
    hosts = graph.hosts
    clustered = len(hosts) > 1

    def node_line(node: Node, indent: str) -> str:
        fill, stroke = colours(node.state)
        fields = {
            "label": f"{node.name}\n{node.subtitle}",
            "fillcolor": fill,
            "color": stroke,
            "tooltip": f"{node.name}: {node.state} on {node.host}",
        }
        if node.state in _TEXT_ON:
            fields["fontcolor"] = _TEXT_ON[node.state]
        if node.is_array:
            fields["peripheries"] = "2"
        body = ", ".join(f"{k}={_dot_quote(v)}" for k, v in fields.items())
        return f"{indent}{_dot_quote(node.ident)} [{body}];"

    if clustered:
        for number, host in enumerate(hosts):
            lines.append(f"  subgraph cluster_{number} {{")
            lines.append(f'    label={_dot_quote("host " + host)}; style=dashed; color="#b0bec5";')
            lines.extend(node_line(n, "    ") for n in graph.nodes if n.host == host)
            lines.append("  }")
    else:
        lines.extend(node_line(n, "  ") for n in graph.nodes)
    ident = {n.key: n.ident for n in graph.nodes}
    for edge in graph.edges:
        extra = _edge_attrs(edge)
        suffix = ""
        if extra:
            suffix = " [" + ", ".join(f"{k}={_dot_quote(v)}" for k, v in extra.items()) + "]"
        lines.append(f"  {_dot_quote(ident[edge.source])} -> {_dot_quote(ident[edge.target])}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
