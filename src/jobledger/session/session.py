"""The Session: the one way to drive the workflows of a project.

Open a project, define and run workflows, step the driver, drive in the background or
wait in the foreground (with progress and a summary), cancel, retry, read results — every
verb, every face and every CLI command goes through these methods. One session per
project per process (:func:`session_for`).

Who drives: the holder of a workflow's driver lock submits for it; anyone observes. A
session that waits takes over a workflow whose driver is gone (the lock of a dead process
is free again). A run's background driver is a daemon thread; when the script ends, the
session keeps driving in the foreground until nothing is left that only a driver can do
(queued local jobs, jobs waiting for upstreams), then lets the jobs run on.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.engine.definitions import (
    Definition,
    define,
    keep_recorded_places,
    record,
    replaced,
    write_payloads,
)
from jobledger.engine.driver import Driver, StepReport
from jobledger.engine.runs import NEW, RERUN, decide
from jobledger.gcpause import gc_paused
from jobledger.ledger.state import Phase, ProjectState, job_phase
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.foreground import drive_to_the_end, wait_in_foreground
from jobledger.session.interrupt import install
from jobledger.session.progress import (
    quiet_from_env,
)
from jobledger.session.results import Result, build_result
from jobledger.session.selection import project_for
from jobledger.session.steering import Steering
from jobledger.session.waiting import job_names, waiter_states
from jobledger.states import JobState

log = logging.getLogger("jobledger")

#: Callback for jobs reaching a final state: ``(name, result)``.
OnFinal = Callable[[str, Result], None]
#: Callback after every step of :meth:`Session.wait`: ``{key: state}`` of the keys waited for.
OnStep = Callable[[Mapping[str, JobState]], None]


@attrs.frozen
class RunDefaults:
    """What runs from this process take when they do not say (``jobledger run --host``)."""

    host: str | None = None
    force: bool = False


class Session:
    """Drives the workflows of one project from this process (see the module docstring)."""

    def __init__(
        self,
        project: str | os.PathLike[str] | Project | None = None,
        *,
        create: bool = True,
        logger: logging.Logger | None = None,
        max_parallel: int | None = None,
        quiet: bool | None = None,
    ) -> None:
        self.project = project_for(project, create=create)
        self.log = logger or log
        self.driver = Driver(self.project, max_parallel=max_parallel, logger=self.log)
        self.quiet = quiet_from_env() if quiet is None else quiet
        self.steering = Steering(self.driver, self.log)
        self.listeners: list[OnFinal] = []
        """Called for every job reaching a final state while this session waits."""
        self.ran: list[str] = []
        """Workflows run from this process, in order."""
        self.defaults = RunDefaults()
        install()

    # ------------------------------------------------------------------ reading
    @property
    def ledger(self) -> Any:
        """The project's ledger."""
        return self.project.ledger

    @property
    def state(self) -> ProjectState:
        """The reduced state of the ledger, as it is now."""
        return ProjectState(self.ledger.model)

    def results(self, keys: Iterable[str]) -> dict[str, Result]:
        """Results of ``keys``, by job name."""
        state = self.state
        keys = list(keys)
        reused: set[str] = set()
        for name in self.workflows_of(keys):
            reused |= state.reused(name)
        out: dict[str, Result] = {}
        with gc_paused():
            for key in keys:
                info = state.job(key)
                if info is not None:
                    out[info.name] = build_result(self.project.root, info, key in reused)
        return out

    def workflows_of(self, keys: Iterable[str]) -> list[str]:
        """Workflows whose current definitions hold any of ``keys``."""
        wanted = set(keys)
        found = []
        for name, wf in sorted(self.ledger.model.workflows.items()):
            if any(wanted.intersection(d.keys) for d in wf.current()):
                found.append(name)
        return found

    def keys_of(self, names: Iterable[str]) -> list[str]:
        """Keys of the current definitions of workflows ``names`` (and their jobs still in
        flight from earlier definitions)."""
        keys: list[str] = []
        seen: set[str] = set()
        for name in names:
            scope = self.driver.scope(name)
            if scope is None:
                continue
            for key in [*scope.order, *scope.watch_only]:
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
        return keys

    # ------------------------------------------------------------------ defining
    def define(self, workflow: Workflow, *, host: str | None = None, source: str | None = None) -> Definition:
        """Record ``workflow``'s definition (when it changed) without running anything."""
        definition = define(
            workflow, project=self.project, config=self.driver.config, host=host, source=source or _script()
        )
        with self.driver.mutex:
            self.ledger.refresh()
            definition = keep_recorded_places(self.ledger.model, definition)
            write_payloads(self.project, definition, list(definition.jobs), only_missing=True)
            replaces = replaced(self.ledger.model, definition)
            if replaces is not None:
                record(self.ledger, definition, replaces, str(self.project.root))
        return definition

    def run(
        self,
        workflows: Sequence[Workflow],
        *,
        host: str | None = None,
        force: bool = False,
        rerun: bool = True,
        wait_for_lock: bool | float = False,
        source: str | None = None,
    ) -> list[tuple[Definition, dict[str, str]]]:
        """Define ``workflows``, decide what each run reuses, become their driver and submit
        what is ready; a background thread carries on (see :meth:`start_background`).

        Returns each definition with its verdicts (``{key: "reused"|"rerun"|...}``).
        Raises :class:`~jobledger.errors.LockError` when another live process drives one.
        """
        self.steering.raise_background_error()
        host = host or self.defaults.host
        force = force or self.defaults.force
        done = []
        for workflow in workflows:
            definition = define(
                workflow,
                project=self.project,
                config=self.driver.config,
                host=host,
                source=source or _script(),
            )
            self.steering.take(workflow.name, wait_for_lock)
            with self.driver.mutex:
                self.ledger.refresh()
                model = self.ledger.model
                definition = keep_recorded_places(model, definition)
                verdicts, events = decide(
                    model, definition, force=force, rerun=rerun, run_id=secrets.token_hex(6)
                )
                runs = [k for k, v in verdicts.items() if v in (NEW, RERUN)]
                write_payloads(self.project, definition, runs, only_missing=False)
                chosen = set(runs)
                others = [k for k in definition.jobs if k not in chosen]
                write_payloads(self.project, definition, others, only_missing=True)
                replaces = replaced(model, definition)
                if replaces is not None:
                    record(self.ledger, definition, replaces, str(self.project.root))
                for event in events:
                    self.ledger.append(event)
                self.ledger.flush(durable=True)
            if workflow.name not in self.ran:
                self.ran.append(workflow.name)
            reused = sum(1 for v in verdicts.values() if v == "reused")
            if reused:
                self.log.info("%s: reused %d finished job(s)", workflow.name, reused)
            done.append((definition, verdicts))
        try:
            self.step()
        except BaseException:
            self.steering.release_all()  # nothing is left driving after a failure
            raise
        self.start_background()
        return done

    # ------------------------------------------------------------------ driving
    def take_over(self, name: str) -> bool:
        """Become the driver of ``name`` if nobody is; True when this session drives it."""
        return self.steering.take_over(name)

    def release(self, names: Iterable[str]) -> None:
        """Stop driving ``names`` (another process may take over)."""
        self.steering.release(names)

    def driving(self, name: str) -> bool:
        """True while this session holds the driver lock of ``name``."""
        return name in self.steering.held

    def driver_holder(self, name: str) -> str:
        """Who drives ``name`` (``"pid 123 on host h since ..."``; ``"nobody"``)."""
        return self.steering.holder(name)

    def step(self, watch: Collection[str] = ()) -> StepReport:
        """One driver step for the workflows this session drives (and ``watch`` ones)."""
        return self.steering.step(watch)

    def start_background(self) -> None:
        """Drive this session's workflows from a daemon thread until nothing needs a driver."""
        self.steering.start_background()

    def stop_background(self) -> None:
        """Stop the background thread (the workflows stay this session's to drive)."""
        self.steering.stop_background()

    # ------------------------------------------------------------------ waiting
    def wait(
        self,
        keys: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        *,
        timeout: float | None = None,
        check: bool = True,
        progress: bool | None = None,
        on_final: OnFinal | None = None,
        on_step: OnStep | None = None,
        collect: bool = True,
    ) -> dict[str, Result]:
        """Block until ``keys`` (default: every job of ``names``) are final; results by name.

        Drives each workflow whose driver is gone (taking its lock), observes the others.
        Shows progress and a summary unless quiet. Raises
        :class:`~jobledger.errors.WorkflowFailed` when a job did not complete (unless
        ``check=False``), :class:`~jobledger.errors.WaitTimeout` naming what is unfinished
        and why when ``timeout`` passes first, and on Ctrl-C says what keeps running and
        how to carry on, then raises :class:`JobsKeepRunning`. ``on_step(states)`` is called
        after every driver step with each key's state (faces follow array elements and
        live output with it). ``collect=False`` returns only the results of the jobs that
        did not complete (cheap for 100,000 jobs).
        """
        return wait_in_foreground(
            self,
            keys,
            names,
            timeout=timeout,
            check=check,
            progress=progress,
            on_final=on_final,
            on_step=on_step,
            collect=collect,
        )

    def reused_keys(self, names: Iterable[str]) -> set[str]:
        """Keys the latest run of each of ``names`` reused."""
        state = self.state
        out: set[str] = set()
        for name in names:
            out |= state.reused(name)
        return out

    def states(self, keys: Iterable[str]) -> dict[str, JobState]:
        """Each key's state as a waiter sees it: final once nothing more will happen to the
        job (a failed job with a retry to come reads ``pending``)."""
        return waiter_states(self.ledger.model, keys)

    # ------------------------------------------------------------------ other verbs
    def unfinished_workflows(self) -> list[str]:
        """Workflows with jobs not final (or with a retry to come)."""
        out = []
        for name in self.state.workflows():
            scope = self.driver.scope(name)
            if scope is not None and not scope.final:
                out.append(name)
        return out

    def cancel(self, keys: Collection[str], *, grace: float = 5.0, reason: str = "") -> list[str]:
        """Cancel jobs for good (a durable request no retry overrides); returns the names."""
        touched = self.driver.cancel(keys, grace=grace, reason=reason)
        return job_names(self.ledger.model, touched)

    def retry(self, keys: Collection[str], *, reason: str = "retried by hand") -> list[str]:
        """Give final jobs a new, manual attempt (lifting a cancel); returns the names."""
        from jobledger.ledger import events as ev

        jobs = self.ledger.model.jobs
        retried = []
        with self.driver.mutex:
            self.ledger.refresh()
            for key in keys:
                job = jobs.get(key)
                if job is None:
                    continue
                phase, number, _state = job_phase(job)
                if phase not in (Phase.SUCCESS, Phase.FAILURE):
                    continue
                self.ledger.append(ev.RetryDecided(key=key, attempt=number + 1, reason=reason, manual=True))
                retried.append(key)
            self.ledger.flush(durable=True)
            self.driver.forget_changes()
        return job_names(self.ledger.model, retried)

    def fetch(self, keys: Collection[str]) -> dict[str, Result]:
        """Bring remote outputs home; results by name."""
        self.driver.fetch(keys)
        return self.results(keys)

    def observe(self, names: Collection[str]) -> None:
        """One step that only looks (nothing submitted for workflows not driven here)."""
        self.step(names)

    def subscribe(self, on_final: OnFinal) -> Callable[[], None]:
        """Call ``on_final(name, result)`` for every job reaching a final state while this
        session waits; returns the function that unsubscribes."""
        self.listeners.append(on_final)
        return lambda: self.listeners.remove(on_final)

    def finish(self) -> None:
        """Drive in the foreground until nothing needs a driver (called at exit); raises
        what stopped the background driver."""
        drive_to_the_end(self)

    def close(self) -> None:
        """Stop driving here (jobs keep running), release locks, close backends."""
        self.stop_background()
        self.steering.release_all()
        self.driver.close()


def _script() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else None
