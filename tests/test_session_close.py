"""Closing a session lets go of what its driver holds: the folder watch (an inotify
instance, of which a user has 128 on most Linux systems), the backends' connections and
their supervisors' pipes. A long-lived process (a notebook, a service, a test runner)
opens and closes many sessions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import jobledger as jl
from jobledger.project import Project
from jobledger.session.session import Session


def _inotify_instances() -> int:
    """inotify instances this process holds (Linux: an fd linked to ``anon_inode:inotify``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            continue
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts inotify instances in /proc (Linux)")
def test_closed_sessions_hold_no_watch_and_no_backend(project: Project) -> None:
    before = _inotify_instances()
    for round_ in range(3):
        session = Session(project)
        session.run([jl.Workflow([jl.Job(name=f"j{round_}", command=["true"])], name=f"w{round_}")])
        session.wait(None, None, timeout=60, check=True, progress=False)
        assert session.driver.backends, "the run used the local backend"
        session.close()
        assert session.driver.backends == {}
        assert _inotify_instances() == before, f"round {round_}: the session's folder watch is still open"
    assert (Path(project.root) / "jobs").is_dir()
