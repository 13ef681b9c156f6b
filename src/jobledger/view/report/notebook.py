"""The report in notebooks: :func:`status` returns a :class:`StatusReport` that renders as
an HTML summary and table (``_repr_html_``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from html import escape
from pathlib import Path
from typing import Any

import attrs

from jobledger.ledger.state import ProjectState
from jobledger.view.graph import colours
from jobledger.view.report.common import _state_badge, fmt_duration
from jobledger.view.report.page import build_report
from jobledger.view.report.summary import Summary, fmt_cpu_hours, summarize
from jobledger.view.status import status_rows


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
