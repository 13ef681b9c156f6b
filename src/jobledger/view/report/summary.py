"""The report's summary figures: :class:`Summary`, :func:`summarize`, CPU hours, and the
cards and state chips that show them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

import attrs

from jobledger.ledger.state import AttemptInfo, ProjectState
from jobledger.states import STATES
from jobledger.view.graph import colours
from jobledger.view.report.columns import ReportJobs
from jobledger.view.report.common import ACTIVE, fmt_duration
from jobledger.view.status import counts


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


#: What the summary needs of an attempt: ``(number, submitted, started, ended, final,
#: resources, units)``, ``units`` the ``(started, ended)`` of each unit that ran.
_Shown = tuple[int, float | None, float | None, float | None, bool, Mapping[str, Any], list[Any]]


def _units(att: AttemptInfo) -> list[tuple[float | None, float | None]]:
    """``(started, ended)`` of each unit that ran: the elements of an array, else the attempt."""
    if att.elements:
        return [(e.started_at, e.ended_at) for e in att.elements]
    return [(att.started_at, att.ended_at)]


def _shown(state: ProjectState, row: Mapping[str, Any]) -> list[_Shown] | None:
    """The attempts of ``row`` that were submitted or ended (``None``: job unknown). A job
    that is not an array has them in its row; an array's elements are read from the state."""
    if not row.get("array"):
        return [
            (a["attempt"], a["submitted"], a["started"], a["ended"], STATES[a["state"]].is_final,
             a.get("resources") or {}, [(a["started"], a["ended"])])
            for a in row["attempts"]
        ]  # fmt: skip
    info = state.job(row["key"])
    if info is None:
        return None
    return [
        (a.number, a.submitted_at, a.started_at, a.ended_at, a.state.is_final, a.resources or {}, _units(a))
        for a in info.attempts
        if a.submitted_at or a.state.is_final
    ]


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
    tally = _Tally(time.time() if now is None else now, cpu_reported)
    for row in rows:
        tally.add(row["key"], row["reused"], _shown(state, row))
    return tally.summary(len(rows), counts(rows))


def summarize_jobs(
    jobs: ReportJobs, *, now: float | None = None, cpu_reported: Mapping[tuple[str, int], float] | None = None
) -> Summary:
    """:func:`summarize` of the rows of ``jobs`` (the same figures), reading the jobs the
    view index covers from its columns."""
    tally = _Tally(time.time() if now is None else now, cpu_reported)
    index, state, keys, full = jobs.index, jobs.state, jobs.keys, jobs.full
    if index is None:
        for p, key in enumerate(keys):
            tally.add(key, jobs.reused[p], _shown(state, full[p]))
        return tally.summary(len(keys), dict(sorted(Counter(jobs.states).items())))
    at = jobs.at
    starts, ends, now = tally.starts, tally.ends, tally.now
    columns = (index.submitted_at, index.started_at, index.ended_at, index.cores, index.time_limit)
    picked = [jobs.pick(column) for column in columns]
    for p, (i, reused, submitted, started, ended, cpus, limit) in enumerate(
        zip(at, jobs.reused, *picked, strict=True)
    ):
        if i < 0:
            tally.add(keys[p], reused, _shown(state, full[p]))
            continue
        # one final attempt, not an array: what tally.add does with it
        tally.attempts += 1
        if reused:
            tally.reused += 1
            continue
        first = submitted or started
        if first is not None:
            starts.append(first)
        if ended is not None:
            ends.append(ended)
        if started is None:
            continue
        if limit:
            tally.requested = (tally.requested or 0.0) + cpus * limit * 1 / 3600
        else:
            tally.without_limit += 1
        tally.allocated += cpus * max(0.0, (ended if ended is not None else now) - started) / 3600
        if cpu_reported:
            tally.report(keys[p], index.number[i])
    return tally.summary(len(keys), dict(sorted(Counter(jobs.states).items())))


class _Tally:
    """The figures of a :class:`Summary`, added up attempt by attempt."""

    def __init__(self, now: float, cpu_reported: Mapping[tuple[str, int], float] | None) -> None:
        self.now = now
        self.cpu_reported = cpu_reported
        self.attempts = self.retried = self.reused = self.without_limit = 0
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.requested: float | None = None
        self.allocated = 0.0
        self.reported: float | None = None

    def add(self, key: str, reused: bool, shown: list[_Shown] | None) -> None:
        """The attempts ``shown`` of job ``key``."""
        if shown is None:
            return
        self.attempts += len(shown)
        self.retried += len(shown) > 1
        if reused:
            self.reused += 1
            return
        now, starts, ends = self.now, self.starts, self.ends
        for number, submitted, started, ended, final, res, units in shown:
            first = submitted or started
            if first is not None:
                starts.append(first)
            if ended is not None:
                ends.append(ended)
            elif not final and first is not None:
                ends.append(now)
            cpus = float(res.get("cpus") or 1) * float(res.get("nodes") or 1)
            ran = [(s, e if e is not None else now) for s, e in units if s is not None]
            if started is None and not ran:
                continue
            limit = res.get("time")
            if limit:
                self.requested = (self.requested or 0.0) + cpus * float(limit) * len(units) / 3600
            else:
                self.without_limit += 1
            self.allocated += sum(cpus * max(0.0, e - s) for s, e in ran) / 3600
            self.report(key, number)

    def report(self, key: str, number: int) -> None:
        """Add what a scheduler reported of attempt ``number`` of ``key``."""
        if self.cpu_reported and (key, number) in self.cpu_reported:
            self.reported = (self.reported or 0.0) + self.cpu_reported[(key, number)] / 3600

    def summary(self, jobs: int, by_state: Mapping[str, int]) -> Summary:
        """The figures added up, for ``jobs`` jobs counted ``by_state``."""
        return Summary(
            jobs=jobs,
            by_state=by_state,
            attempts=self.attempts,
            retried_jobs=self.retried,
            reused_jobs=self.reused,
            first_start=min(self.starts) if self.starts else None,
            last_end=max(self.ends) if self.ends else None,
            cpu_hours_requested=self.requested,
            attempts_without_limit=self.without_limit,
            cpu_hours_allocated=self.allocated,
            cpu_hours_reported=self.reported,
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
