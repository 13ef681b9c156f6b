"""What the faces share to drive through the :class:`~jobledger.session.Session` without
polling: step until something holds, and ``Session.wait`` in a thread for ``await``.

Waits between two steps end at the driver's next event (a job's completion marker, a
launcher's report) or after a short pause, exactly as ``Session.wait`` does; nothing here
sleeps on a timer of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jobledger.session.session import Session

_T = TypeVar("_T")

#: Longest wait between two steps when no event comes (the engine's own fallback).
STEP_PAUSE = 0.5


def drive_until(session: Session, ready: Callable[[], bool], timeout: float) -> bool:
    """Step ``session``'s driver until ``ready()`` holds or ``timeout`` seconds pass.

    For what ``Session.wait`` does not wait for: a job being *submitted* (awflow's and
    Hamilton-HPC-Orchestra's job ids) rather than final. The session's background driver
    pauses meanwhile and carries on afterwards. True when ``ready()`` held.
    """
    if ready():
        return True
    deadline = time.monotonic() + timeout
    session.stop_background()
    try:
        while True:
            report = session.step()
            if ready():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pause = STEP_PAUSE if report.wake_at is None else max(0.01, report.wake_at - time.time())
            session.driver.wait_for_change(min(pause, STEP_PAUSE, remaining))
    finally:
        session.start_background()


async def in_thread(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``await`` ``func(*args, **kwargs)`` run in a daemon thread of its own.

    Unlike :func:`asyncio.to_thread` the thread is not one of the loop's pool: any number
    of waits run at once, and one whose awaiting task was cancelled goes on (driving its
    jobs to their end) without keeping the interpreter from exiting.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return  # the awaiting task was cancelled
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value, error = func(*args, **kwargs), None
        except BaseException as exc:  # handed to the awaiting task
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop closed meanwhile: nobody awaits any more
            pass

    name = f"jobledger-{getattr(func, '__name__', 'wait')}"
    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def notify(loop: asyncio.AbstractEventLoop | None, callback: Callable[..., Any], *args: Any) -> None:
    """Run ``callback(*args)`` in ``loop``'s thread (from a waiting thread); ignored once
    the loop is closed."""
    if loop is None:
        callback(*args)
        return
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass
