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

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from itertools import pairwise

import attrs

from jobledger.ledger.state import JobInfo, ProjectState
from jobledger.states import JobState

FORMATS = ("svg", "dot", "mermaid")

#: ``state -> (fill, stroke)``: the palette shared by the graph, the report and the docs.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "pending": ("#eceff1", "#90a4ae"),
    "submitted": ("#e0f7fa", "#00acc1"),
    "running": ("#e3f2fd", "#1e88e5"),
    "completed": ("#e8f5e9", "#43a047"),
    "failed": ("#ffebee", "#e53935"),
    "cancelled": ("#fff8e1", "#f9a825"),
    "timeout": ("#fbe9e7", "#f4511e"),
    "out_of_memory": ("#fce4ec", "#d81b60"),
    "node_fail": ("#f3e5f5", "#8e24aa"),
    "preempted": ("#f3e5f5", "#8e24aa"),
    "boot_fail": ("#f3e5f5", "#8e24aa"),
    "dependency_failed": ("#efebe9", "#8d6e63"),
    "lost": ("#424242", "#e040fb"),
}
CROSS_HOST_COLOUR = "#ef6c00"
_TEXT_ON = {"lost": "#ffffff"}

# geometry of the SVG layout (pixels)
_NODE_H = 40
_ARRAY_H = 50
_DUMMY_H = 6
_V_GAP = 14
_H_GAP = 70
_MARGIN = 16
_MIN_W = 96
_MAX_W = 250
_NAME_CHARS = 34
_LEGEND_H = 26
_MAX_EDGE_LABELS = 4


def colours(state: str) -> tuple[str, str]:
    """``(fill, stroke)`` for a state name (unknown states are drawn as pending)."""
    return STATE_COLOURS.get(state, STATE_COLOURS["pending"])


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


# ------------------------------------------------------------------------------ model
def _node(info: JobInfo, ident: str, workflows: Sequence[str]) -> Node:
    cur = info.current
    counts: dict[str, int] = {}
    total = 0
    if info.array:
        elements = cur.elements if cur else ()
        states = [e.state.value for e in elements] or ["pending"] * len(info.array)
        total = len(info.array)
        for value in states:
            counts[value] = counts.get(value, 0) + 1
    order = [s.value for s in JobState]
    ordered = tuple(sorted(counts.items(), key=lambda kv: order.index(kv[0])))
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
        reused=any(w in info.reused_in for w in workflows),
    )


def build_graph(state: ProjectState, workflows: Iterable[str] | None = None) -> Graph:
    """The DAG of ``workflows`` (every workflow by default), each job once.

    Unknown workflow names are ignored; edges to jobs outside the selection are dropped.
    """
    names = list(workflows) if workflows is not None else list(state.workflows())
    keys: list[str] = []
    chosen: list[str] = []
    for name in names:
        wf = state.workflow(name)
        if wf is None:
            continue
        chosen.append(name)
        keys.extend(k for k in wf.job_keys if k not in keys)
    infos = [info for k in keys if (info := state.job(k)) is not None]
    by_name: dict[str, int] = {}
    for info in infos:
        by_name[info.name] = by_name.get(info.name, 0) + 1
    nodes = []
    for info in infos:
        ident = info.name if by_name[info.name] == 1 else f"{info.name}-{info.key[:8]}"
        nodes.append(_node(info, ident, chosen))
    host_of = {n.key: n.host for n in nodes}
    edges = []
    for info in infos:
        for upstream, kind in info.definition.get("after", []):
            if upstream in host_of:
                edges.append(Edge(upstream, info.key, kind, host_of[upstream], host_of[info.key]))
    return Graph(", ".join(chosen) or "(no workflow)", tuple(nodes), tuple(edges))


# ------------------------------------------------------------------------------ text formats
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


# ------------------------------------------------------------------------------ layout
@attrs.define
class _Slot:
    """A node or a placeholder an edge passes through, in one column."""

    ident: str
    layer: int
    width: float
    height: float
    node: Node | None
    x: float = 0.0
    y: float = 0.0


