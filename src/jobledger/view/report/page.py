"""The whole report page: :func:`build_report` assembles the parts, :func:`write_report`
writes it to a file."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from jobledger.gcpause import gc_paused
from jobledger.ledger.queries import settled_jobs
from jobledger.ledger.state import ProjectState
from jobledger.view.graph import to_svg
from jobledger.view.graph.groups import COLLAPSE_AT, collapsed_members
from jobledger.view.graph.model import members
from jobledger.view.report.common import _asset, _clock
from jobledger.view.report.summary import _cards, _chips, summarize
from jobledger.view.report.table import _failed, jobs_table
from jobledger.view.report.timeline import timeline_svg
from jobledger.view.status import status_rows

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def build_report(
    state: ProjectState,
    root: Path | str,
    workflows: Iterable[str] | None = None,
    *,
    title: str | None = None,
    now: float | None = None,
    cpu_reported: Mapping[tuple[str, int], float] | None = None,
) -> str:
    """The whole HTML page for ``workflows`` (every workflow by default) as a string."""
    root = Path(root)
    now = time.time() if now is None else now
    names = [n for n in (list(workflows) if workflows is not None else list(state.workflows()))
             if state.workflow(n) is not None]  # fmt: skip
    keys = {key: None for name in names for key in state.workflow(name).job_keys}  # type: ignore[union-attr]
    settled = settled_jobs(state.model, keys)  # read once for the rows and the graphs
    rows = status_rows(state, names, settled=settled)
    every = members(state, names, settled)
    idents = {job.key: every.ident(job) for job in every.jobs}
    summary = summarize(state, rows, now=now, cpu_reported=cpu_reported)
    heading = title or f"jobledger report · {root.name}"
    from jobledger import __version__

    dags = []
    for number, name in enumerate(names):
        found = every if len(names) == 1 else members(state, [name], settled)
        drawn = collapsed_members(found)
        svg = to_svg(drawn, standalone=False, element_id=f"dag-{number}")
        grouped = (
            ""
            if len(found.jobs) <= COLLAPSE_AT
            else f", grouped by name pattern into {len(drawn.nodes)} node(s)"
        )
        dags.append(
            f"<h3>workflow {escape(name)} · {len(found.jobs):,} job(s){grouped}</h3>"
            f'<div class="scroll dag-wrap">{svg}</div>'
        )
    failures = [r for r in rows if _failed(r)]
    lanes = timeline_rows(rows)
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title>",
        f"<style>{_asset('report.css')}</style>",
        "</head><body>",
        f'<header><h1>{escape(heading)}</h1><div class="meta">project {escape(str(root))} · '
        f"workflows: {escape(', '.join(names) or 'none')} · generated {escape(_clock(now))} "
        f"by jobledger {escape(__version__)} from the ledger and run directories</div></header>",
        '<section id="summary"><h2>Summary</h2>',
        _cards(summary),
        _chips(summary),
        "</section>",
        '<section id="graph"><h2>Dependency graph</h2>',
        "".join(dags) or '<p class="empty">no workflow defined</p>',
        "</section>",
        '<section id="timeline"><h2>Timeline</h2>',
        '<p class="reason">one lane per job and host; pale: queued, solid: running, '
        "tick: final state; thin bars: array elements; ◆: never ran. Hover for details.</p>",
        *_timeline_note(rows, lanes),
        f'<div class="scroll">{timeline_svg(state, lanes, idents=idents, now=now)}</div>',
    ]
    if summary.reused_jobs:
        body.append(
            f'<p class="reason">{summary.reused_jobs} reused job(s) are not drawn: their '
            "attempts belong to earlier runs.</p>"
        )
    body += [
        "</section>",
        f'<section id="jobs"><h2>Jobs ({len(rows)}; {len(failures)} not completed)</h2>',
        jobs_table(root, rows, idents),
        "</section>",
        "<footer>Self-contained page: no network access, styles and script inlined.</footer>",
        f"<script>{_asset('report.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(body) + "\n"


#: The timeline draws at most this many jobs (one lane each).
TIMELINE_LANES = 300


def timeline_rows(rows: list[dict[str, Any]], limit: int = TIMELINE_LANES) -> list[dict[str, Any]]:
    """The rows the timeline draws: all of them up to ``limit``; past it, the failed and
    unfinished jobs first, then the latest started, in their order in ``rows``."""
    if len(rows) <= limit:
        return rows
    first = [i for i, r in enumerate(rows) if r["state"] != "completed"][:limit]
    chosen = set(first)
    rest = sorted((i for i in range(len(rows)) if i not in chosen), key=lambda i: -(rows[i]["started"] or 0))
    chosen.update(rest[: limit - len(first)])
    return [rows[i] for i in sorted(chosen)]


def _timeline_note(rows: list[dict[str, Any]], lanes: list[dict[str, Any]]) -> list[str]:
    if len(lanes) == len(rows):
        return []
    return [
        f'<p class="reason">{len(rows):,} jobs: the timeline shows {len(lanes):,} of them (those '
        "not completed first, then the latest started); the table below lists every job.</p>"
    ]


def write_report(
    project: Any,
    path: Path | str,
    workflows: Iterable[str] | None = None,
    *,
    now: float | None = None,
) -> Path:
    """Build the report of ``project`` (a :class:`~jobledger.project.Project`) into ``path``.

    No CPU time reported by a scheduler is shown: no event records one (state events have
    no ``cpu_seconds``); :func:`build_report` shows what ``cpu_reported`` it is given.
    """
    ledger = project.ledger
    ledger.refresh()
    with gc_paused():
        html = build_report(ledger.state, project.root, workflows, now=now)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
