"""The DAG as SVG (:func:`to_svg`), drawn on the layered layout, with a legend."""

from __future__ import annotations

from html import escape
from itertools import pairwise

from jobledger.view.graph.layered import (
    _DUMMY_H,
    _MARGIN,
    _NAME_CHARS,
    _clip,
    _text_width,
    layout,
    main_host,
    svg_subtitle,
)
from jobledger.view.graph.model import Graph, Node
from jobledger.view.graph.palette import _TEXT_ON, CROSS_HOST_COLOUR, colours

# geometry of the SVG legend and edge labels
_LEGEND_H = 26
_MAX_EDGE_LABELS = 4


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
