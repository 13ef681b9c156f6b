"""Status rows: one plain dict per job, shared by ``status --json``, tables and reports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jobledger.gcpause import gc_paused
from jobledger.ledger.queries import SettledJob, settled_job
from jobledger.ledger.state import AttemptInfo, JobInfo, ProjectState
from jobledger.view.styles import UNFINISHED


def _attempt_dict(att: AttemptInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attempt": att.number,
        "state": att.state.value,
        "exit_code": att.exit_code,
        "signal": att.signal,
        "scheduler_id": att.scheduler_id,
        "host": att.host,
        "run_dir": att.run_dir,
        "submitted": att.submitted_at,
        "started": att.started_at,
        "ended": att.ended_at,
        "reason": att.reason,
        "retry_reason": att.retry_reason,
        "manual": att.manual,
    }
    if att.resources:
        out["resources"] = dict(att.resources)
    if att.elements:
        out["failed_indices"] = att.failed_indices
    return out


def job_row(
    info: JobInfo, workflow: str | None, now: float | None = None, reused: bool = False
) -> dict[str, Any]:
    """The status of one job as plain data (the ``status --json`` schema).

    Keys: ``name``, ``key``, ``workflow``, ``state``, ``host``, ``scheduler_id``,
    ``exit_code``, ``signal``, ``reused``, ``reason``, ``submitted``, ``started``,
    ``ended``, ``elapsed`` (seconds), ``attempt`` (current number), ``attempts`` (one
    object per attempt) and, for array jobs, ``array``: one object per index with
    ``index``, ``state``, ``exit_code``, ``signal``, ``reason``. ``superseded`` is true
    for a job of an earlier definition of its workflow that the current ones do not hold;
    ``driver`` (set by :func:`add_drivers`) names the process driving the workflow,
    ``None`` when none is running.
    """
    cur = info.current
    spec = info.spec
    now = time.time() if now is None else now
    started = cur.started_at if cur else None
    ended = cur.ended_at if cur else None
    elapsed = None
    if started is not None:
        elapsed = round((ended if ended is not None else now) - started, 3)
    row: dict[str, Any] = {
        "name": info.name,
        "key": info.key,
        "workflow": workflow,
        "state": info.state.value,
        "host": (cur.host if cur and cur.host else info.host),
        "scheduler_id": cur.scheduler_id if cur else None,
        "exit_code": cur.exit_code if cur else None,
        "signal": cur.signal if cur else None,
        "reused": reused,
        "reason": cur.reason if cur else "",
        "submitted": cur.submitted_at if cur else None,
        "started": started,
        "ended": ended,
        "elapsed": elapsed,
        "attempt": cur.number if cur else 0,
        "attempts": [_attempt_dict(a) for a in info.attempts if a.submitted_at or a.state.is_final],
        "run_dir": info.run_dir,
        "command": spec.command if spec is not None else "",
        "after": [k for k, _ in spec.after] if spec is not None else [],
        "superseded": False,
    }
    if info.array:
        elements = cur.elements if cur else ()
        row["array"] = [
            {
                "index": e.index,
                "state": e.state.value,
                "exit_code": e.exit_code,
                "signal": e.signal,
                "reason": e.reason,
            }
            for e in elements
        ] or [
            {"index": i, "state": "pending", "exit_code": None, "signal": None, "reason": ""}
            for i in info.array
        ]
    return row


def settled_row(job: SettledJob, workflow: str | None, now: float, reused: bool = False) -> dict[str, Any]:
    """:func:`job_row` of a settled job read from its packed record (the same row)."""
    spec = job.spec
    state = job.state.value
    started, ended = job.started_at, job.ended_at
    attempt: dict[str, Any] = {
        "attempt": job.number,
        "state": state,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "scheduler_id": job.scheduler_id,
        "host": job.host,
        "run_dir": job.run_dir,
        "submitted": job.submitted_at,
        "started": started,
        "ended": ended,
        "reason": job.reason,
        "retry_reason": job.retry_reason,
        "manual": job.manual,
    }
    if job.resources:
        attempt["resources"] = dict(job.resources)
    return {
        "name": spec.name,
        "key": job.key,
        "workflow": workflow,
        "state": state,
        "host": job.host or spec.host,
        "scheduler_id": job.scheduler_id,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "reused": reused,
        "reason": job.reason,
        "submitted": job.submitted_at,
        "started": started,
        "ended": ended,
        "elapsed": None if started is None else round((ended if ended is not None else now) - started, 3),
        "attempt": job.number,
        "attempts": [attempt],
        "run_dir": job.run_dir or spec.run_dir,
        "command": spec.command,
        "after": [k for k, _ in spec.after],
        "superseded": False,
    }


#: Which jobs :func:`status_rows` lists beside those of the current definitions.
HISTORY = ("current", "superseded", "all")


def status_rows(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    *,
    history: str = "current",
    settled: Mapping[str, SettledJob] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every job of the given workflows (a list; see :func:`iter_status_rows`)."""
    with gc_paused():
        return list(iter_status_rows(state, workflows, history=history, settled=settled))


