"""The jobledger verbs (hyrun's spelling): ``init``, ``run``, ``check``, ``fetch``, ``update``,
``stop``, ``wait``.

Every verb accepts the same inputs — a Workflow, a Job or list of Jobs, a Task or list of
Tasks, a result or handle, a path to a project, a path to a node-link graph file (as
``JobGraph.write`` makes it), or a mix — normalised by :func:`jobledger.session.select`,
and a ``logger=``. The verbs that act on what ran (``check``, ``fetch``, ``update``,
``stop``, ``wait``, ``retry``) also take the name of a workflow or of a job as a string.
Each is a call on the project's :class:`~jobledger.session.Session`. ``check``, ``fetch``
and ``update`` only read: on jobs that never ran they record nothing and submit nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from jobledger.api.verb_targets import acting, session_of, split_items
from jobledger.errors import ModelError, WaitTimeout
from jobledger.project import Project
from jobledger.session.handle import RunHandle
from jobledger.session.results import Result
from jobledger.states import JobState

__all__ = [
    "RunHandle",
    "WaitTimeout",
    "check",
    "fetch",
    "init",
    "results",
    "retry",
    "run",
    "stop",
    "update",
    "wait",
]


def init(
    *items: Any, project: str | os.PathLike[str] | None = None, logger: logging.Logger | None = None
) -> Any:
    """Create (or open) the project; with workflows/jobs given, record their definitions.

    Returns the :class:`~jobledger.project.Project`, or one :class:`RunHandle` per
    workflow defined (nothing is submitted).
    """
    if not items:
        return Project.init(project)
    if len(items) == 1 and isinstance(items[0], (str, os.PathLike)) and Path(items[0]).is_dir():
        return Project.init(items[0])  # jobledger.init("some/dir") makes a project there
    sel, _texts = split_items(items, names=False)
    session = session_of(sel, project, logger, True)
    handles = []
    for wf in sel.workflows:
        definition = session.define(wf)
        handles.append(RunHandle(session, wf.name, dict(definition.keys), {}))
    return handles[0] if len(handles) == 1 else handles


def run(
    *items: Any,
    wait: bool = False,
    force: bool = False,
    timeout: float | None = None,
    check: bool = True,
    progress: bool | None = None,
    project: str | os.PathLike[str] | None = None,
    name: str | None = None,
    host: str | None = None,
    backend: str | None = None,
    max_parallel: int | None = None,
    wait_for_lock: bool | float = False,
    logger: logging.Logger | None = None,
    **hyrun_flags: Any,
) -> Any:
    """Run workflows: reuse what already completed, submit the rest, return at once.

    A background driver (a thread of this process, holding the workflow's driver lock)
    keeps submitting while anything is left that needs one (local queue, dependencies
    across hosts); jobs themselves never depend on this process, and when the script ends
    the driving goes on until only running jobs are left. ``wait=True`` blocks until every
    job is final, shows progress and a summary, and returns results by name — raising
    :class:`~jobledger.errors.WorkflowFailed` when a job did not complete, unless
    ``check=False``. ``force=True`` re-runs jobs that completed before. ``host=`` (or
    ``backend=``) sends jobs that did not name a host there.
    """
    force = force or bool(hyrun_flags.pop("force_recompute", False) or hyrun_flags.pop("rerun", False))
    force = force or os.environ.get("JOBLEDGER_FORCE") == "1"
    if max_parallel is None and os.environ.get("JOBLEDGER_MAX_PARALLEL", "").isdigit():
        max_parallel = int(os.environ["JOBLEDGER_MAX_PARALLEL"])
    if hyrun_flags:
        unknown = ", ".join(sorted(hyrun_flags))
        raise TypeError(f"run() got unexpected keyword argument(s): {unknown}")
    sel, _texts = split_items(items, names=False, name=name)
    if not sel.workflows and sel.keys:
        raise ModelError("nothing to run: the graph file(s) describe no job, only keys recorded earlier")
    target = host or (backend if backend and backend != "local" else None)
    target = target or os.environ.get("JOBLEDGER_HOST") or None
    session = session_of(sel, project, logger, True, max_parallel=max_parallel)
    done = session.run(sel.workflows, host=target, force=force, wait_for_lock=wait_for_lock)
    handles = [RunHandle(session, d.name, dict(d.keys), verdicts) for d, verdicts in done]
    if wait:
        keys = [k for h in handles for k in h.keys.values()]
        return session.wait(keys, [h.name for h in handles], timeout=timeout, check=check, progress=progress)
    return handles[0] if len(handles) == 1 else handles


def check(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, JobState]:
    """Each selected job's state, by name, after one look at the backends (read-only)."""
    session, keys, names = acting(items, project, logger, strict=False)
    session.observe(names)
    return {name: result.state for name, result in session.results(keys).items()}


def results(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """Results of the selected jobs as the ledger has them, by job name (read-only; no
    look at the backends, nothing downloaded)."""
    session, keys, _names = acting(items, project, logger, strict=False)
    return session.results(keys)


def fetch(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """Results (state, exit code, stdout/stderr, return value), by job name (read-only).

    Outputs of jobs on remote hosts are downloaded into the local run directories first.
    """
    session, keys, _names = acting(items, project, logger, strict=False)
    return session.fetch(keys)


def update(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """``check`` then ``fetch``: look, carry on as driver where nobody drives, return results.

    Only jobs that the ledger knows are acted on: nothing that never ran is submitted.
    """
    session, keys, names = acting(items, project, logger, strict=False)
    for name in names:
        session.take_over(name)
    session.step(names)
    return session.fetch(keys)


def stop(
    *items: Any, project: Any = None, grace: float = 5.0, logger: logging.Logger | None = None
) -> list[str]:
    """Cancel selected jobs for good: SIGTERM then SIGKILL after ``grace`` (local),
    ``scancel`` and friends on clusters; jobs not yet submitted never start, and no retry
    policy brings them back. Returns the names."""
    session, keys, _names = acting(items, project, logger, strict=True)
    return session.cancel(keys, grace=grace)


def retry(
    *items: Any,
    wait: bool = False,
    reason: str = "retried by hand",
    project: Any = None,
    logger: logging.Logger | None = None,
) -> Any:
    """Give the selected final jobs a new, manual attempt each (lifting a cancel), as
    ``jobledger retry`` does; returns the names retried, or with ``wait=True`` waits for
    them and returns their results (raising :class:`~jobledger.errors.WorkflowFailed` when
    one does not complete)."""
    session, keys, names = acting(items, project, logger, strict=True)
    retried = session.retry(keys, reason=reason)
    for name in names:
        session.take_over(name)
    session.start_background()
    if wait:
        chosen = [k for k in keys if (r := session.state.record(k)) is not None and r.name in retried]
        return session.wait(chosen, names)
    return retried


def wait(
    *items: Any,
    timeout: float | None = None,
    check: bool = True,
    project: Any = None,
    progress: bool | None = None,
    logger: logging.Logger | None = None,
) -> dict[str, Result]:
    """Block until every selected job is final; results by name.

    Drives the workflow when no other process does (carrying on after a crash), else
    observes. Raises :class:`~jobledger.errors.WaitTimeout` when ``timeout`` seconds pass
    first, :class:`~jobledger.errors.WorkflowFailed` when a job did not complete (unless
    ``check=False``).
    """
    session, keys, names = acting(items, project, logger, strict=True)
    return session.wait(keys, names, timeout=timeout, check=check, progress=progress)
