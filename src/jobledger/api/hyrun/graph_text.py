"""hyrun's ``JobGraph`` as text: the tree :meth:`~GraphText.show` prints and the node-link
JSON :meth:`~GraphText.write` makes and :meth:`~GraphText.read` takes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jobledger.api.nodelink import read_graph, write_graph

if TYPE_CHECKING:
    from jobledger.api.hyrun.jobs import Job

_Self = TypeVar("_Self", bound="GraphText")


class GraphText:
    """The text forms of a :class:`~jobledger.api.hyrun.graph.JobGraph`, which adds
    building it, the queries and running it."""

    name: str | None
    _attrs: dict[Any, dict[str, Any]]
    _jobs: dict[Any, Job]
    _succ: dict[Any, dict[Any, dict[str, Any]]]
    _pred: dict[Any, dict[Any, dict[str, Any]]]

    def __str__(self) -> str:
        lines: list[str] = []
        shown: set[Any] = set()

        def label(node: Any) -> str:
            name = self._attrs[node].get("name")
            return f"{node}" if not name or name == node else f"{node} ({name})"

        def walk(node: Any, prefix: str) -> None:
            children = list(self._succ[node])
            for i, child in enumerate(children):
                last = i == len(children) - 1
                seen = child in shown
                lines.append(f"{prefix}{'└─╼' if last else '├─╼'} {label(child)}{' ...' if seen else ''}")
                if not seen:
                    shown.add(child)
                    walk(child, prefix + ("    " if last else "│   "))

        roots = [n for n in self._attrs if not self._pred[n]]
        for i, root in enumerate(roots):
            last = i == len(roots) - 1
            lines.append(f"{'╙──' if last else '╟──'} {label(root)}")
            shown.add(root)
            walk(root, "    " if last else "╎   ")
        return "\n".join(lines)

    def show(self, title: str | None = None) -> None:
        """Print the graph as a tree (roots first, children indented)."""
        print(title or "Job Graph")
        print(self)

    def write(self, filename: str | os.PathLike[str] | None = None) -> str | None:
        """The node-link JSON of the graph, written to ``filename`` (or returned)."""
        nodes = [(n, a) for n, a in self._attrs.items()]
        edges = [(u, v, a) for u, outs in self._succ.items() for v, a in outs.items()]
        text = write_graph(nodes, edges, {"name": self.name} if self.name else {})
        if filename is None:
            return text
        Path(filename).write_text(text + "\n")
        return None

    def read(self: _Self, filename: str | os.PathLike[str]) -> _Self:
        """Replace this graph by the one in ``filename`` (node-link JSON); returns it."""
        nodes, edges, graph = read_graph(filename)
        self._attrs = dict(nodes)
        self._jobs = {}
        self._succ = {n: {} for n, _ in nodes}
        self._pred = {n: {} for n, _ in nodes}
        for u, v, attrs in edges:
            self._succ[u][v] = attrs
            self._pred[v][u] = attrs
        self.name = graph.get("name") if isinstance(graph.get("name"), str) else self.name
        return self
