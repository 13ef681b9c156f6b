"""The colours of job states, shared by the graph, the report and the docs."""

from __future__ import annotations

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


def colours(state: str) -> tuple[str, str]:
    """``(fill, stroke)`` for a state name (unknown states are drawn as pending)."""
    return STATE_COLOURS.get(state, STATE_COLOURS["pending"])