def iter_status_rows(
    state: ProjectState,
    workflows: Iterable[str] | None = None,
    *,
    history: str = "current",
    settled: Mapping[str, SettledJob] | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows for every job of the given workflows (all by default), each job once.

    ``history`` ``"current"`` lists the jobs of each workflow's current definitions;
    ``"superseded"`` adds, below them, the jobs of earlier definitions whose names the
    current ones do not have (the latest of each name), so a re-run of a part of a sweep
    hides none of the runs that finished before; ``"all"`` adds every job ever defined under
    the workflow. Those rows have ``superseded`` set. When a workflow has several current
    definitions (defined on two lines of history that a git merge joined, or by two
    scripts), each of its current rows has ``definition``: the 1-based number of the first
    one that holds it, in the order they were defined.

    Settled jobs are read from their packed records (``settled``: those already read, see
    :func:`~jobledger.ledger.queries.settled_jobs`), the others decoded.
    """
    if history not in HISTORY:
        raise ValueError(f"history must be one of {', '.join(HISTORY)}, not {history!r}")
    names = list(workflows) if workflows is not None else list(state.workflows())
    seen: set[str] = set()
    now = time.time()
    for name in names:
        wf = state.workflow(name)
        if wf is None:
            continue
        reused = state.reused(name)
        named: set[str] = set()
        for number, definition in enumerate(wf.definitions, 1):
            for key in definition.keys:
                if key in seen:
                    continue
                brief = settled.get(key) if settled is not None else settled_job(state.model, key)
                if brief is not None:
                    row = settled_row(brief, name, now, key in reused)
                elif (info := state.job(key)) is not None:
                    row = job_row(info, name, now, key in reused)
                else:
                    continue
                seen.add(key)
                if wf.concurrent:
                    row["definition"] = number
                named.add(row["name"])
                yield row
        if history != "current":
            for key in wf.superseded:
                info = state.job(key)
                if key in seen or info is None or (history == "superseded" and info.name in named):
                    continue
                seen.add(key)
                named.add(info.name)
                row = job_row(info, name, now)
                row["superseded"] = True
                yield row


def add_drivers(rows: Iterable[dict[str, Any]], holder: Callable[[str], str | None]) -> None:
    """Set ``driver`` on the rows of each workflow that has unfinished jobs: who drives it
    (``holder(workflow)``), ``None`` when no process does."""
    rows = list(rows)
    unfinished = {r["workflow"] for r in rows if r["state"] in UNFINISHED and r["workflow"]}
    drivers = {name: holder(name) for name in sorted(unfinished)}
    for row in rows:
        if row["workflow"] in drivers:
            row["driver"] = drivers[row["workflow"]]


def orphan_rows(state: ProjectState) -> list[dict[str, Any]]:
    """Rows for jobs the ledger has events of but no definition (their workflow record is lost).

    Only a damaged ledger has them: the record holding the ``workflow`` event failed its
    digest, or its segment is gone, while later events about the jobs survive. Each row
    is named by the job's key and has ``definition_lost`` set.
    """
    listed = {key for wf in state.workflows().values() for key in wf.job_keys}
    now = time.time()
    rows = []
    for key in sorted(k for k in state.model.jobs if k not in listed):
        info = state.job(key)
        if info is not None and info.spec is None:  # else: an older definition
            row = job_row(info, None, now)
            row["name"] = key[:12]
            row["definition_lost"] = True
            rows.append(row)
    return rows


def counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Number of jobs per state."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["state"]] = out.get(row["state"], 0) + 1
    return dict(sorted(out.items()))
