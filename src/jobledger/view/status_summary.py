"""``jobledger status`` of a big project: counts by state per workflow, the jobs that need
a look (failed, lost, running...) listed, the completed rest folded into one line.

Only the listed jobs are decoded; the counts come from :mod:`jobledger.ledger.queries`, so
a finished 100,000-job project answers in about a second.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence

from rich.console import RenderableType
from rich.text import Text

from jobledger.ledger.queries import key_states, tally
from jobledger.ledger.state import ProjectState, WorkflowInfo
from jobledger.states import JobState
from jobledger.view.status import job_row
from jobledger.view.status_table import _cells, _fitting, driver_note, history_notes, status_table
from jobledger.view.styles import UNFINISHED

#: More jobs than this in the shown workflows: ``status`` summarises (``--all`` lists all).
FOLD_AT = 100
#: Jobs listed per workflow in a summary; the rest are folded into one line.
LISTED = 30


def needs_summary(workflows: Mapping[str, WorkflowInfo], names: Sequence[str]) -> bool:
    """True when the current jobs of the workflows ``names`` are more than :data:`FOLD_AT`."""
    return sum(len(workflows[n].job_keys) for n in names if n in workflows) > FOLD_AT


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {s}" for s, n in counts.items())


def summary_view(
    state: ProjectState,
    workflows: Mapping[str, WorkflowInfo],
    names: Sequence[str],
    *,
    holder: Callable[[str], str | None] | None = None,
    resume: str = "jobledger resume",
    width: int | None = None,
    listed: int = LISTED,
) -> list[RenderableType]:
    """What ``status`` prints for many jobs: per workflow a line of counts by state, a table
    of the jobs that failed (lost first) and of those under way (at most ``listed`` of each),
    a line folding the rest ("N more, use --all"), its notes; then one line over all
    workflows."""
    parts: list[RenderableType] = []
    now = time.time()
    totals: dict[str, int] = {}
    everything = 0
    for name in names:
        wf = workflows.get(name)
        if wf is None:
            continue
        states = key_states(state.model, wf.job_keys)
        counts = tally(s for _, s in states)
        lost = {k for k, s in states if s is JobState.LOST}
        for s, n in counts.items():
            totals[s] = totals.get(s, 0) + n
        everything += len(states)
        reused = state.reused(name)
        head = (
            f"workflow {name}: {len(states):,} job{'' if len(states) == 1 else 's'}: {_counts_text(counts)}"
        )
        if reused:
            head += f"; {len(reused):,} reused by the latest run"
        parts.append(Text(head, style="bold"))
        failures = [k for k, s in states if s.is_final and s is not JobState.COMPLETED]
        under_way = [k for k, s in states if not s.is_final]
        failures.sort(key=lambda k: k not in lost)
        shown_keys = failures[:listed] + under_way[:listed]
        rows = []
        for key in shown_keys:
            info = state.job(key)
            if info is not None:
                rows.append(job_row(info, name, now, key in reused))
        unfinished = len(under_way)
        driver = holder(name) if unfinished and holder is not None else None
        if unfinished and holder is not None:
            for row in rows:
                if row["state"] in UNFINISHED:
                    row["driver"] = driver
        if rows:
            columns = _fitting([_cells(r) for r in rows], width)
            parts.append(status_table(rows, columns=columns))
        shown = set(shown_keys)
        folded = tally(s for k, s in states if k not in shown)
        rest = sum(folded.values())
        if rest:
            parts.append(
                Text(f"… {rest:,} more ({_counts_text(folded)}), use --all to list every job", style="dim")
            )
        if wf.superseded:
            parts.append(
                Text(
                    f"  and {len(wf.superseded):,} job(s) of earlier definitions, use --all to see them",
                    style="dim",
                )
            )
        notes = history_notes(state, name)
        if unfinished and holder is not None:
            note = driver_note(name, [{"state": "running", "driver": driver}] * unfinished, resume)
            if note is not None:
                notes.append(note)
        parts.extend(Text(note, style="yellow" if "no driver" in note else "") for note in notes)
    if len(names) > 1:
        parts.append(Text(f"{everything:,} jobs: {_counts_text(dict(sorted(totals.items())))}"))
    return parts


def unfinished_workflows(
    state: ProjectState, workflows: Mapping[str, WorkflowInfo], names: Sequence[str]
) -> list[str]:
    """The workflows among ``names`` that have a job not final yet (of any definition)."""
    out = []
    for name in names:
        wf = workflows.get(name)
        if wf is None:
            continue
        keys = itertools.chain(wf.job_keys, wf.superseded)
        if any(not s.is_final for _, s in key_states(state.model, keys)):
            out.append(name)
    return out
