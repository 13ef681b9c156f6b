"""How job states look on a terminal: the rich style of each state and its label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: ``state -> rich style`` for tables, the live view and progress.
STATE_STYLE: dict[str, str] = {
    "pending": "dim",
    "submitted": "cyan",
    "running": "blue",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "timeout": "red",
    "out_of_memory": "red",
    "node_fail": "magenta",
    "preempted": "magenta",
    "boot_fail": "magenta",
    "dependency_failed": "red",
    "lost": "bold magenta reverse",
}

#: States in which a job is not final (it still needs a backend or a driver).
UNFINISHED = frozenset({"pending", "submitted", "running"})

#: Appended to the state of an unfinished job whose workflow no process drives.
NO_DRIVER = "no driver running"


def state_label(row: Mapping[str, Any]) -> str:
    """The state of a status row as shown: ``completed (3/3)`` for arrays,
    ``submitted · no driver running`` when nobody drives an unfinished job's workflow,
    ``completed · superseded`` for a job of an earlier definition."""
    state = str(row["state"])
    label = state
    if row.get("array"):
        done = sum(1 for e in row["array"] if e["state"] == "completed")
        label = f"{state} ({done}/{len(row['array'])})"
    if never_to_run(row):
        return f"{label} · superseded before it ran"
    if state in UNFINISHED and "driver" in row and row["driver"] is None:
        label += f" · {NO_DRIVER}"
    if row.get("superseded"):
        label += " · superseded"
    return label


def never_to_run(row: Mapping[str, Any]) -> bool:
    """True for a job of an earlier definition that was never submitted: nothing will."""
    return bool(row.get("superseded")) and row["state"] == "pending" and not row.get("attempts")
