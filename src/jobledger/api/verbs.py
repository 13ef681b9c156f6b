"""The hyrun-style verbs: ``init``, ``run``, ``check``, ``fetch``, ``update``, ``stop``, ``wait``.

Every verb accepts the same inputs — a Workflow, a Job or list of Jobs, a Task or list of
Tasks, a result or handle, a path to a project, or a mix — normalised by
:func:`jobledger.api.session.select`, and a ``logger=``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jobledger.api.results import Result, build_result
from jobledger.api.session import Selection, engine_for, project_for, select
from jobledger.engine.driver import Engine
from jobledger.errors import JobledgerError
from jobledger.project import Project
from jobledger.states import JobState


class WaitTimeout(JobledgerError, TimeoutError):
    """``wait(timeout=)`` ran out before every job was final."""


class RunHandle:
    """A workflow handed to the engine: what :func:`run` returns.

    Pass it to any verb (``jobledger.wait(handle)``) or call its methods.
    """

    def __init__(self, engine: Engine, name: str, keys: dict[str, str], verdicts: dict[str, str]) -> None:
        self.engine = engine
        self.project = engine.project
        self.name = name
        self.keys = keys
        self.verdicts = verdicts

    def _jobledger_selection(self) -> Selection:
        return Selection(self.project, (), tuple(self.keys.values()), (self.name,))

    @property
    def reused(self) -> list[str]:
        """Names of jobs whose earlier results were reused (nothing ran for them)."""
        by_key = {v: k for k, v in self.keys.items()}
        return [by_key[k] for k, v in self.verdicts.items() if v == "reused"]

    def wait(self, timeout: float | None = None, *, progress: bool | None = None) -> dict[str, Result]:
        """Block until every job is final; results by job name."""
        return wait(self, timeout=timeout, progress=progress)

    def check(self) -> dict[str, JobState]:
        """Current state of each job."""
        return check(self)

    def fetch(self) -> dict[str, Result]:
        """Results of each job."""
        return fetch(self)

    def stop(self) -> list[str]:
        """Cancel what is still pending or running."""
        return stop(self)

    @property
    def results(self) -> dict[str, Result]:
        """Results as they are now (no waiting)."""
        return fetch(self)

    def __repr__(self) -> str:
        return f"RunHandle({self.name!r}, {len(self.keys)} jobs)"


def _engine(sel: Selection, project: Any, logger: logging.Logger | None, create: bool, **kw: Any) -> Engine:
    proj = project_for(project if project is not None else sel.project, create=create)
    return engine_for(proj, logger=logger, **kw)


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
    sel = select(items)
    engine = _engine(sel, project, logger, True)
    handles = []
    for wf in sel.workflows:
        loaded = engine.define(wf)
        handles.append(RunHandle(engine, wf.name, loaded.keys, {}))
    return handles[0] if len(handles) == 1 else handles


def run(
    *items: Any,
    wait: bool = False,
    force: bool = False,
    timeout: float | None = None,
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
    across hosts); jobs themselves never depend on this process. ``wait=True`` blocks
    until every job is final and returns results by name. ``force=True`` re-runs jobs
    that completed before. ``host=``/``backend=`` send jobs that did not name a host there.
    """
    force = force or bool(hyrun_flags.pop("force_recompute", False) or hyrun_flags.pop("rerun", False))
    force = force or os.environ.get("JOBLEDGER_FORCE") == "1"
    if max_parallel is None and os.environ.get("JOBLEDGER_MAX_PARALLEL", "").isdigit():
        max_parallel = int(os.environ["JOBLEDGER_MAX_PARALLEL"])
    if hyrun_flags:
        unknown = ", ".join(sorted(hyrun_flags))
        raise TypeError(f"run() got unexpected keyword argument(s): {unknown}")
    sel = select(items, name=name)
    target = host or (backend if backend and backend != "local" else None)
    target = target or os.environ.get("JOBLEDGER_HOST") or None
    engine = _engine(sel, project, logger, True, max_parallel=max_parallel)
    handles = []
    for wf in sel.workflows:
        loaded = engine.define(wf, source=_script(), host=target)
        engine.acquire(wf.name, wait_for_lock)
        try:
            verdicts = engine.begin(wf.name, force=force)
            engine.cycle(wf.name, act=True)
        except BaseException:
            engine.release(wf.name)
            raise
        engine.start_background(wf.name)
        handle = RunHandle(engine, wf.name, loaded.keys, verdicts)
        reused = handle.reused
        if reused:
            engine.log.info("%s: reused %d finished job(s): %s", wf.name, len(reused), ", ".join(reused[:10]))
        handles.append(handle)
    if wait:
        results: dict[str, Result] = {}
        for handle in handles:
            results.update(handle.wait(timeout=timeout))
        return results
    return handles[0] if len(handles) == 1 else handles


def _script() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else None


def _targets(sel: Selection, engine: Engine) -> tuple[list[str], dict[str, list[str]]]:
    """Keys selected, and ``{workflow: keys}`` for the ones that belong to workflows."""
    by_wf: dict[str, list[str]] = {}
    for wf in sel.workflows:
        loaded = engine.loaded.get(wf.name) or engine.define(wf)
        by_wf[wf.name] = list(loaded.order)
    state = engine.ledger.state
    for name in sel.workflow_names:
        info = state.workflow(name)
        if info is not None:
            by_wf.setdefault(name, list(info.job_keys))
    keys: list[str] = []
    seen: set[str] = set()

    def add(more: Iterable[str]) -> None:
        for key in more:
            if key not in seen:
                seen.add(key)
                keys.append(key)

    for wf_keys in by_wf.values():
        add(wf_keys)
    add(sel.keys)
    if not keys and not sel.workflows and not sel.keys and not sel.workflow_names:
        for name, info in state.workflows().items():
            by_wf[name] = list(info.job_keys)
            add(info.job_keys)
    return keys, by_wf


