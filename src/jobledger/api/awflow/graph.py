"""The walks of the graph the user holds: its roots and terminal nodes."""

from __future__ import annotations

from typing import Any

from jobledger.api.awflow.node import AwflowJob, as_job
from jobledger.api.awflow.translate import _walk, build_workflow

__all__ = ["build_workflow", "leafs", "roots", "terminal_nodes"]


def terminal_nodes(*roots: Any, prune: bool = False) -> list[AwflowJob]:
    """The jobs downstream of ``roots`` that nothing depends on (awflow's leaves).

    With ``prune=True`` each of them is pruned. Returns a list (awflow returned a set)
    in the order found.
    """
    leaves = [n for n in _walk([as_job(r) for r in roots], lambda n: n.children) if not n.children]
    if prune:
        for leaf in leaves:
            leaf.prune()
    return leaves


def leafs(*jobs: Any) -> list[AwflowJob]:
    """Terminal jobs downstream of ``jobs`` (awflow 0.1.1's name)."""
    return terminal_nodes(*jobs)


def roots(*jobs: Any) -> list[AwflowJob]:
    """The jobs upstream of ``jobs`` that depend on nothing."""
    return [n for n in _walk([as_job(j) for j in jobs], lambda n: n.parents) if not n.parents]
