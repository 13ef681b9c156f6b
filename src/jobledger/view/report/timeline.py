"""The report's timeline: a Gantt chart (SVG) of every attempt, one lane per job and host."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import attrs

from jobledger.ledger.state import AttemptInfo, ProjectState
from jobledger.view.graph import colours
from jobledger.view.report.common import _clock, fmt_duration

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