def _take_lock(engine: Engine, name: str) -> bool:
    """Become the driver of ``name`` if nobody is; True when this call took the lock."""
    if name not in engine.loaded or engine.is_driver(name):
        return False
    try:
        engine.acquire(name, False)
    except JobledgerError:
        return False
    return True


def _observe(engine: Engine, by_wf: dict[str, list[str]], *, act: bool = True) -> None:
    for name in by_wf:
        if engine.background_alive(name):
            continue
        if not act:
            engine.cycle(name, act=False)
            continue
        took = _take_lock(engine, name)
        try:
            engine.cycle(name, act=engine.is_driver(name) and name in engine.loaded)
        finally:
            if took:
                engine.release(name)


def _results(engine: Engine, keys: Iterable[str], by_wf: dict[str, list[str]]) -> dict[str, Result]:
    wf_of = {k: name for name, ks in by_wf.items() for k in ks}
    state = engine.ledger.state
    out: dict[str, Result] = {}
    for key in keys:
        info = state.job(key)
        if info is not None:
            out[info.name] = build_result(engine.project.root, info, wf_of.get(key))
    return out


def check(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, JobState]:
    """Observe and return each selected job's state, by name (submits nothing)."""
    sel = select(items)
    engine = _engine(sel, project, logger, False)
    keys, by_wf = _targets(sel, engine)
    _observe(engine, by_wf, act=False)
    state = engine.ledger.state
    out: dict[str, JobState] = {}
    for key in keys:
        info = state.job(key)
        if info is not None:
            out[info.name] = info.state
    return out


def fetch(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """Results (state, exit code, stdout/stderr, return value), by job name.

    Outputs of jobs on remote hosts are downloaded into the local run directories first.
    """
    sel = select(items)
    engine = _engine(sel, project, logger, False)
    keys, by_wf = _targets(sel, engine)
    from jobledger.hosts.staging import fetch_outputs

    fetch_outputs(engine, keys)
    return _results(engine, keys, by_wf)


def update(*items: Any, project: Any = None, logger: logging.Logger | None = None) -> dict[str, Result]:
    """``check`` then ``fetch``: observe, carry on as driver where possible, return results."""
    sel = select(items)
    engine = _engine(sel, project, logger, False)
    keys, by_wf = _targets(sel, engine)
    _observe(engine, by_wf)
    from jobledger.hosts.staging import fetch_outputs

    fetch_outputs(engine, keys)
    return _results(engine, keys, by_wf)


def stop(
    *items: Any, project: Any = None, grace: float = 5.0, logger: logging.Logger | None = None
) -> list[str]:
    """Cancel selected jobs: SIGTERM then SIGKILL after ``grace`` (local), ``scancel``
    and friends on clusters; jobs not yet submitted never start. Returns the names."""
    sel = select(items)
    engine = _engine(sel, project, logger, False)
    keys, _by_wf = _targets(sel, engine)
    touched = engine.cancel(keys, grace=grace)
    state = engine.ledger.state
    return [info.name for k in touched if (info := state.job(k)) is not None]


def wait(
    *items: Any,
    timeout: float | None = None,
    project: Any = None,
    progress: bool | None = None,
    logger: logging.Logger | None = None,
) -> dict[str, Result]:
    """Block until every selected job is final; results by name.

    Drives the workflow when no other process does (carrying on after a crash), else
    observes. Raises :class:`WaitTimeout` when ``timeout`` seconds pass first.
    """
    sel = select(items)
    engine = _engine(sel, project, logger, False)
    keys, by_wf = _targets(sel, engine)
    deadline = None if timeout is None else time.monotonic() + timeout
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(len(keys)) if show and keys else None
    try:
        for name in by_wf:
            if engine.background_alive(name):
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                _join(engine, name, remaining, bar, keys)
            took = _take_lock(engine, name)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                report = engine.drive(
                    name,
                    until="final",
                    timeout=remaining,
                    act=engine.is_driver(name) and name in engine.loaded,
                    on_cycle=(lambda _r: bar.update(_final_count(engine, keys))) if bar else None,
                )
            finally:
                if took:
                    engine.release(name)
            if not report.all_final:
                raise WaitTimeout(f"workflow {name!r}: not every job was final after {timeout}s")
        if not by_wf:
            _wait_keys(engine, keys, deadline)
    finally:
        if bar is not None:
            bar.close()
    return _results(engine, keys, by_wf)


def _join(engine: Engine, name: str, timeout: float | None, bar: _Progress | None, keys: list[str]) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while engine.background_alive(name):
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(f"workflow {name!r}: not every job was final after {timeout}s")
        engine.join_background(name, 0.2)
        if bar is not None:
            bar.update(_final_count(engine, keys))
    engine.join_background(name, 0)


def _final_count(engine: Engine, keys: list[str]) -> int:
    state = engine.ledger.state
    return sum(1 for k in keys if (info := state.job(k)) is not None and info.state.is_final)


def _wait_keys(engine: Engine, keys: list[str], deadline: float | None) -> None:
    while _final_count(engine, keys) < len(keys):
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout("not every job was final in time")
        engine.ledger.refresh()
        time.sleep(0.2)


class _Progress:
    """A rich progress bar on stderr (only in a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]jobs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self._task = self._progress.add_task("jobs", total=total)
        self._progress.start()

    def update(self, done: int) -> None:
        self._progress.update(self._task, completed=done)

    def close(self) -> None:
        self._progress.stop()
