"""Ctrl-C and uncaught jobledger errors, as one line each instead of a traceback.

Jobs never depend on the process that waits for them: on Ctrl-C the wait stops, this
process stops driving, one line says which jobs keep running where, how many wait for a
driver, and the exact command that carries on; :class:`JobsKeepRunning` (a
:class:`KeyboardInterrupt`) ends the script with exit status 130 and no traceback. An
uncaught :class:`~jobledger.errors.JobledgerError` prints ``jobledger: error: ...`` (its
message names what failed) and exits 1. ``JOBLEDGER_TRACEBACK=1`` shows the tracebacks.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from types import TracebackType

import attrs

from jobledger.engine.local_backend import LOCAL_ID
from jobledger.engine.scope import is_open
from jobledger.errors import JobledgerError
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, job_phase
from jobledger.states import JobState

#: Exit status of a script or command stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class JobsKeepRunning(KeyboardInterrupt):
    """Ctrl-C while waiting: the jobs keep running; the line printed says how to carry on.

    Uncaught, it ends the program with exit status 130 and no traceback.
    """


@attrs.frozen
class Left:
    """What goes on without this process: jobs by host, and what waits for a driver."""

    running: dict[str, int] = attrs.field(factory=dict)
    """Jobs running, by host."""
    queued: dict[str, int] = attrs.field(factory=dict)
    """Jobs queued at a host's scheduler (they start without a driver)."""
    waiting: int = 0
    """Jobs that start only when a driver submits them (upstreams, the local queue, retries)."""

    @classmethod
    def of(cls, model: Model, keys: Iterable[str]) -> Left:
        """Where the jobs ``keys`` stand in ``model``."""
        running: dict[str, int] = {}
        queued: dict[str, int] = {}
        waiting = 0
        for key in keys:
            job = model.jobs.get(key)
            if job is None:
                waiting += 1
                continue
            phase, _number, state = job_phase(job)
            att = job.current
            host = (att.host if att is not None else None) or (job.spec.host if job.spec else "?")
            if phase is Phase.ACTIVE and state is JobState.RUNNING:
                running[host] = running.get(host, 0) + 1
            elif phase is Phase.ACTIVE and att is not None and att.scheduler_id != LOCAL_ID:
                queued[host] = queued.get(host, 0) + 1
            elif phase is not Phase.SUCCESS and is_open(job):
                waiting += 1  # pending, being reconciled, in this process's local queue, a retry
        return cls(running, queued, waiting)


def _where(by_host: dict[str, int]) -> str:
    """``on local`` for one host, ``(2 on local, 1 on slurm)`` for several."""
    if len(by_host) == 1:
        return f"on {next(iter(by_host))}"
    return "(" + ", ".join(f"{n} on {host}" for host, n in sorted(by_host.items())) + ")"


def interrupted_line(left: Left, command: str) -> str:
    """``jobledger: interrupted; 2 jobs keep running on local, 5 wait for a driver: carry
    on with `jobledger resume` (or run the script again)``."""
    parts = []
    running = sum(left.running.values())
    if running:
        parts.append(f"{running} {'keep' if running > 1 else 'keeps'} running {_where(left.running)}")
    queued = sum(left.queued.values())
    if queued:
        parts.append(f"{queued} {'stay' if queued > 1 else 'stays'} queued {_where(left.queued)}")
    if left.waiting:
        parts.append(f"{left.waiting} {'wait' if left.waiting > 1 else 'waits'} for a driver")
    if parts:  # the noun goes with the first number: "2 jobs keep running ..., 5 wait ..."
        first = running or queued or left.waiting
        number, rest = parts[0].split(" ", 1)
        parts[0] = f"{number} job{'s' if first > 1 else ''} {rest}"
    if not parts:
        return "jobledger: interrupted; no job is left running or waiting"
    return f"jobledger: interrupted; {', '.join(parts)}: carry on with `{command}` (or run the script again)"


def _hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    show = os.environ.get("JOBLEDGER_TRACEBACK", "").strip() not in ("", "0")
    if show:
        _previous(kind, value, tb)
    elif isinstance(value, JobledgerError):
        print(f"jobledger: error: {value}", file=sys.stderr)
    elif not isinstance(value, JobsKeepRunning):  # its line was printed when it happened
        _previous(kind, value, tb)
    if isinstance(value, JobsKeepRunning):
        # SystemExit raised by sys.excepthook sets the exit status (CPython's PyErr_Print);
        # the interpreter still runs its atexit functions
        raise SystemExit(EXIT_INTERRUPTED)


_previous = sys.excepthook


def install() -> None:
    """Make uncaught jobledger errors and Ctrl-C while waiting print one line (idempotent)."""
    global _previous
    if sys.excepthook is not _hook:
        _previous = sys.excepthook
        sys.excepthook = _hook


def format_exception(value: BaseException) -> str:
    """The full traceback text of ``value`` (for logs)."""
    return "".join(traceback.format_exception(type(value), value, value.__traceback__))
