"""``jobledger status --watch``: a full-screen view that follows the ledger."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from jobledger.engine.watch import FolderWatch
from jobledger.project import Project
from jobledger.view.status import counts, status_rows


def render(rows: list[dict[str, Any]], title: str) -> Group:
    """The screen for ``rows``: counts by state, progress per workflow and array, failures."""
    from jobledger.cli.main import STATE_STYLE, status_table

    by_state = counts(rows)
    header = Text(title + "   ", style="bold")
    for state, number in by_state.items():
        header.append(f"{state}: {number}  ", style=STATE_STYLE.get(state, ""))
    bars = Table.grid(padding=(0, 1))
    bars.add_column(no_wrap=True)
    bars.add_column(width=40)
    bars.add_column(no_wrap=True)
    workflows: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        workflows.setdefault(row["workflow"] or "-", []).append(row)
    for name, members in workflows.items():
        done = sum(1 for r in members if r["state"] not in ("pending", "submitted", "running"))
        bars.add_row(f"workflow {name}", ProgressBar(total=len(members), completed=done), f"{done}/{len(members)}")
    for row in rows:
        if row.get("array"):
            finished = sum(1 for e in row["array"] if e["state"] not in ("pending", "submitted", "running"))
            total = len(row["array"])
            bars.add_row(f"  array {row['name']}", ProgressBar(total=total, completed=finished), f"{finished}/{total}")
    failures = [r for r in rows if r["state"] in ("failed", "timeout", "out_of_memory", "lost", "node_fail", "dependency_failed")]
    failures.sort(key=lambda r: r.get("ended") or 0, reverse=True)
    recent = Table(title="recent failures", header_style="bold", show_edge=False)
    for column in ("job", "state", "exit", "reason"):
        recent.add_column(column)
    for row in failures[:5]:
        recent.add_row(row["name"], row["state"], "" if row["exit_code"] is None else str(row["exit_code"]), (row["reason"] or "")[:80])
    parts: list[Any] = [header, bars]
    if failures:
        parts.append(recent)
    parts.append(status_table(rows[-30:]))
    parts.append(Text(f"updated {time.strftime('%H:%M:%S')} — Ctrl-C to leave", style="dim"))
    return Group(Panel(Group(*parts), title="jobledger status --watch"))


def run_live(project: Project, workflows: list[str] | None = None) -> int:
    """Follow the ledger until Ctrl-C; returns the exit code (0)."""
    ledger = project.ledger
    watch = FolderWatch(project.ledger_dir)
    watch.start()
    title = str(project.root)
    try:
        with Live(render(status_rows(ledger.state, workflows), title), screen=True, auto_refresh=False) as live:
            while True:
                watch.wait(2.0)
                ledger.refresh()
                live.update(render(status_rows(ledger.state, workflows), title), refresh=True)
    except KeyboardInterrupt:
        return 0
    finally:
        watch.stop()
