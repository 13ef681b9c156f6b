"""``jobledger report``: one self-contained HTML file about a project's runs.

The page holds the DAG of each workflow, a timeline (Gantt) of every attempt per host
(queued, running, final), a table of jobs with the tail of stderr for failures, and
summary figures (wall time, CPU hours requested and used, reuse ratio). Styles and
scripts are inlined and a Content-Security-Policy forbids every load, so the file opens
offline, from a mail attachment or a git checkout on another machine.

It reads only the ledger and the run directories under the project root: no scheduler
is asked anything, so it works on a copy of the project made with ``git clone``.

For notebooks, :func:`status` returns a :class:`StatusReport` that renders as an HTML
summary and table (``_repr_html_``).
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from jobledger.ledger.state import AttemptInfo, ProjectState
from jobledger.view.graph import build_graph, colours, to_svg
from jobledger.view.status import counts, status_rows

ACTIVE = ("pending", "submitted", "running")
STDERR_LINES = 20
_TAIL_BYTES = 16384
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

# timeline geometry (pixels)
_LABEL_W = 190
_PLOT_W = 960
_ROW_H = 20
_HOST_H = 24
_AXIS_H = 26
_TICK_STEPS = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
    7200, 10800, 21600, 43200, 86400, 172800, 604800,
)  # fmt: skip


# ------------------------------------------------------------------------------ helpers
def fmt_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12 s``, ``3 m 05 s``, ``2 h 01 m``, ``3 d 4 h`` (empty for None)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _clock(value: float | None) -> str:
    if value is None:
        return ""
    return _dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _asset(name: str) -> str:
    return (resources.files("jobledger.view") / "assets" / name).read_text(encoding="utf-8")


def tail(path: Path, lines: int = STDERR_LINES) -> str | None:
    """The last ``lines`` lines of a text file (None when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _state_badge(state: str, label: str | None = None) -> str:
    fill, stroke = colours(state)
    text = "#ffffff" if state == "lost" else "#263238"
    return (
        f'<span class="state" style="background:{fill};border-color:{stroke};color:{text}">'
        f"{escape(label or state)}</span>"
    )


# ------------------------------------------------------------------------------ summary
@attrs.frozen
class Summary:
    """Figures about a set of jobs (the report's cards and the notebook summary)."""

    jobs: int
    by_state: Mapping[str, int]
    attempts: int
    retried_jobs: int
    reused_jobs: int
    first_start: float | None
    last_end: float | None
    cpu_hours_requested: float | None
    attempts_without_limit: int
    cpu_hours_allocated: float
    cpu_hours_reported: float | None

    @property
    def wall_time(self) -> float | None:
        """Seconds from the first submission to the last end (or now, if still active)."""
        if self.first_start is None or self.last_end is None:
            return None
        return max(0.0, self.last_end - self.first_start)

    @property
    def reuse_ratio(self) -> float:
        """Share of jobs whose completed work was reused instead of run again."""
        return self.reused_jobs / self.jobs if self.jobs else 0.0

    @property
    def done(self) -> int:
        """Jobs in a final state."""
        return sum(n for s, n in self.by_state.items() if s not in ACTIVE)

    @property
    def failed(self) -> int:
        """Jobs that ended in a state other than completed."""
        return sum(n for s, n in self.by_state.items() if s not in ACTIVE and s != "completed")


def _units(att: AttemptInfo) -> list[tuple[float | None, float | None]]:
    """``(started, ended)`` of each unit that ran: the elements of an array, else the attempt."""
    if att.elements:
        return [(e.started_at, e.ended_at) for e in att.elements]
    return [(att.started_at, att.ended_at)]


def summarize(
    state: ProjectState,
    rows: Sequence[Mapping[str, Any]],
    *,
    now: float | None = None,
    cpu_reported: Mapping[tuple[str, int], float] | None = None,
) -> Summary:
    """Figures for ``rows`` (from :func:`~jobledger.view.status.status_rows`).

    CPU hours *requested* add up cores × time limit of every attempt that asked for a time
    limit (per array element); CPU hours *used* add up cores × run time (what a scheduler
    charges). ``cpu_reported`` maps ``(key, attempt)`` to CPU seconds a scheduler reported,
    when one did. Reused jobs count in the reuse ratio, not in wall time or CPU hours.
    """
    now = time.time() if now is None else now
    attempts = retried = reused = without_limit = 0
    starts: list[float] = []
    ends: list[float] = []
    requested: float | None = None
    allocated = 0.0
    reported: float | None = None
    for row in rows:
        info = state.job(row["key"])
        if info is None:
            continue
        shown = [a for a in info.attempts if a.submitted_at or a.state.is_final]
        attempts += len(shown)
        retried += len(shown) > 1
        if row["reused"]:
            reused += 1
            continue
        for att in shown:
            first = att.submitted_at or att.started_at
            if first is not None:
                starts.append(first)
            if att.ended_at is not None:
                ends.append(att.ended_at)
            elif not att.state.is_final and first is not None:
                ends.append(now)
            res = att.resources or {}
            cpus = float(res.get("cpus") or 1) * float(res.get("nodes") or 1)
            units = _units(att)
            ran = [(s, e if e is not None else now) for s, e in units if s is not None]
            if att.started_at is None and not ran:
                continue
            limit = res.get("time")
            if limit:
                requested = (requested or 0.0) + cpus * float(limit) * len(units) / 3600
            else:
                without_limit += 1
            allocated += sum(cpus * max(0.0, e - s) for s, e in ran) / 3600
            if cpu_reported and (info.key, att.number) in cpu_reported:
                reported = (reported or 0.0) + cpu_reported[(info.key, att.number)] / 3600
    return Summary(
        jobs=len(rows),
        by_state=counts(dict(r) for r in rows),
        attempts=attempts,
        retried_jobs=retried,
        reused_jobs=reused,
        first_start=min(starts) if starts else None,
        last_end=max(ends) if ends else None,
        cpu_hours_requested=requested,
        attempts_without_limit=without_limit,
        cpu_hours_allocated=allocated,
        cpu_hours_reported=reported,
    )


def reported_cpu(events: Iterable[Any]) -> dict[tuple[str, int], float]:
    """CPU seconds per ``(key, attempt)`` from state events that carry ``cpu_seconds``.

    Schedulers whose accounting reports CPU time (sacct ``TotalCPU``, qacct ``cpu``) may add
    it to the final state event; events without it are ignored.
    """
    out: dict[tuple[str, int], float] = {}
    for event in events:
        data = getattr(event, "data", {})
        if getattr(event, "type", "") != "state" or "cpu_seconds" not in data:
            continue
        try:
            unit = (str(data["key"]), int(data.get("attempt", 1)))
            out[unit] = out.get(unit, 0.0) + float(data["cpu_seconds"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def fmt_cpu_hours(hours: float) -> str:
    """``12.5 CPU h``, ``0.33 CPU h``, or CPU seconds below a hundredth of an hour."""
    if hours >= 0.01 or hours == 0:
        return f"{hours:.3g} CPU h"
    return f"{hours * 3600:.2g} CPU s"


def _cards(summary: Summary) -> str:
    def card(label: str, value: str, note: str = "") -> str:
        extra = f'<div class="note">{escape(note)}</div>' if note else ""
        return (
            f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>{extra}</div>'
        )

    if summary.cpu_hours_requested is None:
        requested, note = "n/a", "no attempt asked for a time limit"
    else:
        requested = fmt_cpu_hours(summary.cpu_hours_requested)
        note = "cores × time limit"
        if summary.attempts_without_limit:
            note += f"; {summary.attempts_without_limit} attempt(s) without a limit"
    used_note = "cores × run time"
    if summary.cpu_hours_reported is not None:
        used_note += f"; scheduler reports {fmt_cpu_hours(summary.cpu_hours_reported)}"
    finished = f"{summary.done}/{summary.jobs}"
    return (
        '<div class="cards">'
        + "".join(
            [
                card("jobs finished", finished, f"{summary.failed} not completed"),
                card(
                    "wall time",
                    fmt_duration(summary.wall_time) or "n/a",
                    "first submission → last end",
                ),
                card("attempts", str(summary.attempts), f"{summary.retried_jobs} job(s) retried"),
                card("CPU hours requested", requested, note),
                card("CPU hours used", fmt_cpu_hours(summary.cpu_hours_allocated), used_note),
                card(
                    "reuse ratio",
                    f"{summary.reuse_ratio:.0%}",
                    f"{summary.reused_jobs} of {summary.jobs} job(s) reused",
                ),
            ]
        )
        + "</div>"
    )


def _chips(summary: Summary) -> str:
    out = ['<div class="chips">']
    for state, number in summary.by_state.items():
        stroke = colours(state)[1]
        out.append(
            f'<span class="chip" data-filter="{escape(state)}" title="show only {escape(state)}">'
            f'<span class="swatch" style="background:{stroke}"></span>'
            f"{escape(state)}: {number}</span>"
        )
    out.append("</div>")
    return "".join(out)


# ------------------------------------------------------------------------------ timeline
@attrs.frozen
class _Lane:
    host: str
    name: str
    ident: str
    state: str
    attempts: tuple[AttemptInfo, ...]


def _tick_step(span: float) -> float:
    for step in _TICK_STEPS:
        if span / step <= 10:
            return float(step)
    return float(_TICK_STEPS[-1])


def _tick_label(offset: float, step: float) -> str:
    if step < 1:
        return f"+{offset:.1f} s"
    if step < 60:
        return f"+{offset:.0f} s"
    if step < 3600:
        minutes, secs = divmod(int(offset), 60)
        return f"+{minutes}:{secs:02d}"
    hours, rest = divmod(int(offset), 3600)
    return f"+{hours}:{rest // 60:02d} h"


def _lanes(state: ProjectState, rows: Sequence[Mapping[str, Any]], idents: Mapping[str, str]) -> list[_Lane]:
    lanes: list[_Lane] = []
    for row in rows:
        if row["reused"]:
            continue
        info = state.job(row["key"])
        if info is None:
            continue
        by_host: dict[str, list[AttemptInfo]] = {}
        for att in info.attempts:
            if att.submitted_at or att.state.is_final:
                host = att.host or info.host or "local"
                by_host.setdefault(host, []).append(att)
        for host, atts in by_host.items():
            lanes.append(
                _Lane(host, info.name, idents.get(info.key, info.name), info.state.value, tuple(atts))
            )

    def first(lane: _Lane) -> float:
        times = [t for a in lane.attempts for t in (a.submitted_at, a.started_at, a.ended_at) if t]
        return min(times) if times else float("inf")

    hosts = list(dict.fromkeys(lane.host for lane in sorted(lanes, key=first)))
    lanes.sort(key=lambda lane: (hosts.index(lane.host), first(lane), lane.name))
    return lanes


def _attempt_title(name: str, att: AttemptInfo, now: float) -> str:
    parts = [f"{name} · attempt {att.number}: {att.state.value}"]
    if att.exit_code is not None:
        parts.append(f"exit code {att.exit_code}" + (f" (signal {att.signal})" if att.signal else ""))
    if att.host:
        parts.append(f"host {att.host}" + (f", scheduler id {att.scheduler_id}" if att.scheduler_id else ""))
    if att.submitted_at is not None:
        parts.append(f"submitted {_clock(att.submitted_at)}")
        queued_until = att.started_at or att.ended_at or now
        parts.append(f"queued {fmt_duration(max(0.0, queued_until - att.submitted_at))}")
    if att.started_at is not None:
        parts.append(f"ran {fmt_duration(max(0.0, (att.ended_at or now) - att.started_at))}")
    if att.elements:
        done = sum(1 for e in att.elements if e.state.value == "completed")
        parts.append(f"{done}/{len(att.elements)} elements completed")
    if att.reason:
        parts.append(att.reason)
    if att.retry_reason:
        parts.append(f"retry: {att.retry_reason}")
    return "\n".join(parts)


def timeline_svg(
    state: ProjectState,
    rows: Sequence[Mapping[str, Any]],
    *,
    idents: Mapping[str, str] | None = None,
    now: float | None = None,
) -> str:
    """The Gantt chart: one lane per job and host, one ``<g data-attempt>`` per attempt.

    Each attempt draws its queued span (submitted → started, pale), its running span
    (started → end, in the colour of its final state) and, for arrays, one thin bar per
    element. An attempt that never ran (``dependency_failed``) is a small diamond.
    """
    now = time.time() if now is None else now
    idents = idents or {}
    lanes = _lanes(state, rows, idents)
    times = [
        t
        for lane in lanes
        for a in lane.attempts
        for t in (a.submitted_at, a.started_at, a.ended_at, *(e.ended_at for e in a.elements))
        if t is not None
    ]
    if any(not a.state.is_final for lane in lanes for a in lane.attempts):
        times.append(now)
    if not lanes or not times:
        return '<p class="empty">no attempt has been submitted yet</p>'
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 0.001)
    step = _tick_step(span)
    span = max(span, step)

    def x(t: float) -> float:
        return _LABEL_W + (t - t0) / span * _PLOT_W

    hosts = list(dict.fromkeys(lane.host for lane in lanes))
    height = _AXIS_H + len(hosts) * _HOST_H + len(lanes) * _ROW_H + 8
    width = _LABEL_W + _PLOT_W + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
        f'height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">'
    ]
    tick = 0.0
    while tick <= span + 1e-9:
        tx = x(t0 + tick)
        out.append(f'<line class="grid" x1="{tx:.1f}" y1="{_AXIS_H - 6}" x2="{tx:.1f}" y2="{height}"/>')
        out.append(
            f'<text class="axis" x="{tx:.1f}" y="{_AXIS_H - 10}" text-anchor="middle">'
            f"{escape(_tick_label(tick, step))}</text>"
        )
        tick += step
    out.append(f'<text class="axis" x="4" y="{_AXIS_H - 10}">{escape(_clock(t0))}</text>')
    y = float(_AXIS_H)
    for host in hosts:
        out.append(
            f'<text class="host-label" x="4" y="{y + 16:.1f}">host {escape(host)}</text>'
            f'<line x1="0" y1="{y + _HOST_H - 2:.1f}" x2="{width}" y2="{y + _HOST_H - 2:.1f}" '
            'stroke="#b0bec5"/>'
        )
        y += _HOST_H
        for lane in (lane for lane in lanes if lane.host == host):
            label = lane.name if len(lane.name) <= 28 else lane.name[:27] + "…"
            out.append(
                f'<g class="lane" data-name="{escape(lane.ident)}" '
                f'data-state="{escape(lane.state)}" data-host="{escape(host)}">'
                f'<text class="row-label" x="12" y="{y + 14:.1f}">{escape(label)}'
                f"<title>{escape(lane.name)}</title></text>"
            )
            for att in lane.attempts:
                out.append(_attempt_bar(lane, att, x, y, now))
            out.append("</g>")
            y += _ROW_H
    out.append("</svg>")
    return "".join(out)


def _attempt_bar(lane: _Lane, att: AttemptInfo, x: Any, y: float, now: float) -> str:
    fill, stroke = colours(att.state.value)
    end = att.ended_at if att.ended_at is not None else (None if att.state.is_final else now)
    parts = [
        f'<g class="attempt" data-attempt="{att.number}" data-name="{escape(lane.ident)}" '
        f'data-state="{att.state.value}" data-host="{escape(lane.host)}">'
        f"<title>{escape(_attempt_title(lane.name, att, now))}</title>"
    ]
    top, bar_h = y + 3, _ROW_H - 6
    start = att.started_at
    if att.submitted_at is None and start is None:
        cx = x(end if end is not None else now)
        parts.append(
            f'<path class="never-ran" d="M{cx:.1f},{top:.1f} l5,{bar_h / 2:.1f} '
            f"l-5,{bar_h / 2:.1f} "
            f'l-5,{-bar_h / 2:.1f} z" fill="{fill}" stroke="{stroke}"/>'
        )
        parts.append("</g>")
        return "".join(parts)
    if att.submitted_at is not None:
        q_end = start if start is not None else (end if end is not None else now)
        qx = x(att.submitted_at)
        parts.append(
            f'<rect class="queued" x="{qx:.1f}" y="{top + 3:.1f}" '
            f'width="{max(1.0, x(q_end) - qx):.1f}" '
            f'height="{bar_h - 6:.1f}" fill="#cfd8dc"/>'
        )
    if start is not None:
        r_end = end if end is not None else now
        rx = x(start)
        parts.append(
            f'<rect class="run" x="{rx:.1f}" y="{top:.1f}" width="{max(2.0, x(r_end) - rx):.1f}" '
            f'height="{bar_h:.1f}" rx="2" fill="{stroke}" fill-opacity="0.85"/>'
        )
    if end is not None:
        parts.append(
            f'<line class="end" x1="{x(end):.1f}" y1="{top - 1:.1f}" x2="{x(end):.1f}" '
            f'y2="{top + bar_h + 1:.1f}" stroke="{stroke}" stroke-width="2"/>'
        )
    if att.elements:
        count = len(att.elements)
        slice_h = max(1.0, (bar_h - 2) / count)
        for number, element in enumerate(att.elements):
            if element.started_at is None:
                continue
            e_end = element.ended_at if element.ended_at is not None else now
            ex = x(element.started_at)
            parts.append(
                f'<rect class="element" data-index="{element.index}" x="{ex:.1f}" '
                f'y="{top + 1 + number * slice_h:.1f}" width="{max(1.0, x(e_end) - ex):.1f}" '
                f'height="{slice_h:.2f}" fill="{colours(element.state.value)[1]}" stroke="#ffffff" '
                f'stroke-width="0.3"><title>{escape(lane.name)}[{element.index}]: '
                f"{escape(element.state.value)}</title></rect>"
            )
    parts.append("</g>")
    return "".join(parts)


# ------------------------------------------------------------------------------ table
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


def jobs_table(root: Path, rows: Sequence[Mapping[str, Any]], idents: Mapping[str, str]) -> str:
    """The table of jobs; failures carry their reason and stderr tail."""
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
        label = row["state"]
        if row.get("array"):
            done = sum(1 for e in row["array"] if e["state"] == "completed")
            label = f"{row['state']} ({done}/{len(row['array'])})"
        exit_code = "" if row["exit_code"] is None else str(row["exit_code"])
        if row.get("signal"):
            exit_code += f" (signal {row['signal']})"
        attempt_tip = "; ".join(
            f"#{a['attempt']} {a['state']}"
            + (f" exit {a['exit_code']}" if a["exit_code"] is not None else "")
            for a in row["attempts"]
        )
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
            f"<td>{''.join(details)}</td>",
        ]
        out.append(
            f'<tr class="job" data-name="{escape(ident)}" data-state="{escape(row["state"])}" '
            f'data-key="{row["key"]}">' + "".join(cells) + "</tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


# ------------------------------------------------------------------------------ page
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
    rows = status_rows(state, names)
    graph_all = build_graph(state, names)
    idents = {n.key: n.ident for n in graph_all.nodes}
    summary = summarize(state, rows, now=now, cpu_reported=cpu_reported)
    heading = title or f"jobledger report · {root.name}"
    from jobledger import __version__

    dags = []
    for number, name in enumerate(names):
        graph = build_graph(state, [name])
        svg = to_svg(graph, standalone=False, element_id=f"dag-{number}")
        dags.append(
            f"<h3>workflow {escape(name)} · {len(graph.nodes)} job(s)</h3>"
            f'<div class="scroll dag-wrap">{svg}</div>'
        )
    failures = [r for r in rows if _failed(r)]
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
        f'<div class="scroll">{timeline_svg(state, rows, idents=idents, now=now)}</div>',
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


def write_report(
    project: Any,
    path: Path | str,
    workflows: Iterable[str] | None = None,
    *,
    now: float | None = None,
) -> Path:
    """Build the report of ``project`` (a :class:`~jobledger.project.Project`) into ``path``."""
    ledger = project.ledger
    ledger.refresh()
    html = build_report(
        ledger.state,
        project.root,
        workflows,
        now=now,
        cpu_reported=reported_cpu(ledger.iter_events()),
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target


# ------------------------------------------------------------------------------ notebooks
@attrs.frozen
class StatusReport:
    """The status of a project's jobs, renderable in Jupyter (``_repr_html_``).

    ``rows`` are the ``status --json`` objects; iterate over them, index by job name with
    ``report["train"]``, or call :meth:`to_html` for the full self-contained report.
    """

    root: Path
    workflows: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...]
    summary: Summary
    state: ProjectState = attrs.field(repr=False, eq=False)

    @property
    def counts(self) -> Mapping[str, int]:
        """Number of jobs per state."""
        return self.summary.by_state

    @property
    def finished(self) -> bool:
        """True when every job is in a final state."""
        return self.summary.done == self.summary.jobs

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        for row in self.rows:
            if row["name"] == name or row["key"] == name:
                return row
        raise KeyError(name)

    def __str__(self) -> str:
        states = ", ".join(f"{n} {s}" for s, n in self.summary.by_state.items()) or "no jobs"
        return f"{self.summary.jobs} job(s) in {', '.join(self.workflows) or 'no workflow'}: {states}"

    def to_html(self) -> str:
        """The full self-contained report (as ``jobledger report`` writes it)."""
        return build_report(self.state, self.root, self.workflows)

    def _repr_html_(self) -> str:
        s = self.summary
        total = max(1, s.jobs)
        bar = []
        for state, number in s.by_state.items():
            bar.append(
                f'<div title="{number} {escape(state)}" style="width:{100 * number / total:.2f}%;'
                f'background:{colours(state)[1]}"></div>'
            )
        badges = " ".join(_state_badge(state, f"{state}: {n}") for state, n in s.by_state.items())
        figures = (
            f"{s.done}/{s.jobs} finished · wall time {fmt_duration(s.wall_time) or 'n/a'} · "
            f"{s.attempts} attempt(s) · {fmt_cpu_hours(s.cpu_hours_allocated)} used · "
            f"reuse {s.reuse_ratio:.0%}"
        )
        head = "".join(
            f'<th style="text-align:left;padding:2px 8px">{h}</th>'
            for h in ("job", "state", "host", "exit", "attempts", "runtime", "scheduler id")
        )
        lines = []
        for row in self.rows:
            exit_code = "" if row["exit_code"] is None else str(row["exit_code"])
            cells = (
                escape(row["name"]),
                _state_badge(row["state"]),
                escape(row["host"] or ""),
                escape(exit_code),
                str(len(row["attempts"]) or ""),
                escape(fmt_duration(row["elapsed"])),
                escape(row["scheduler_id"] or ""),
            )
            lines.append("<tr>" + "".join(f'<td style="padding:2px 8px">{c}</td>' for c in cells) + "</tr>")
        return (
            '<div class="jobledger-status"><b>jobledger status</b> · '
            f"{escape(', '.join(self.workflows))} · "
            f"{escape(str(self.root))}<br>{figures}"
            '<div style="display:flex;height:8px;margin:6px 0;border-radius:4px;overflow:hidden;'
            f'background:#eceff1;max-width:480px">{"".join(bar)}</div>{badges}'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"
        )


def status(project: Any = None, workflows: Iterable[str] | str | None = None) -> StatusReport:
    """A :class:`StatusReport` of ``project`` (a Project, a path, or the one found upward).

    Reads the ledger only (no scheduler is asked); ``workflows`` narrows the jobs shown.
    """
    from jobledger.project import Project

    proj = project if isinstance(project, Project) else Project.open(project)
    ledger = proj.ledger
    ledger.refresh()
    state = ledger.state
    if isinstance(workflows, str):
        workflows = [workflows]
    names = tuple(workflows) if workflows is not None else tuple(state.workflows())
    rows = status_rows(state, names)
    return StatusReport(
        root=proj.root,
        workflows=tuple(n for n in names if state.workflow(n) is not None),
        rows=tuple(rows),
        summary=summarize(state, rows),
        state=state,
    )
