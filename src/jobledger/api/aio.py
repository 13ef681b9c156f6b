"""``await`` forms of the verbs, so one event loop can drive many workflows at once.

::

    import asyncio, jobledger

    async def main():
        handles = await asyncio.gather(*(jobledger.run_async(wf) for wf in workflows))
        results = await asyncio.gather(*(jobledger.wait_async(h) for h in handles))

    # hyrun's spelling: run and wait in one
    results = await jobledger.arun(workflow)

Each function calls the synchronous verb of the same name in a thread. :func:`wait_async`
runs the session's wait (``Session.wait``: it drives the workflow when no other driver
does, and wakes on each job's completion) in a daemon thread of its own, so any number of
workflows progress together without tying up the loop's thread pool. Cancelling the
awaiting task leaves the jobs running, driven to their end (call :func:`stop_async` to
cancel them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from jobledger.api.driving import in_thread
from jobledger.api.verbs import check, fetch, run, stop, update, wait
from jobledger.session.results import Result
from jobledger.states import JobState

#: Kept for callers that pass ``poll=``: waits wake on the jobs' own events now.
DEFAULT_POLL = 0.25


async def run_async(
    *items: Any,
    wait: bool = False,
    poll: float = DEFAULT_POLL,
    check: bool = True,
    progress: bool | None = False,
    **kwargs: Any,
) -> Any:
    """``await`` form of :func:`jobledger.run`: submits and returns the handle(s).

    With ``wait=True`` it then awaits every job (one :func:`wait_async` over all the
    workflows, ``timeout=`` applying to it) and returns results by name, raising
    :class:`~jobledger.errors.WorkflowFailed` when a job failed unless ``check=False``.
    Quiet unless ``progress=None`` (or True): many runs may share one terminal.
    """
    timeout = kwargs.pop("timeout", None)
    handles = await asyncio.to_thread(run, *items, wait=False, **kwargs)
    if not wait:
        return handles
    every = handles if isinstance(handles, list) else [handles]
    return await wait_async(*every, timeout=timeout, check=check, progress=progress)


async def arun(*items: Any, poll: float = DEFAULT_POLL, **kwargs: Any) -> dict[str, Result]:
    """hyrun's ``arun``: run and wait; results by job name (failed jobs among them, as
    hyrun returns them: nothing is raised for a failed job)."""
    kwargs.pop("wait", None)
    kwargs.setdefault("check", False)
    results: dict[str, Result] = await run_async(*items, wait=True, **kwargs)
    return results


async def wait_async(
    *items: Any,
    timeout: float | None = None,
    poll: float = DEFAULT_POLL,
    project: Any = None,
    check: bool = True,
    progress: bool | None = False,
) -> dict[str, Result]:
    """``await`` form of :func:`jobledger.wait`: results by name once every job is final.

    Raises :class:`~jobledger.WaitTimeout` after ``timeout`` seconds and
    :class:`~jobledger.errors.WorkflowFailed` when a job did not complete (unless
    ``check=False``). Quiet by default (many waits share one terminal); ``progress=None``
    shows progress and the summary as :func:`jobledger.wait` does.
    """
    results: dict[str, Result] = await in_thread(
        wait, *items, timeout=timeout, project=project, progress=progress, check=check
    )
    return results


await_ = wait_async
"""Alias of :func:`wait_async`."""


async def update_async(*items: Any, project: Any = None) -> dict[str, Result]:
    """``await`` form of :func:`jobledger.update`: observe, drive when possible, results."""
    results: dict[str, Result] = await asyncio.to_thread(update, *items, project=project)
    return results


async def check_async(*items: Any, project: Any = None) -> dict[str, JobState]:
    """``await`` form of :func:`jobledger.check`: each job's state."""
    states: dict[str, JobState] = await asyncio.to_thread(check, *items, project=project)
    return states


async def fetch_async(*items: Any, project: Any = None) -> dict[str, Result]:
    """``await`` form of :func:`jobledger.fetch`: results as they are now."""
    results: dict[str, Result] = await asyncio.to_thread(fetch, *items, project=project)
    return results


async def stop_async(*items: Any, project: Any = None, grace: float = 5.0) -> list[str]:
    """``await`` form of :func:`jobledger.stop`: cancel; the names touched."""
    names: list[str] = await asyncio.to_thread(stop, *items, project=project, grace=grace)
    return names


async def as_completed(
    *handles: Any, poll: float = DEFAULT_POLL
) -> AsyncIterator[tuple[Any, dict[str, Result]]]:
    """Yield ``(handle, results)`` for each handle as its workflow ends (async iterator;
    failed jobs are among the results, nothing is raised for them)."""
    tasks = {asyncio.ensure_future(wait_async(h, check=False)): h for h in handles}
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield tasks[task], task.result()
    finally:
        for task in tasks:
            task.cancel()


aupdate = update_async
acheck = check_async
afetch = fetch_async
astop = stop_async

__all__ = [
    "acheck",
    "afetch",
    "arun",
    "as_completed",
    "astop",
    "aupdate",
    "await_",
    "check_async",
    "fetch_async",
    "run_async",
    "stop_async",
    "update_async",
    "wait_async",
]
