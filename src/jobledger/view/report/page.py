"""The whole report page: :func:`build_report` assembles the parts, :func:`write_report`
writes it to a file."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from jobledger.gcpause import gc_paused
from jobledger.ledger.state import ProjectState, WorkflowInfo
from jobledger.version import __version__
from jobledger.view.graph import to_svg
from jobledger.view.graph.groups import COLLAPSE_AT, collapsed_members
from jobledger.view.graph.model import members
from jobledger.view.report.columns import report_graph, report_jobs
from jobledger.view.report.common import ACTIVE, _asset, _clock
from jobledger.view.report.summary import _cards, _chips, summarize_jobs
from jobledger.view.report.table import report_table
from jobledger.view.report.timeline import timeline_svg

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def build_report(
    state: ProjectState,
    root: Path | str,
    workflows: Iterable[str] | None = None,
    *,
    title: str | None = None,
    now: float | None = None,
    cpu_reported: Mapping[tuple[str, int], float] | None = None,
    known: Mapping[str, WorkflowInfo] | None = None,
) -> str:
    """The whole HTML page for ``workflows`` (every workflow by default) as a string
    (``known``: the project's workflows by name, when just read from ``state``)."""
    root = Path(root)
    now = time.time() if now is None else now
    if workflows is None:
        infos = dict(known) if known is not None else state.workflows()
    elif known is not None:
        infos = {n: known[n] for n in workflows if n in known}
    else:
        infos = {n: info for n in workflows if (info := state.workflow(n)) is not None}
    names = list(infos)
    jobs = report_jobs(state, infos)
    ident_list = jobs.idents()
    idents = dict(zip(jobs.keys, ident_list, strict=True))
    summary = summarize_jobs(jobs, now=now, cpu_reported=cpu_reported)
    heading = title or f"jobledger report · {root.name}"

    dags = []
    for number, name in enumerate(names):
        if len(names) == 1:  # from the columns already read
            drawn, count = report_graph(jobs, name, ident_list), len(jobs)
        else:
            found = members(state, [name])
            drawn, count = collapsed_members(found), len(found.jobs)
        svg = to_svg(drawn, standalone=False, element_id=f"dag-{number}")
        grouped = "" if count <= COLLAPSE_AT else f", grouped by name pattern into {len(drawn.nodes)} node(s)"
        dags.append(
            f"<h3>workflow {escape(name)} · {count:,} job(s){grouped}</h3>"
            f'<div class="scroll dag-wrap">{svg}</div>'
        )
    failures = sum(1 for s in jobs.states if s not in ("completed", *ACTIVE))
    lanes = [jobs.row(p) for p in timeline_positions(jobs.states, jobs.started)]
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
        *_timeline_note(len(jobs), len(lanes)),
        f'<div class="scroll">{timeline_svg(state, lanes, idents=idents, now=now)}</div>',
    ]
    if summary.reused_jobs:
        body.append(
            f'<p class="reason">{summary.reused_jobs} reused job(s) are not drawn: their '
            "attempts belong to earlier runs.</p>"
        )
    body += [
        "</section>",
        f'<section id="jobs"><h2>Jobs ({len(jobs)}; {failures} not completed)</h2>',
        report_table(root, jobs, ident_list),
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
    return [
        rows[p] for p in timeline_positions([r["state"] for r in rows], [r["started"] for r in rows], limit)
    ]


def timeline_positions(
    states: Sequence[str], started: Sequence[float | None], limit: int = TIMELINE_LANES
) -> list[int]:
    """The positions of the jobs :func:`timeline_rows` keeps (``states`` and ``started``
    of each job)."""
    if len(states) <= limit:
        return list(range(len(states)))
    first = [i for i, s in enumerate(states) if s != "completed"][:limit]
    chosen = set(first)
    rest = sorted((i for i in range(len(states)) if i not in chosen), key=lambda i: -(started[i] or 0))
    chosen.update(rest[: limit - len(first)])
    return sorted(chosen)


def _timeline_note(jobs: int, lanes: int) -> list[str]:
    if lanes == jobs:
        return []
    return [
        f'<p class="reason">{jobs:,} jobs: the timeline shows {lanes:,} of them (those '
        "not completed first, then the latest started); the table below lists every job.</p>"
    ]


def write_report(
    project: Any,
    path: Path | str,
    workflows: Iterable[str] | None = None,
    *,
    now: float | None = None,
    known: Mapping[str, WorkflowInfo] | None = None,
) -> Path:
    """Build the report of ``project`` (a :class:`~jobledger.project.Project`) into ``path``
    (``known``: its workflows by name, when just read; read again if the ledger moved on).

    No CPU time reported by a scheduler is shown: no event records one (state events have
    no ``cpu_seconds``); :func:`build_report` shows what ``cpu_reported`` it is given.
    """
    ledger = project.ledger
    if ledger.refresh():
        known = None
    with gc_paused():
        html = build_report(ledger.state, project.root, workflows, now=now, known=known)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