def _depths(graph: Graph) -> dict[str, int]:
    """Column of each node: longest dependency path from a job without upstream."""
    ups: dict[str, list[str]] = {n.key: [] for n in graph.nodes}
    for edge in graph.edges:
        ups[edge.target].append(edge.source)
    depth: dict[str, int] = {}
    for node in graph.nodes:
        stack = [(node.key, False)]
        visiting: set[str] = set()
        while stack:
            key, ready = stack.pop()
            if key in depth:
                continue
            if ready:
                visiting.discard(key)
                depth[key] = 1 + max((depth.get(u, 0) for u in ups[key]), default=-1)
                continue
            visiting.add(key)
            stack.append((key, True))
            stack.extend((u, False) for u in ups[key] if u not in depth and u not in visiting)
    return depth


def _text_width(text: str, size: float) -> float:
    return len(text) * size * 0.6


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main_host(graph: Graph) -> str:
    """The host most jobs run on (the first of those in a tie)."""
    tally: dict[str, int] = {}
    for node in graph.nodes:
        tally[node.host] = tally.get(node.host, 0) + 1
    return max(tally, key=lambda h: (tally[h], -list(tally).index(h))) if tally else "local"


def svg_subtitle(node: Node, primary: str | None) -> str:
    """The subtitle drawn in the SVG: with ``@host`` for jobs off the ``primary`` host."""
    text = node.subtitle
    if primary is not None and node.host != primary:
        text += f" · @{node.host}"
    return _clip(text, 44)


def _node_width(node: Node, primary: str | None) -> float:
    name_w = _text_width(_clip(node.name, _NAME_CHARS), 12.5)
    sub_w = _text_width(svg_subtitle(node, primary), 10)
    return max(_MIN_W, min(_MAX_W, max(name_w, sub_w) + 22))


def layout(graph: Graph) -> tuple[list[_Slot], list[list[str]], float, float]:
    """Place every node: slots, the chain of slot ids per edge, total width and height."""
    depth = _depths(graph)
    primary = main_host(graph) if len(graph.hosts) > 1 else None
    slots: dict[str, _Slot] = {}
    for node in graph.nodes:
        tall = float(_ARRAY_H if node.is_array else _NODE_H)
        slots[node.key] = _Slot(node.key, depth[node.key], _node_width(node, primary), tall, node)
    chains: list[list[str]] = []
    for number, edge in enumerate(graph.edges):
        chain = [edge.source]
        for layer in range(depth[edge.source] + 1, depth[edge.target]):
            ident = f"~{number}.{layer}"
            slots[ident] = _Slot(ident, layer, 0.0, _DUMMY_H, None)
            chain.append(ident)
        chain.append(edge.target)
        chains.append(chain)
    layers: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=0))]
    for ident, slot in slots.items():  # definition order, then placeholders by edge
        layers[slot.layer].append(ident)
    preds: dict[str, list[str]] = {s: [] for s in slots}
    succs: dict[str, list[str]] = {s: [] for s in slots}
    for chain in chains:
        for a, b in pairwise(chain):
            succs[a].append(b)
            preds[b].append(a)

    def sweep(order: range, neighbours: dict[str, list[str]], ref_step: int) -> None:
        for index in order:
            ref = {s: p for p, s in enumerate(layers[index + ref_step])}
            current = {s: p for p, s in enumerate(layers[index])}

            def centre(
                ident: str, ref: dict[str, int] = ref, current: dict[str, int] = current
            ) -> tuple[float, int]:
                linked = [ref[n] for n in neighbours[ident] if n in ref]
                return (
                    sum(linked) / len(linked) if linked else float(current[ident]),
                    current[ident],
                )

            layers[index].sort(key=centre)

    for _ in range(3):
        sweep(range(1, len(layers)), preds, -1)
        sweep(range(len(layers) - 2, -1, -1), succs, +1)

    heights = [
        sum((slots[s].height for s in layer), 0.0) + _V_GAP * max(0, len(layer) - 1) for layer in layers
    ]
    tallest = max(heights, default=0.0)
    x = float(_MARGIN)
    for members, column_h in zip(layers, heights, strict=True):
        column_w = max((slots[s].width for s in members), default=0.0)
        y = _MARGIN + (tallest - column_h) / 2
        for ident in members:
            slot = slots[ident]
            slot.x = x + (column_w - slot.width) / 2
            slot.y = y
            y += slot.height + _V_GAP
        x += column_w + _H_GAP
    width = x - _H_GAP + _MARGIN
    height = tallest + 2 * _MARGIN
    return list(slots.values()), chains, width, height


