"""``jobledger status --watch``: a full-screen view that follows the ledger.

The screen shows counts by state, one progress bar per workflow and per array job, the
most recent failures (reason or last stderr line) and the jobs that matter now (running
and queued first, then the latest to end), sized to the terminal. It is redrawn when
watchdog sees the ledger's segment files change (and once a second for the clock), and
leaves on Ctrl-C (or SIGTERM/SIGHUP) with exit code 0, restoring the terminal.

``render`` is pure (rows in, a rich renderable out) so tests and docs can draw a frame
without a terminal.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from jobledger.project import Project
from jobledger.view.status import counts, status_rows
from jobledger.view.status_table import status_table
from jobledger.view.styles import STATE_STYLE

ACTIVE = ("pending", "submitted", "running")
FAILED = frozenset(
    {
        "failed",
        "timeout",
        "out_of_memory",
        "lost",
        "node_fail",
        "boot_fail",
        "preempted",
        "dependency_failed",
    }
)
#: Order of the segments of a progress bar (left to right) and of the counts line.
BAR_ORDER = (
    "completed", "failed", "timeout", "out_of_memory", "node_fail", "boot_fail", "preempted",
    "lost", "cancelled", "dependency_failed", "running", "submitted", "pending",
)  # fmt: skip
BAR_WIDTH = 40
#: The narrowest bar drawn when the counts need the room (an 80-column terminal).
MIN_BAR_WIDTH = 10
#: The label column of a progress line.
LABEL_WIDTH = 24
MAX_FAILURES = 5
MAX_ARRAYS = 8


def _order(state: str) -> int:
    return BAR_ORDER.index(state) if state in BAR_ORDER else len(BAR_ORDER)


def stacked_bar(by_state: Mapping[str, int], width: int = BAR_WIDTH) -> Text:
    """A bar of ``width`` cells split by state (largest remainder, so it always fills)."""
    total = sum(by_state.values())
    styles = STATE_STYLE
    bar = Text()
    if total == 0:
        return Text("─" * width, style="dim")
    items = sorted(by_state.items(), key=lambda kv: _order(kv[0]))
    exact = [(state, number * width / total) for state, number in items]
    cells = {state: int(value) for state, value in exact}
    spare = width - sum(cells.values())
    for state, _value in sorted(exact, key=lambda sv: (-(sv[1] - int(sv[1])), _order(sv[0])))[:spare]:
        cells[state] += 1
    for state, _ in items:
        char = "─" if state == "pending" else "━"
        bar.append(char * cells[state], style=styles.get(state, "") if state != "pending" else "grey50")
    return bar


def _progress_line(label: str, by_state: Mapping[str, int], unit: str, width: int | None = None) -> Table:
    """``label``, a bar and the counts in one line; within ``width`` cells (the frame's
    inside) the bar gives way before the counts do."""
    total = sum(by_state.values())
    done = sum(n for s, n in by_state.items() if s not in ACTIVE)
    failed = sum(n for s, n in by_state.items() if s in FAILED)
    running = by_state.get("running", 0)
    percent = f"{100 * done / total:3.0f}%" if total else "  -"
    notes = [f"{done}/{total} {unit} done", percent]
    if failed:
        notes.append(f"[red]{failed} failed[/]")
    if running:
        notes.append(f"[blue]{running} running[/]")
    text = "  ".join(notes)
    bar = BAR_WIDTH
    if width is not None:  # the label, two gaps, the counts as they print
        bar = max(MIN_BAR_WIDTH, min(BAR_WIDTH, width - LABEL_WIDTH - 2 - Text.from_markup(text).cell_len))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=LABEL_WIDTH, no_wrap=True, overflow="ellipsis")
    grid.add_column(width=bar, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_row(label, stacked_bar(by_state, bar), text)
    return grid


def _last_line(root: Path | None, row: Mapping[str, Any]) -> str:
    """Last non-empty stderr line of a failed job (a failed element's, for arrays)."""
    if root is None or not row.get("run_dir"):
        return ""
    run_dir = (row["attempts"][-1].get("run_dir") if row["attempts"] else None) or row["run_dir"]
    base = root / run_dir
    if row.get("array"):
        failed = [e["index"] for e in row["array"] if e["state"] in FAILED]
        path = base / str(failed[0]) / "stderr" if failed else base / "stderr"
    else:
        path = base / "stderr"
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 2048))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _elapsed(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(
    rows: Sequence[dict[str, Any]],
    title: str,
    *,
    height: int | None = None,
    width: int | None = None,
    now: float | None = None,
    root: Path | None = None,
) -> RenderableType:
    """The screen for ``rows``: counts by state, progress per workflow and array, failures.

    ``height`` and ``width`` (of the terminal) fit the job table to the frame; ``root``
    lets the failures show the last line of stderr.
    """
    now = time.time() if now is None else now
    styles = STATE_STYLE
    by_state = counts(rows)
    header = Text()
    header.append(f"{len(rows)} jobs", style="bold")
    for state in sorted(by_state, key=_order):
        header.append("   ")
        header.append(f"{state}: {by_state[state]}", style=styles.get(state, ""))
    starts = [
        r["submitted"] or r["started"] for r in rows if not r["reused"] and (r["submitted"] or r["started"])
    ]
    if starts:
        active = any(r["state"] in ACTIVE for r in rows)
        ends = [r["ended"] for r in rows if r["ended"]]
        last = now if active or not ends else max(ends)
        header.append(f"   elapsed {_elapsed(last - min(starts))}", style="dim")
    parts: list[RenderableType] = [header, Text()]
    used = 2
    inside = None if width is None else width - 4  # the frame's borders and padding

    workflows: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        workflows.setdefault(row["workflow"] or "-", []).append(row)
    for name, members in workflows.items():
        parts.append(_progress_line(f"workflow {name}", counts(members), "jobs", inside))
        used += 1
    arrays = [r for r in rows if r.get("array")]
    arrays.sort(key=lambda r: (r["state"] not in ACTIVE, -(r["ended"] or 0)))
    for row in arrays[:MAX_ARRAYS]:
        parts.append(_progress_line(f"  array {row['name']}", counts(row["array"]), "elements", inside))
        used += 1
    if len(arrays) > MAX_ARRAYS:
        parts.append(Text(f"  … and {len(arrays) - MAX_ARRAYS} more array jobs", style="dim"))
        used += 1

    failures = [r for r in rows if r["state"] in FAILED]
    failures.sort(key=lambda r: (r.get("ended") or 0, r["name"]), reverse=True)
    if failures:
        recent = Table(title="most recent failures", title_justify="left", title_style="bold",
                       header_style="bold", show_edge=False, box=None, padding=(0, 1))  # fmt: skip
        for column in ("ended", "job", "state", "exit", "reason / last stderr line"):
            recent.add_column(column, no_wrap=True, overflow="ellipsis")
        for row in failures[:MAX_FAILURES]:
            ended = time.strftime("%H:%M:%S", time.localtime(row["ended"])) if row["ended"] else ""
            line = _last_line(root, row) if row["state"] != "dependency_failed" else ""
            text = row["reason"] or ""
            if line and line not in text:
                text = f"{text} · {line}" if text else line
            recent.add_row(
                ended,
                row["name"],
                Text(row["state"], style=styles.get(row["state"], "")),
                "" if row["exit_code"] is None else str(row["exit_code"]),
                text[:160],
            )
        parts += [Text(), recent]
        used += 3 + min(len(failures), MAX_FAILURES)

    def recency(row: dict[str, Any]) -> tuple[int, float]:
        rank = {"running": 0, "submitted": 1}.get(row["state"], 2)
        return rank, -(row["ended"] or row["started"] or row["submitted"] or 0)

    shown = sorted((r for r in rows if r["state"] != "pending" or r["attempts"]), key=recency)
    budget = 30 if height is None else max(3, height - used - 2 - 6 - 2)
    if shown:
        more = len(shown) - budget
        table = status_table(shown[:budget], width=inside)
        table.title = "jobs: running and queued first, then the latest to end"
        table.title_justify = "left"
        parts += [Text(), table]
        if more > 0:
            parts.append(Text(f"… {more} more (jobledger status lists them all)", style="dim"))
    parts.append(
        Text(
            f"updated {time.strftime('%H:%M:%S', time.localtime(now))} · Ctrl-C to leave",
            style="dim",
        )
    )
    return Panel(Group(*parts), title=f"jobledger status --watch · {title}", title_align="left")


class _Stop:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag (restored on exit), so leaving is orderly."""

    def __init__(self, wake: threading.Event) -> None:
        self.requested = False
        self._wake = wake
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self._wake.set()

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_live(
    project: Project,
    workflows: list[str] | None = None,
    *,
    console: Console | None = None,
    tick: float = 1.0,
    screen: bool = True,
) -> int:
    """Follow the ledger until Ctrl-C; returns the exit code (0).

    The ledger is re-read when watchdog reports a change in its folder (or every ``tick``
    seconds when the file system cannot deliver events); the frame is redrawn at least
    every ``tick`` seconds so clocks move.
    """
    from rich.live import Live

    from jobledger.engine.watch import FolderWatch

    ledger = project.ledger
    out = console or Console(highlight=False)
    watch = FolderWatch(project.ledger_dir)
    watch.start()
    title = str(project.root)

    def frame() -> RenderableType:
        ledger.refresh()
        rows = status_rows(ledger.state, workflows)
        return render(rows, title, height=out.size.height, width=out.size.width, root=project.root)

    try:
        with (
            _Stop(watch.wakeup) as stop,
            Live(frame(), console=out, screen=screen, auto_refresh=False, transient=not screen) as live,
        ):
            while not stop.requested:
                watch.wait(tick)
                if stop.requested:
                    break
                live.update(frame(), refresh=True)
    except KeyboardInterrupt:  # a second Ctrl-C while leaving, or no signal handler installed
        pass
    finally:
        watch.stop()
    return 0
