"""One session per project per process: :func:`session_for`, and the end of the script,
where every session drives in the foreground until nothing needs a driver."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from pathlib import Path

from jobledger.errors import JobledgerError
from jobledger.project import Project
from jobledger.session.selection import project_for
from jobledger.session.session import Session

_SESSIONS: dict[Path, Session] = {}
_LOCK = threading.RLock()


def session_for(
    project: str | os.PathLike[str] | Project | None = None,
    *,
    create: bool = True,
    logger: logging.Logger | None = None,
    max_parallel: int | None = None,
) -> Session:
    """The process-wide session of ``project`` (found upward from the cwd when not given)."""
    proj = project_for(project, create=create)
    with _LOCK:
        session = _SESSIONS.get(proj.root)
        if session is None:
            session = _SESSIONS[proj.root] = Session(proj, logger=logger, max_parallel=max_parallel)
        else:
            if logger is not None:
                session.log = session.driver.log = logger
            if max_parallel is not None:
                session.driver.max_parallel = max_parallel
        return session


def forget_session(project: Project) -> None:
    """Close and drop the session of ``project`` (tests, long-lived processes)."""
    with _LOCK:
        session = _SESSIONS.pop(project.root, None)
    if session is not None:
        session.close()
        project.close()


@atexit.register
def _finish_all() -> None:
    for session in list(_SESSIONS.values()):
        try:
            session.finish()
        except JobledgerError as exc:
            print(f"jobledger: error: {exc}", file=sys.stderr)
        finally:
            try:
                session.ledger.flush(durable=True)
            except Exception:  # noqa: S110 - best effort at interpreter exit
                pass
