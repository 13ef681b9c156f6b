"""Status rows: one plain dict per job, shared by ``status --json``, tables and reports."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from jobledger.ledger.state import AttemptInfo, JobInfo, ProjectState


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
    ``index``, ``state``, ``exit_code``, ``signal``, ``reason``.
    """
    cur = info.current
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
        "command": info.definition.get("command", ""),
        "after": [k for k, _ in info.definition.get("after", [])],
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


def status_rows(state: ProjectState, workflows: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rows for every job of the given workflows (all by default), each job once."""
    names = list(workflows) if workflows is not None else list(state.workflows())
    seen: set[str] = set()
    rows = []
    now = time.time()
    for name in names:
        wf = state.workflow(name)
        if wf is None:
            continue
        reused = state.reused(name)
        for key in wf.job_keys:
            if key in seen:
                continue
            seen.add(key)
            info = state.job(key)
            if info is not None:
                rows.append(job_row(info, name, now, key in reused))
    return rows


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


def counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Number of jobs per state."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["state"]] = out.get(row["state"], 0) + 1
    return dict(sorted(out.items()))
