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

import attrs

from jobledger.api.nodelink import is_graph_file, selection_of_file
from jobledger.engine.definitions import define
from jobledger.errors import ModelError, ProjectError, WaitTimeout
from jobledger.project import Project
from jobledger.session.handle import RunHandle
from jobledger.session.registry import session_for
from jobledger.session.results import Result
from jobledger.session.selection import Selection, select
from jobledger.session.session import Session
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


def _session(sel: Selection, project: Any, logger: logging.Logger | None, create: bool, **kw: Any) -> Session:
    return session_for(project if project is not None else sel.project, create=create, logger=logger, **kw)


def _merged(first: Selection, more: list[Selection]) -> Selection:
    for other in more:
        first = attrs.evolve(
            first,
            project=first.project or other.project,
            workflows=first.workflows + other.workflows,
            keys=first.keys + other.keys,
            workflow_names=first.workflow_names + other.workflow_names,
        )
    return first


def _split(items: tuple[Any, ...], names: bool, name: str | None = None) -> tuple[Selection, list[str]]:
    """The selection of ``items``, graph files read; with ``names``, the strings that are
    neither a graph file nor a project directory come back apart, to be resolved as names."""
    rest: list[Any] = []
    graphs: list[Selection] = []
    texts: list[str] = []
    for item in items:
        flat = list(item) if isinstance(item, (list, tuple)) and names and item else [item]
        if len(flat) > 1 and not all(isinstance(i, str) for i in flat):
            flat = [item]  # a mixed list: select() reads it (hyrun's nested lists)
        for entry in flat:
            if is_graph_file(entry):
                graphs.append(selection_of_file(entry))
            elif names and isinstance(entry, str) and not Path(entry).is_dir():
                texts.append(entry)
            else:
                rest.append(entry)
    return _merged(select(rest, name=name), graphs), texts


def _named(sel: Selection, texts: list[str], session: Session, strict: bool) -> Selection:
    """``sel`` plus what each of ``texts`` names: a workflow, the jobs of that name, or
    (as before names were read) the job whose command it is. With ``strict``, a text that
    names nothing the ledger knows raises :class:`~jobledger.errors.ProjectError`."""
    state = session.state
    workflows = list(state.workflows())
    keys: list[str] = []
    wf_names: list[str] = []
    commands: list[str] = []
    for text in texts:
        found = text in workflows
        if found and text not in wf_names:
            wf_names.append(text)  # the whole workflow
        for wf_name in workflows:
            for key in session.keys_of([wf_name]):
                record = state.record(key)
                if record is not None and record.name == text:
                    found = True
                    if key not in keys:
                        keys.append(key)  # only the job(s) of that name
        if found:
            continue
        if strict and not targets(select([text]), session, known_only=True)[0]:
            known = ", ".join(sorted(workflows)) or "none"
            raise ProjectError(
                f"no job or workflow named {text!r} in {session.project.root} (workflows: {known})"
            )
        commands.append(text)
    named = Selection(None, (), tuple(keys), tuple(wf_names))
    return _merged(sel, [named, select(commands)] if commands else [named])


def _acting(
    items: tuple[Any, ...], project: Any, logger: logging.Logger | None, strict: bool
) -> tuple[Session, list[str], list[str]]:
    """Session, keys and workflow names that a verb acting on recorded jobs selects."""
    sel, texts = _split(items, names=True)
    session = _session(sel, project, logger, False)
    sel = _named(sel, texts, session, strict) if texts else sel
    keys, names = targets(sel, session, known_only=True)
    return session, keys, names


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
    sel, _texts = _split(items, names=False)
    session = _session(sel, project, logger, True)
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
    sel, _texts = _split(items, names=False, name=name)
    if not sel.workflows and sel.keys:
        raise ModelError("nothing to run: the graph file(s) describe no job, only keys recorded earlier")
    target = host or (backend if backend and backend != "local" else None)
    target = target or os.environ.get("JOBLEDGER_HOST") or None
    session = _session(sel, project, logger, True, max_parallel=max_parallel)
    done = session.run(sel.workflows, host=target, force=force, wait_for_lock=wait_for_lock)
    handles = [RunHandle(session, d.name, dict(d.keys), verdicts) for d, verdicts in done]
    if wait:
        keys = [k for h in handles for k in h.keys.values()]
        return session.wait(keys, [h.name for h in handles], timeout=timeout, check=check, progress=progress)
    return handles[0] if len(handles) == 1 else handles


def targets(sel: Selection, session: Session, *, known_only: bool) -> tuple[list[str], list[str]]:
    """Keys selected and the workflows holding them (every workflow when nothing is named).

    Workflows given as objects are keyed without being recorded; with ``known_only`` only
    the keys the ledger knows are kept (a read-only verb touches nothing that never ran).
    """
    keys: list[str] = []
    names: list[str] = []
    seen: set[str] = set()

    def add(more: Any) -> None:
        for key in more:
            if key not in seen and (not known_only or session.state.has_job(key)):
                seen.add(key)
                keys.append(key)

    for wf in sel.workflows:
        definition = define(wf, project=session.project, config=session.driver.config)
        computed = [s.key for s in definition.specs]
        add(computed)
        if session.state.workflow(wf.name) is not None:
            names.append(wf.name)
            if not all(session.state.has_job(k) for k in computed):
                # keyed differently here (inputs seen from another directory...): the
                # ledger's record of the workflow is what was defined
                add(session.keys_of([wf.name]))
    for name in sel.workflow_names:
        names.append(name)
        add(session.keys_of([name]))
    add(sel.keys)
    if not sel.workflows and not sel.keys and not sel.workflow_names:
        names = list(session.state.workflows())
        add(session.keys_of(names))
    for name in session.workflows_of(keys):
        if name not in names:
            names.append(name)
    return keys, names


def check(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, JobState]:
    """Each selected job's state, by name, after one look at the backends (read-only)."""
    session, keys, names = _acting(items, project, logger, strict=False)
    session.observe(names)
    return {name: result.state for name, result in session.results(keys).items()}


def results(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """Results of the selected jobs as the ledger has them, by job name (read-only; no
    look at the backends, nothing downloaded)."""
    session, keys, _names = _acting(items, project, logger, strict=False)
    return session.results(keys)


def fetch(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """Results (state, exit code, stdout/stderr, return value), by job name (read-only).

    Outputs of jobs on remote hosts are downloaded into the local run directories first.
    """
    session, keys, _names = _acting(items, project, logger, strict=False)
    return session.fetch(keys)


def update(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """``check`` then ``fetch``: look, carry on as driver where nobody drives, return results.

    Only jobs that the ledger knows are acted on: nothing that never ran is submitted.
    """
    session, keys, names = _acting(items, project, logger, strict=False)
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
    session, keys, _names = _acting(items, project, logger, strict=True)
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
    session, keys, names = _acting(items, project, logger, strict=True)
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
    session, keys, names = _acting(items, project, logger, strict=True)
    return session.wait(keys, names, timeout=timeout, check=check, progress=progress)
