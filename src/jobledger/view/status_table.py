"""What ``jobledger status`` prints: a table per workflow, notes about its history and its
driver, and a summary line (the rows come from :mod:`jobledger.view.status`)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from jobledger.ledger.state import ProjectState
from jobledger.view.status import counts
from jobledger.view.styles import STATE_STYLE, UNFINISHED, never_to_run, state_label

COLUMNS = ("name", "state", "host", "scheduler id", "start", "elapsed", "exit", "attempts", "reused")


def fmt_time(value: float | None) -> str:
    """``HH:MM:SS`` of a timestamp ('' when unknown)."""
    if value is None:
        return ""
    return _dt.datetime.fromtimestamp(value).strftime("%H:%M:%S")


def fmt_elapsed(value: float | None) -> str:
    """``M:SS`` or ``H:MM:SS`` of a duration ('' when unknown)."""
    if value is None:
        return ""
    seconds = int(value)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


#: Columns left out, in this order, until the table fits the terminal.
OPTIONAL = ("start", "attempts", "scheduler id", "reused", "host", "elapsed")


def _cells(row: Mapping[str, Any]) -> dict[str, str]:
    exit_code = "" if row["exit_code"] is None else str(row["exit_code"])
    if row.get("signal"):
        exit_code += f" (sig {row['signal']})"
    return {
        "name": row["name"],
        "state": state_label(row),
        "host": row["host"] or "",
        "scheduler id": row["scheduler_id"] or "",
        "start": fmt_time(row["started"]),
        "elapsed": fmt_elapsed(row["elapsed"]),
        "exit": exit_code,
        "attempts": str(len(row["attempts"])) if row["attempts"] else "",
        "reused": "yes" if row["reused"] else "",
    }


def _fitting(cells: Sequence[dict[str, str]], width: int | None) -> list[str]:
    """The columns to show so the table is at most ``width`` wide (all when ``None``)."""
    columns = list(COLUMNS)
    if width is None:
        return columns
    widest = {c: max([len(c), *(len(row[c]) for row in cells)]) for c in COLUMNS}
    widest["name"] = max(widest["name"], 8)
    for column in OPTIONAL:
        if sum(widest[c] for c in columns) + 3 * len(columns) + 1 <= width:
            break
        columns.remove(column)
    return columns


def status_table(
    rows: Sequence[Mapping[str, Any]],
    title: str | None = None,
    *,
    width: int | None = None,
    columns: Sequence[str] | None = None,
) -> Table:
    """The rich table of status rows; superseded rows go below a line, dimmed. With a
    ``width``, the less needed columns are left out until the table fits (``columns``
    chooses them instead)."""
    cells = [_cells(row) for row in rows]
    columns = list(columns) if columns is not None else _fitting(cells, width)
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    for column in columns:
        table.add_column(column, no_wrap=True, min_width=8 if column == "name" else None)
    previous: tuple[bool, Any] = (False, None)
    for row, cell in zip(rows, cells, strict=True):
        superseded = bool(row.get("superseded"))
        group = (superseded, None if superseded else row.get("definition"))
        if group != previous and table.row_count:
            table.add_section()  # between the lines of history, and above superseded jobs
        previous = group
        values: list[str | Text] = [
            Text(cell[c], style=STATE_STYLE.get(row["state"], "")) if c == "state" else cell[c]
            for c in columns
        ]
        table.add_row(*values, style="dim" if superseded else None)
    return table


def summary_line(rows: Sequence[Mapping[str, Any]]) -> str:
    """``3 jobs: 2 completed, 1 failed; 2 reused by the latest run`` (+ superseded ones)."""
    current = [r for r in rows if not r.get("superseded")]
    earlier = len(rows) - len(current)
    by_state = ", ".join(f"{n} {s}" for s, n in counts(current).items())
    text = f"{len(current)} job{'' if len(current) == 1 else 's'}: {by_state}"
    reused = sum(1 for r in current if r["reused"])
    if reused:
        text += f"; {reused} reused by the latest run"
    if earlier:
        text += f"; and {earlier} of earlier definitions (superseded)"
    return text


def history_notes(state: ProjectState, name: str) -> list[str]:
    """Lines saying that workflow ``name`` has several current definitions, and why."""
    info = state.workflow(name)
    if info is None or not info.concurrent:
        return []
    sources: dict[str, list[int]] = {}
    described = []
    for number, definition in enumerate(info.definitions, 1):
        source = definition.source or "an interactive session"
        sources.setdefault(source, []).append(number)
        when = _dt.datetime.fromtimestamp(definition.defined_at).strftime("%Y-%m-%d %H:%M:%S")
        described.append(f"{number}: {source} at {when} ({len(definition.keys)} jobs)")
    notes = []
    for source, numbers in sources.items():
        if len(numbers) > 1:
            notes.append(
                f"workflow {name} was defined on {len(numbers)} lines of history that had not "
                f"seen each other (a git merge): the jobs of each are shown; the next run of "
                f"{source} settles it"
            )
    if len(sources) > 1:
        notes.append(f"workflow {name} is defined by {len(sources)} scripts: {', '.join(sources)}")
    notes.append("  definitions " + " · ".join(described))
    return notes


def driver_note(name: str, rows: Sequence[Mapping[str, Any]], resume: str) -> str | None:
    """Who drives workflow ``name``, or that nobody does while jobs are unfinished."""
    unfinished = [r for r in rows if r["state"] in UNFINISHED and not never_to_run(r)]
    if not unfinished or "driver" not in unfinished[0]:
        return None
    driver = unfinished[0]["driver"]
    if driver is not None:
        return f"workflow {name} is driven by {driver}"
    return (
        f"workflow {name}: {len(unfinished)} unfinished job(s) and no driver running; "
        f"carry on with `{resume}`"
    )


def status_view(
    state: ProjectState,
    rows: Sequence[Mapping[str, Any]],
    *,
    resume: str = "jobledger resume",
    width: int | None = None,
) -> list[RenderableType]:
    """Everything ``jobledger status`` prints for ``rows``: per workflow a table (titled
    when there are several; fitted to ``width``) and its notes, then the summary line."""
    by_workflow: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_workflow.setdefault(row["workflow"] or "-", []).append(row)
    several = len(by_workflow) > 1
    columns = _fitting([_cells(row) for row in rows], width)  # the same in every table
    parts: list[RenderableType] = []
    for name, members in by_workflow.items():
        parts.append(status_table(members, title=f"workflow {name}" if several else None, columns=columns))
        notes = history_notes(state, name)
        driver = driver_note(name, members, resume)
        if driver is not None:
            notes.append(driver)
        parts.extend(Text(note, style="yellow" if "no driver" in note else "") for note in notes)
    parts.append(Text(summary_line(rows)))
    lost = [r for r in rows if r["state"] == "lost" and not r.get("superseded")]
    for row in lost:
        hint = f"retry with `jobledger retry {row['name']}`"
        parts.append(Text.assemble(("LOST", "bold magenta"), f": {row['name']}: {row['reason']} ({hint})"))
    return parts
