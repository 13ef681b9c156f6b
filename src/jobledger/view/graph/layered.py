"""The layered layout the SVG is drawn on (:func:`layout`).

Each job sits in the column of its dependency depth (longest path from a job without
upstream), edges spanning several columns are routed through placeholder slots, and a few
barycentre sweeps order each column to reduce crossings.
"""

from __future__ import annotations

from itertools import pairwise

import attrs

from jobledger.view.graph.model import Graph, Node

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