# ------------------------------------------------------------------------------ svg
def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edge_path(points: list[tuple[float, float]]) -> str:
    """Smooth path through ``points`` (horizontal tangents at every point)."""
    (x0, y0) = points[0]
    out = [f"M{_f(x0)},{_f(y0)}"]
    for (xa, ya), (xb, yb) in pairwise(points):
        dx = (xb - xa) / 2
        out.append(f"C{_f(xa + dx)},{_f(ya)} {_f(xb - dx)},{_f(yb)} {_f(xb)},{_f(yb)}")
    return " ".join(out)


def _array_bar(node: Node, x: float, y: float, width: float) -> list[str]:
    out = []
    cursor = x
    for state, number in node.array_counts:
        part = width * number / node.array_total
        out.append(
            f'<rect x="{_f(cursor)}" y="{_f(y)}" width="{_f(part)}" height="5" '
            f'fill="{colours(state)[1]}"><title>{number} {escape(state)}</title></rect>'
        )
        cursor += part
    return out


def to_svg(graph: Graph, *, standalone: bool = True, element_id: str = "dag") -> str:
    """The DAG as SVG (valid XML; with ``standalone`` an XML declaration is added).

    Each job is a ``<g class="node" data-key=... data-state=...>``; each edge a
    ``<path class="edge">`` with ``data-from``/``data-to`` and class ``cross-host`` when
    the two jobs run on different hosts.
    """
    slots, chains, width, height = layout(graph)
    by_id = {s.ident: s for s in slots}
    primary = main_host(graph) if len(graph.hosts) > 1 else None
    label_cross = sum(1 for e in graph.edges if e.cross_host) <= _MAX_EDGE_LABELS
    states_used = list(dict.fromkeys(n.state for n in graph.nodes))
    kinds_used = {e.kind for e in graph.edges}
    has_cross = any(e.cross_host for e in graph.edges)
    legend_w = 0.0
    legend: list[str] = []
    ly = height + 4
    lx = float(_MARGIN)
    for state in states_used:
        fill, stroke = colours(state)
        legend.append(
            f'<rect x="{_f(lx)}" y="{_f(ly)}" width="12" height="12" rx="3" fill="{fill}" '
            f'stroke="{stroke}"/>'
            f'<text x="{_f(lx + 16)}" y="{_f(ly + 10)}">{escape(state)}</text>'
        )
        lx += 16 + _text_width(state, 10.5) + 14
    if has_cross:
        cross_text = "crosses hosts" + (f" (@host: not on {primary})" if primary else "")
        legend.append(
            f'<line x1="{_f(lx)}" y1="{_f(ly + 6)}" x2="{_f(lx + 22)}" y2="{_f(ly + 6)}" '
            f'stroke="{CROSS_HOST_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{_f(lx + 26)}" y="{_f(ly + 10)}">{escape(cross_text)}</text>'
        )
        lx += 26 + _text_width(cross_text, 10.5) + 14
    if kinds_used - {"afterok"}:
        legend.append(
            f'<line x1="{_f(lx)}" y1="{_f(ly + 6)}" x2="{_f(lx + 22)}" y2="{_f(ly + 6)}" '
            'stroke="#78909c" stroke-width="1.3" stroke-dasharray="4 3"/>'
            f'<text x="{_f(lx + 26)}" y="{_f(ly + 10)}">after any end / on failure</text>'
        )
        lx += 26 + _text_width("after any end / on failure", 10.5) + 14
    legend_w = lx + _MARGIN
    total_w = max(width, legend_w, 200.0)
    total_h = height + (_LEGEND_H if graph.nodes else 0)
    parts = []
    if standalone:
        parts.append('<?xml version="1.0" encoding="UTF-8"?>')
    marker = f"{element_id}-arrow"
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(element_id)}" class="dag" '
        f'width="{_f(total_w)}" height="{_f(total_h)}" viewBox="0 0 {_f(total_w)} {_f(total_h)}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11">'
    )
    parts.append(f"<title>{escape(graph.title)}</title>")
    parts.append("<defs>")
    for suffix, colour in (("", "#90a4ae"), ("-alt", "#78909c"), ("-cross", CROSS_HOST_COLOUR)):
        parts.append(
            f'<marker id="{marker}{suffix}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
            f'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    if not graph.nodes:
        parts.append(f'<text x="{_MARGIN}" y="30">no jobs</text>')
    parts.append('<g class="edges" fill="none">')
    for edge, chain in zip(graph.edges, chains, strict=True):
        first, last = by_id[chain[0]], by_id[chain[-1]]
        points = [(first.x + first.width, first.y + first.height / 2)]
        points += [(by_id[c].x, by_id[c].y + _DUMMY_H / 2) for c in chain[1:-1]]
        points.append((last.x - 1, last.y + last.height / 2))
        stroke, dash, thickness, tip_marker = "#90a4ae", "", "1.3", marker
        if edge.kind != "afterok":
            stroke, dash, tip_marker = "#78909c", ' stroke-dasharray="4 3"', marker + "-alt"
        classes = "edge " + edge.kind
        if edge.cross_host:
            stroke, dash, thickness = CROSS_HOST_COLOUR, ' stroke-dasharray="6 3"', "2"
            tip_marker = marker + "-cross"
            classes += " cross-host"
        src, dst = graph.node(edge.source), graph.node(edge.target)
        tip = f"{src.name} → {dst.name} ({edge.kind})"
        if edge.cross_host:
            tip += f", {edge.source_host} → {edge.target_host}"
        parts.append(
            f'<path class="{classes}" data-from="{escape(src.ident)}" '
            f'data-to="{escape(dst.ident)}" '
            f'd="{_edge_path(points)}" stroke="{stroke}" stroke-width="{thickness}"{dash} '
            f'marker-end="url(#{tip_marker})"><title>{escape(tip)}</title></path>'
        )
        if edge.cross_host and label_cross:
            middle = len(points) // 2
            if len(points) % 2:
                mx, my = points[middle]
            else:
                mx = (points[middle - 1][0] + points[middle][0]) / 2
                my = (points[middle - 1][1] + points[middle][1]) / 2
            parts.append(
                f'<text class="edge-label" x="{_f(mx)}" y="{_f(my - 4)}" text-anchor="middle" '
                f'font-size="9" fill="{CROSS_HOST_COLOUR}" stroke="#ffffff" stroke-width="3" '
                f'paint-order="stroke">{escape(edge.source_host)} → '
                f"{escape(edge.target_host)}</text>"
            )
    parts.append("</g>")
    parts.append('<g class="nodes">')
    for slot in slots:
        node = slot.node
        if node is None:
            continue
        fill, stroke = colours(node.state)
        text = _TEXT_ON.get(node.state, "#212121")
        x, y, w, h = slot.x, slot.y, slot.width, slot.height
        tip = f"{node.name}\nstate: {node.state}\nhost: {node.host}\nattempts: {node.attempts}"
        if node.exit_code is not None:
            tip += f"\nexit code: {node.exit_code}"
        if node.is_array:
            tip += "\nelements: " + ", ".join(f"{n} {s}" for s, n in node.array_counts)
        parts.append(
            f'<g class="node" data-key="{node.key}" data-name="{escape(node.ident)}" '
            f'data-state="{node.state}" data-host="{escape(node.host)}">'
            f"<title>{escape(tip)}</title>"
        )
        if node.is_array:
            parts.append(
                f'<rect x="{_f(x + 4)}" y="{_f(y - 4)}" width="{_f(w)}" height="{_f(h)}" rx="6" '
                f'fill="{fill}" stroke="{stroke}" stroke-width="1"/>'
            )
        parts.append(
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.6"/>'
        )
        parts.append(
            f'<text x="{_f(x + w / 2)}" y="{_f(y + 16)}" text-anchor="middle" font-size="12.5" '
            f'font-weight="bold" fill="{text}">{escape(_clip(node.name, _NAME_CHARS))}</text>'
        )
        parts.append(
            f'<text x="{_f(x + w / 2)}" y="{_f(y + 31)}" text-anchor="middle" font-size="10" '
            f'fill="{text}">{escape(svg_subtitle(node, primary))}</text>'
        )
        if node.is_array:
            parts.extend(_array_bar(node, x + 8, y + h - 11, w - 16))
        parts.append("</g>")
    parts.append("</g>")
    if graph.nodes:
        parts.append('<g class="legend" font-size="10.5" fill="#37474f">' + "".join(legend) + "</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render(graph: Graph, fmt: str) -> str:
    """``graph`` in one of :data:`FORMATS`."""
    if fmt == "svg":
        return to_svg(graph)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "mermaid":
        return to_mermaid(graph)
    raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")


def counts_by_state(graph: Graph) -> Mapping[str, int]:
    """Number of nodes per state (for legends and summaries)."""
    out: dict[str, int] = {}
    for node in graph.nodes:
        out[node.state] = out.get(node.state, 0) + 1
    return out
