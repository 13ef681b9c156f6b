"""Driving in the foreground: :meth:`Session.wait` (block until jobs are final, with
progress, callbacks and a summary) and :meth:`Session.finish` (the end of a script, where
the session drives until nothing needs a driver)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobledger.errors import WaitTimeout, WorkflowFailed
from jobledger.session.interrupt import JobsKeepRunning, Left, interrupted_line
from jobledger.session.progress import (
    Counts,
    Progress,
    failed_message,
    still_running_line,
    summary_from,
)
from jobledger.session.results import LazyResults, Result
from jobledger.session.steering import pause_after
from jobledger.session.waiting import TrackedStates, carry_on_command, job_names, unfinished_text

if TYPE_CHECKING:
    from jobledger.session.session import OnFinal, OnStep, Session


def wait_in_foreground(
    session: Session,
    keys: Sequence[str] | None,
    names: Sequence[str] | None,
    *,
    timeout: float | None,
    check: bool,
    progress: bool | None,
    on_final: OnFinal | None,
    on_step: OnStep | None,
    collect: bool,
) -> dict[str, Result]:
    """:meth:`Session.wait` (see there)."""
    session.stop_background()
    session.steering.raise_background_error()
    names = list(names) if names is not None else session.workflows_of(keys or [])
    keys = list(keys) if keys is not None else session.keys_of(names)
    quiet = session.quiet if progress is None else not progress
    reporter = Progress(len(keys), quiet=quiet or not keys)
    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    seen_final: set[str] = set()
    listeners = [*session.listeners, *([on_final] if on_final else [])]
    tracked = TrackedStates(keys)
    session.driver.forget_changes()
    try:
        while True:
            for name in names:
                session.take_over(name)
            report = session.step(names)
            states = tracked.update(session.ledger.model, session.driver.changes())
            reporter.update(Counts.of_tally(tracked.tally, len(keys)))
            if on_step is not None:
                on_step(states)
            newly = [k for k in tracked.newly_final if k not in seen_final]
            if newly and listeners:
                for name, result in session.results(newly).items():
                    for listener in listeners:
                        listener(name, result)
            seen_final.update(newly)
            if not tracked.unfinished:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise WaitTimeout(
                    unfinished_text(session.ledger.model, keys, timeout),
                    job_names(session.ledger.model, [k for k, s in states.items() if not s.is_final]),
                )
            pause = pause_after(report)
            if deadline is not None:
                pause = min(pause, deadline - now)
            session.driver.wait_for_change(pause)
    except KeyboardInterrupt:
        reporter.close()
        session.steering.release_all()  # stop driving: the exit must not carry on driving
        left = Left.of(session.ledger.model, keys)
        print(interrupted_line(left, carry_on_command(session.project.root)), file=sys.stderr)
        raise JobsKeepRunning() from None
    except WaitTimeout:
        reporter.close()
        if session.steering.held:
            session.start_background()  # the jobs go on being driven meanwhile
        raise
    except BaseException:
        reporter.close()
        session.steering.release_all()  # a failure here: stop driving (and at exit) too
        raise
    session.release([n for n in names if _finished(session, n)])
    states = session.states(keys)
    failed = session.results(k for k, s in states.items() if s.is_final and not s.is_success)
    reused = len(session.reused_keys(names).intersection(keys))
    reporter.close(summary_from(states.values(), failed, time.monotonic() - start, reused=reused))
    # built on first use: a no-op re-run of 100,000 jobs need not decode them all here
    results = LazyResults(functools.partial(session.results, keys)) if collect else failed
    if session.steering.held:
        session.start_background()
    if check and failed:
        raise WorkflowFailed(failed_message(failed, list(failed), total=len(keys)), results, list(failed))
    return results


def drive_to_the_end(session: Session) -> None:
    """:meth:`Session.finish`: drive in the foreground until nothing needs a driver."""
    if not session.steering.background_running and not session.steering.held:
        return
    session.stop_background()
    session.steering.raise_background_error()
    names = list(session.steering.held)
    if not names:
        return
    keys = session.keys_of(names)
    reporter = Progress(len(keys), quiet=session.quiet)
    start = time.monotonic()
    tracked = TrackedStates(keys)
    session.driver.forget_changes()
    try:
        while session.steering.held:
            report = session.step()
            tracked.update(session.ledger.model, session.driver.changes())
            reporter.update(Counts.of_tally(tracked.tally, len(keys)))
            session.steering.release_idle(report)
            if session.steering.held:
                session.driver.wait_for_change(pause_after(report))
    except KeyboardInterrupt:
        reporter.close()
        session.steering.release_all()
        left = Left.of(session.ledger.model, keys)
        print(interrupted_line(left, carry_on_command(session.project.root)), file=sys.stderr)
        _exit_interrupted(session)
    states = session.states(keys)
    failed = session.results(k for k, s in states.items() if s.is_final and not s.is_success)
    reused = len(session.reused_keys(names).intersection(keys))
    lines = summary_from(states.values(), failed, time.monotonic() - start, reused=reused)
    running = sum(1 for s in states.values() if not s.is_final)
    if running:
        lines.append(still_running_line(running, carry_on_command(session.project.root)))
    reporter.close(lines)


def _finished(session: Session, name: str) -> bool:
    scope = session.driver.scope(name)
    return scope is None or scope.final


def _exit_interrupted(session: Session) -> None:
    """Ctrl-C while the script's end drives: exit 130 at once (the ledger made durable and
    the streams flushed first; other exit handlers are not run)."""
    with contextlib.suppress(Exception):
        session.ledger.flush(durable=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(130)
