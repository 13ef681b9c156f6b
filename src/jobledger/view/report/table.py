"""The report's table of jobs, with the reason and the tail of stderr of each failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from jobledger.view.report.columns import ReportJobs, row_exit
from jobledger.view.report.columns import label as state_label
from jobledger.view.report.common import ACTIVE, STDERR_LINES, _clock, _state_badge, fmt_duration, tail


def stderr_tails(root: Path, row: Mapping[str, Any], limit: int = 3) -> list[tuple[str, str]]:
    """``(label, text)`` tails of stderr for a failed job (its failed elements, for arrays).

    Files that cannot be read are left out; an empty file gives an empty text.
    """
    run_dir = row.get("run_dir")
    if row["attempts"]:
        run_dir = row["attempts"][-1].get("run_dir") or run_dir
    if not run_dir:
        return []
    base = Path(run_dir) if Path(run_dir).is_absolute() else root / run_dir
    units: list[tuple[str, Path]] = []
    if row.get("array"):
        failed = [e["index"] for e in row["array"] if e["state"] not in (*ACTIVE, "completed")]
        units = [(f"element {i}", base / str(i) / "stderr") for i in failed[:limit]]
    else:
        units = [("stderr", base / "stderr")]
    out = []
    for label, path in units:
        text = tail(path)
        if text is not None:  # an empty file is kept: it says the job wrote nothing
            out.append((label, text))
    return out


def _failed(row: Mapping[str, Any]) -> bool:
    return row["state"] not in (*ACTIVE, "completed")


#: More rows than this: the table is drawn a page at a time by the page's script.
PAGED_AT = 500
#: Rows per page of a paged table.
PAGE_ROWS = 100


def jobs_table(root: Path, rows: Sequence[Mapping[str, Any]], idents: Mapping[str, str]) -> str:
    """The table of jobs; failures carry their reason and stderr tail. Past
    :data:`PAGED_AT` rows the rows are data the script shows a page at a time."""
    if len(rows) > PAGED_AT:
        return paged_jobs_table(root, rows, idents)
    several = len({r["workflow"] for r in rows}) > 1
    heads = ["job", *(["workflow"] if several else []), "state", "exit", "attempts", "runtime",
             "host", "scheduler id", "started", "details"]  # fmt: skip
    out = [
        '<div class="toolbar"><input id="job-search" type="search" placeholder="filter jobs by name"></div>',
        '<div class="scroll" style="max-height:70vh">',
        '<table class="jobs" id="jobs-table"><thead><tr>',
        "".join(f"<th>{escape(h)}</th>" for h in heads),
        "</tr></thead><tbody>",
    ]
    for row in rows:
        ident = idents.get(row["key"], row["name"])
        label, exit_code = state_label(row), row_exit(row)
        attempt_tip = "; ".join(
            f"#{a['attempt']} {a['state']}"
            + (f" exit {a['exit_code']}" if a["exit_code"] is not None else "")
            for a in row["attempts"]
        )
        details = _details(root, row)
        cells = [
            f"<td>{escape(row['name'])}</td>",
            *([f"<td>{escape(row['workflow'] or '')}</td>"] if several else []),
            f'<td data-sort="{escape(row["state"])}">{_state_badge(row["state"], label)}</td>',
            f'<td class="num">{escape(exit_code)}</td>',
            f'<td class="num" title="{escape(attempt_tip)}">{len(row["attempts"]) or ""}</td>',
            f'<td class="num" data-sort="{row["elapsed"] if row["elapsed"] is not None else -1}">'
            f"{escape(fmt_duration(row['elapsed']))}</td>",
            f"<td>{escape(row['host'] or '')}</td>",
            f'<td class="mono">{escape(row["scheduler_id"] or "")}</td>',
            f'<td data-sort="{row["started"] or 0}">{escape(_clock(row["started"]))}</td>',
            f"<td>{details}</td>",
        ]
        out.append(
            f'<tr class="job" data-name="{escape(ident)}" data-state="{escape(row["state"])}" '
            f'data-key="{row["key"]}">' + "".join(cells) + "</tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _details(root: Path, row: Mapping[str, Any]) -> str:
    """The details cell: reuse, and a failure's reason and stderr tail."""
    details = []
    if row["reused"]:
        details.append('<span class="reason">reused from an earlier run</span>')
    if _failed(row) and row["reason"]:
        details.append(f'<div class="reason">{escape(row["reason"])}</div>')
    tails = stderr_tails(root, row) if _failed(row) else []
    if _failed(row) and not tails and row["attempts"] and row["state"] != "dependency_failed":
        details.append(
            '<div class="reason">no stderr here (remote run directory? '
            "<code>jobledger fetch</code> copies it home)</div>"
        )
    for what, text in tails:
        if text:
            details.append(
                f"<details><summary>{escape(what)} (last {STDERR_LINES} lines)</summary>"
                f"<pre>{escape(text)}</pre></details>"
            )
    return "".join(details)


