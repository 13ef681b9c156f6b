"""``await`` forms of the verbs, so one event loop can drive many workflows at once.

::

    import asyncio, jobledger

    async def main():
        handles = await asyncio.gather(*(jobledger.run_async(wf) for wf in workflows))
        results = await asyncio.gather(*(jobledger.wait_async(h) for h in handles))

    # hyrun's spelling: run and wait in one
    results = await jobledger.arun(workflow)

Every function calls the synchronous verb of the same name in a worker thread
(:func:`asyncio.to_thread`) and never blocks a thread for long: :func:`wait_async` is a
loop of non-blocking ``wait(timeout=0)`` checks (each one also drives the workflow when
no other driver does) separated by ``await asyncio.sleep(poll)``, so any number of
workflows progress together without tying up the default thread pool, and cancelling the
awaiting task leaves the jobs running (call :func:`stop_async` to cancel them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from jobledger.api.verbs import WaitTimeout, check, fetch, run, stop, update, wait
from jobledger.session.results import Result
from jobledger.states import JobState

#: Seconds between two checks of :func:`wait_async`.
DEFAULT_POLL = 0.25


async def run_async(*items: Any, wait: bool = False, poll: float = DEFAULT_POLL, **kwargs: Any) -> Any:
    """``await`` form of :func:`jobledger.run`: submits and returns the handle(s).

    With ``wait=True`` it then awaits :func:`wait_async` and returns results by name
    (``timeout=`` applies to that wait).
    """
    timeout = kwargs.pop("timeout", None)
    handles = await asyncio.to_thread(run, *items, wait=False, **kwargs)
    if not wait:
        return handles
    results: dict[str, Result] = {}
    for handle in handles if isinstance(handles, list) else [handles]:
        results.update(await wait_async(handle, timeout=timeout, poll=poll))
    return results


async def arun(*items: Any, poll: float = DEFAULT_POLL, **kwargs: Any) -> dict[str, Result]:
    """hyrun's ``arun``: run and wait; results by job name."""
    kwargs.pop("wait", None)
    results: dict[str, Result] = await run_async(*items, wait=True, poll=poll, **kwargs)
    return results


async def wait_async(
    *items: Any,
    timeout: float | None = None,
    poll: float = DEFAULT_POLL,
    project: Any = None,
) -> dict[str, Result]:
    """``await`` form of :func:`jobledger.wait`: results by name once every job is final.

    Raises :class:`~jobledger.WaitTimeout` after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            results: dict[str, Result] = await asyncio.to_thread(
                wait, *items, timeout=0, project=project, progress=False, check=False
            )
            return results
        except WaitTimeout:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(f"not every job was final after {timeout}s")
        delay = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
        await asyncio.sleep(delay)


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
    """Yield ``(handle, results)`` for each handle as its workflow ends (async iterator)."""
    tasks = {asyncio.ensure_future(wait_async(h, poll=poll)): h for h in handles}
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
