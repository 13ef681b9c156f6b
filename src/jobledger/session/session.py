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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import attrs

from jobledger.engine.definitions import Definition
from jobledger.engine.driver import Driver, StepReport
from jobledger.ledger.state import Phase, job_phase
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.defining import define_workflow, run_workflows
from jobledger.session.foreground import drive_to_the_end, wait_in_foreground
from jobledger.session.interrupt import install
from jobledger.session.progress import (
    quiet_from_env,
)
from jobledger.session.reading import SessionReader
from jobledger.session.results import Result
from jobledger.session.selection import project_for
from jobledger.session.steering import Steering
from jobledger.session.waiting import job_names
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


class Session(SessionReader):
    """Drives the workflows of one project from this process (see the module docstring);
    what it reads is :class:`~jobledger.session.reading.SessionReader`'s."""

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

    # ------------------------------------------------------------------ defining
    def define(self, workflow: Workflow, *, host: str | None = None, source: str | None = None) -> Definition:
        """Record ``workflow``'s definition (when it changed) without running anything."""
        return define_workflow(self, workflow, host=host, source=source)

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
        return run_workflows(
            self, workflows, host=host, force=force, rerun=rerun, wait_for_lock=wait_for_lock, source=source
        )

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

    # ------------------------------------------------------------------ other verbs
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