def paged_jobs_table(root: Path, rows: Sequence[Mapping[str, Any]], idents: Mapping[str, str]) -> str:
    """The table of many jobs: rows as compact JSON data that the page's script shows
    :data:`PAGE_ROWS` at a time (filter, search and sort work on all of them)."""
    from jobledger.view.report.paged import FIELDS, paged_table

    data = []
    for row in rows:
        details = _details(root, row) if (_failed(row) or row["reused"]) else ""
        data.append([
            idents.get(row["key"], row["name"]), row["name"], row["workflow"] or "", row["state"],
            state_label(row), row_exit(row), len(row["attempts"]),
            row["elapsed"] if row["elapsed"] is not None else -1, fmt_duration(row["elapsed"]),
            row["host"] or "", row["scheduler_id"] or "", row["started"] or 0, _clock(row["started"]),
            details, row["key"],
        ])  # fmt: skip
    several = len({r["workflow"] for r in rows}) > 1
    columns = dict(zip(FIELDS, zip(*data, strict=True), strict=True)) if data else dict.fromkeys(FIELDS, ())
    return paged_table(columns, several, PAGE_ROWS)


def report_table(root: Path, jobs: ReportJobs, idents: Sequence[str]) -> str:
    """:func:`jobs_table` of the rows of ``jobs`` (``idents``: each job's id), built from
    its columns when it is paged."""
    if len(jobs) <= PAGED_AT:
        rows = [jobs.row(p) for p in range(len(jobs))]
        return jobs_table(root, rows, dict(zip(jobs.keys, idents, strict=True)))
    from jobledger.view.report.paged import paged_table

    details = [""] * len(jobs)
    for p, (state, reused) in enumerate(zip(jobs.states, jobs.reused, strict=True)):
        if reused or state not in _NOT_FAILED:
            details[p] = _details(root, jobs.row(p))
    durations = {value: fmt_duration(value) for value in set(jobs.elapsed)}
    clocks = {value: _clock(value) for value in set(jobs.started)}
    columns = {
        "ident": idents, "name": jobs.names, "workflow": jobs.workflows, "state": jobs.states,
        "label": jobs.labels, "exit": jobs.exits, "attempts": jobs.attempts,
        "elapsed": [-1 if e is None else e for e in jobs.elapsed],
        "runtime": list(map(durations.__getitem__, jobs.elapsed)), "host": jobs.hosts,
        "scheduler_id": jobs.scheduler_ids, "started": [s or 0 for s in jobs.started],
        "clock": list(map(clocks.__getitem__, jobs.started)), "details": details, "key": jobs.keys,
    }  # fmt: skip
    return paged_table(columns, len(set(jobs.workflows)) > 1, PAGE_ROWS)


_NOT_FAILED = frozenset((*ACTIVE, "completed"))
