"""Handing a job to the engine: :func:`submit_job`, and the job id its :class:`JobInfo` carries."""

from __future__ import annotations

import threading
from typing import Any

from jobledger.api.driving import drive_until
from jobledger.api.hamilton.info import JobInfo
from jobledger.api.hamilton.jobs import log
from jobledger.api.verbs import RunHandle, init, run, wait
from jobledger.model.job import Job
from jobledger.model.workflow import Workflow
from jobledger.session.results import tail_text


def submit_job(
    job: Job,
    *,
    block: bool = False,
    test_only: bool = False,
    force: bool = False,
    project: Any = None,
    timeout: float | None = None,
) -> JobInfo:
    """Hand ``job`` (with its upstream jobs) to the engine; the :class:`JobInfo`.

    ``block`` waits for the job's end (showing progress and the summary, from the main
    thread); a failed job is logged, not raised, as Hamilton-HPC-Orchestra has it.
    """
    key = Workflow([job], name="_").keys()[job.name]
    workflow = Workflow([job], name=f"{job.name}-{key[:8]}")
    if test_only:
        handle = init(workflow, project=project)
        assert isinstance(handle, RunHandle)
        return JobInfo(0, job=job, handle=handle, host=job.host)
    handle = run(workflow, force=force, project=project, wait_for_lock=True)
    assert isinstance(handle, RunHandle)
    if block:
        # the summary of every jobledger run; none from worker threads (Hamilton's
        # MultiThreadingExecutor): their live lines would fight over one terminal
        progress = None if threading.current_thread() is threading.main_thread() else False
        result = wait(handle, timeout=timeout, progress=progress, check=False)[job.name]
        if not result.ok:
            log.warning("job %s ended %s: %s", job.name, result.state.value, result.reason)
    return JobInfo(_number(handle, job), job=job, handle=handle, host=job.host)


def _number(handle: RunHandle, job: Job, patience: float = 2.0) -> int:
    """The scheduler's job id; for local jobs the pid of the job's process.

    The session steps until the job has one (or ended, or was reused); past ``patience``
    seconds a number derived from the job's key stands in.
    """
    key = handle.keys[job.name]
    found: list[int] = []

    def known() -> bool:
        result = handle.session.results([key])[job.name]
        sid = result.scheduler_id
        if sid and sid.isdigit():
            found.append(int(sid))
            return True
        record = handle.session.state.record(key)
        attempt = record.current if record is not None else None
        pid = attempt.pid if attempt is not None else None
        if not pid:
            claim = tail_text(result.unit_dir / "claim", 1).split()
            pid = int(claim[0]) if claim and claim[0].isdigit() else None
        if pid:
            found.append(pid)
            return True
        return result.reused or result.state.is_final

    if drive_until(handle.session, known, patience) and found:
        return found[-1]
    return int(key[:7], 16)
