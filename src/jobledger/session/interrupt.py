"""Ctrl-C and uncaught jobledger errors, as one line each instead of a traceback.

Jobs never depend on the process that waits for them: on Ctrl-C the wait stops, one line
says which jobs keep running where and the exact command that carries on, and
:class:`JobsKeepRunning` (a :class:`KeyboardInterrupt`) ends the script — exit status 130,
no traceback. An uncaught :class:`~jobledger.errors.JobledgerError` prints
``jobledger: error: ...`` (its message names what failed) and exits 1; set
``JOBLEDGER_TRACEBACK=1`` to see the traceback too.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType

from jobledger.errors import JobledgerError


class JobsKeepRunning(KeyboardInterrupt):
    """Ctrl-C while waiting: the jobs keep running; the message says how to carry on."""


def carry_on_line(running: Mapping[str, int], command: str) -> str:
    """``jobledger: interrupted; 3 jobs keep running (2 on local, 1 on slurm); ...``."""
    total = sum(running.values())
    if total:
        where = ", ".join(f"{n} on {host}" for host, n in sorted(running.items()))
        head = f"jobledger: interrupted; {total} job{'s' if total != 1 else ''} keep running ({where})"
    else:
        head = "jobledger: interrupted; no job is running"
    return f"{head}; carry on with `{command}` (or run the script again)"


def _hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    show = os.environ.get("JOBLEDGER_TRACEBACK", "").strip() not in ("", "0")
    if isinstance(value, JobsKeepRunning) and not show:
        return  # the line was printed when it happened
    if isinstance(value, JobledgerError) and not show:
        print(f"jobledger: error: {value}", file=sys.stderr)
        return
    _previous(kind, value, tb)


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
