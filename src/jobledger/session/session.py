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

import atexit
import contextlib
import logging
import os
import secrets
import sys
import threading
import time
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
from jobledger.engine.lock import DriverLock
from jobledger.engine.runs import NEW, RERUN, decide
from jobledger.errors import JobledgerError, LockError, WaitTimeout, WorkflowFailed
from jobledger.gcpause import gc_paused
from jobledger.ledger.state import Phase, ProjectState, job_phase, settled, settled_state
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.interrupt import JobsKeepRunning, Left, install, interrupted_line
from jobledger.session.progress import (
    Counts,
    Progress,
    failed_message,
    quiet_from_env,
    still_running_line,
    summary_from,
)
from jobledger.session.results import Result, build_result
from jobledger.session.selection import project_for
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
        self._locks: dict[str, DriverLock] = {}
        self._held: set[str] = set()
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self._driving = threading.RLock()
        self._error: BaseException | None = None
        self._listeners: list[OnFinal] = []
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
        self._raise_background_error()
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
            self._lock(workflow.name, wait_for_lock)
            with self.driver.mutex:
                self.ledger.refresh()
                model = self.ledger.model
                definition = keep_recorded_places(model, definition)
                verdicts, events = decide(
                    model, definition, force=force, rerun=rerun, run_id=secrets.token_hex(6)
                )
                runs = [k for k, v in verdicts.items() if v in (NEW, RERUN)]
                write_payloads(self.project, definition, runs, only_missing=False)
                others = [k for k in definition.jobs if k not in set(runs)]
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
            self.release(list(self._held))  # nothing is left driving after a failure
            raise
        self.start_background()
        return done

    # ------------------------------------------------------------------ driving
    def _lock(self, name: str, wait: bool | float = False) -> None:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = DriverLock(self.project.cache_dir, name)
        if not lock.held:
            lock.acquire(wait)
        self._held.add(name)

    def take_over(self, name: str) -> bool:
        """Become the driver of ``name`` if nobody is; True when this session drives it."""
        if name in self._held:
            return True
        try:
            self._lock(name, False)
        except LockError:
            return False
        return True

    def release(self, names: Iterable[str]) -> None:
        """Stop driving ``names`` (another process may take over)."""
        for name in list(names):
            lock = self._locks.get(name)
            if lock is not None:
                lock.release()
            self._held.discard(name)

    def driving(self, name: str) -> bool:
        """True while this session holds the driver lock of ``name``."""
        return name in self._held

    def driver_holder(self, name: str) -> str:
        """Who drives ``name`` (``"pid 123 on host h since ..."``; ``"nobody"``)."""
        return DriverLock(self.project.cache_dir, name).describe_holder()

    def step(self, watch: Collection[str] = ()) -> StepReport:
        """One driver step for the workflows this session drives (and ``watch`` ones)."""
        with self._driving:
            return self.driver.step(set(self._held), watch)

    def start_background(self) -> None:
        """Drive this session's workflows from a daemon thread until nothing needs a driver."""
        if self._background is not None and self._background.is_alive():
            return
        self._stop.clear()
        self._background = threading.Thread(
            target=self._drive_in_background, name="jobledger-driver", daemon=True
        )
        self._background.start()

    def _drive_in_background(self) -> None:
        try:
            while not self._stop.is_set():
                with self._driving:
                    if self._stop.is_set():
                        break
                    report = self.driver.step(set(self._held), ())
                    idle = [n for n in list(self._held) if not report.needs_driver.get(n, False)]
                    self.release(idle)
                if not self._held:
                    return
                self.driver.wait_for_change(_pause(report))
        except BaseException as exc:
            self._error = exc
            self.log.error("jobledger: the background driver stopped: %s", exc)
            self.release(list(self._held))

    def stop_background(self) -> None:
        """Stop the background thread (the workflows stay this session's to drive)."""
        thread = self._background
        if thread is not None and thread.is_alive():
            self._stop.set()
            self.driver.watch.poke()
            thread.join()
        self._background = None

    def _raise_background_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

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
        self.stop_background()
        self._raise_background_error()
        names = list(names) if names is not None else self.workflows_of(keys or [])
        keys = list(keys) if keys is not None else self.keys_of(names)
        quiet = self.quiet if progress is None else not progress
        reporter = Progress(len(keys), quiet=quiet or not keys)
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        seen_final: set[str] = set()
        listeners = [*self._listeners, *([on_final] if on_final else [])]
        try:
            while True:
                for name in names:
                    self.take_over(name)
                report = self.step(names)
                states = self.states(keys)
                reporter.update(Counts.of(states.values(), len(keys)))
                if on_step is not None:
                    on_step(states)
                newly = [k for k, s in states.items() if s.is_final and k not in seen_final]
                if newly and listeners:
                    for name, result in self.results(newly).items():
                        for listener in listeners:
                            listener(name, result)
                seen_final.update(newly)
                if all(s.is_final for s in states.values()):
                    break
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise WaitTimeout(
                        self._unfinished_text(keys, timeout),
                        self._names(k for k, s in states.items() if not s.is_final),
                    )
                pause = _pause(report)
                if deadline is not None:
                    pause = min(pause, deadline - now)
                self.driver.wait_for_change(pause)
        except KeyboardInterrupt:
            reporter.close()
            self.release(list(self._held))  # stop driving: the exit must not carry on driving
            left = Left.of(self.ledger.model, keys)
            print(interrupted_line(left, self._carry_on_command()), file=sys.stderr)
            raise JobsKeepRunning() from None
        except WaitTimeout:
            reporter.close()
            if self._held:
                self.start_background()  # the jobs go on being driven meanwhile
            raise
        except BaseException:
            reporter.close()
            self.release(list(self._held))  # a failure here: stop driving (and at exit) too
            raise
        self.release([n for n in names if self._finished(n)])
        states = self.states(keys)
        failed = self.results(k for k, s in states.items() if s.is_final and not s.is_success)
        reused = len(self.reused_keys(names).intersection(keys))
        reporter.close(summary_from(states.values(), failed, time.monotonic() - start, reused=reused))
        results = self.results(keys) if collect else failed
        if self._held:
            self.start_background()
        if check and failed:
            raise WorkflowFailed(failed_message(failed, list(failed), total=len(keys)), results, list(failed))
        return results

    def reused_keys(self, names: Iterable[str]) -> set[str]:
        """Keys the latest run of each of ``names`` reused."""
        state = self.state
        out: set[str] = set()
        for name in names:
            out |= state.reused(name)
        return out

    def _finished(self, name: str) -> bool:
        scope = self.driver.scope(name)
        return scope is None or scope.final

    def states(self, keys: Iterable[str]) -> dict[str, JobState]:
        """Each key's state as a waiter sees it: final once nothing more will happen to the
        job (a failed job with a retry to come reads ``pending``)."""
        model = self.ledger.model
        out = {}
        for key in keys:
            final = settled_state(model, key)
            if final is not None:
                out[key] = final
                continue
            job = model.jobs.get(key)
            state = job_phase(job)[2] if job is not None else JobState.PENDING
            out[key] = JobState.PENDING if state.is_final else state
        return out

    def _names(self, keys: Iterable[str]) -> list[str]:
        jobs = self.ledger.model.jobs
        return [jobs[k].name if k in jobs else k[:12] for k in keys]

    def _unfinished_text(self, keys: Sequence[str], timeout: float | None) -> str:
        jobs = self.ledger.model.jobs
        parts = []
        for key in keys:
            job = jobs.get(key)
            phase, number, state = job_phase(job) if job is not None else (Phase.PENDING, 1, JobState.PENDING)
            if job is not None and settled(job) is not None:
                continue
            att = job.attempts.get(number) if job is not None else None  # none while pending
            why = {
                Phase.PENDING: "waiting for its upstream jobs or a driver",
                Phase.RECONCILE: "its submission is being looked up after a crash",
                Phase.ACTIVE: f"{state.value} on {att.host if att is not None else '?'}",
                Phase.FAILURE: "waiting to be retried",
            }.get(phase, state.value)
            parts.append(f"{job.name if job else key[:12]} ({why})")
        shown = ", ".join(parts[:10]) + (f", and {len(parts) - 10} more" if len(parts) > 10 else "")
        return f"not every job was final after {timeout}s: {shown}"

    def _carry_on_command(self) -> str:
        inside = Path.cwd().resolve()
        here = inside == self.project.root or self.project.root in inside.parents
        return "jobledger resume" if here else f"jobledger -C {self.project.root} resume"

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
        return self._names(touched)

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
        return self._names(retried)

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
        self._listeners.append(on_final)
        return lambda: self._listeners.remove(on_final)

    def finish(self) -> None:
        """Drive in the foreground until nothing needs a driver (called at exit); raises
        what stopped the background driver."""
        if self._background is None and not self._held:
            return
        self.stop_background()
        self._raise_background_error()
        names = list(self._held)
        if not names:
            return
        keys = self.keys_of(names)
        reporter = Progress(len(keys), quiet=self.quiet)
        start = time.monotonic()
        try:
            while self._held:
                report = self.step()
                reporter.update(Counts.of(self.states(keys).values(), len(keys)))
                self.release([n for n in list(self._held) if not report.needs_driver.get(n, False)])
                if self._held:
                    self.driver.wait_for_change(_pause(report))
        except KeyboardInterrupt:
            reporter.close()
            self.release(list(self._held))
            left = Left.of(self.ledger.model, keys)
            print(interrupted_line(left, self._carry_on_command()), file=sys.stderr)
            _exit_interrupted(self)
        states = self.states(keys)
        failed = self.results(k for k, s in states.items() if s.is_final and not s.is_success)
        reused = len(self.reused_keys(names).intersection(keys))
        lines = summary_from(states.values(), failed, time.monotonic() - start, reused=reused)
        running = sum(1 for s in states.values() if not s.is_final)
        if running:
            lines.append(still_running_line(running, self._carry_on_command()))
        reporter.close(lines)

    def close(self) -> None:
        """Stop driving here (jobs keep running), release locks, close backends."""
        self.stop_background()
        self.release(list(self._held))
        self.driver.close()


def _exit_interrupted(session: Session) -> None:
    """Ctrl-C while the script's end drives: exit 130 at once (the ledger made durable and
    the streams flushed first; other exit handlers are not run)."""
    with contextlib.suppress(Exception):
        session.ledger.flush(durable=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(130)


def _pause(report: StepReport) -> float:
    """How long to sleep before the next step (sooner when a retry becomes due)."""
    pause = 0.5 if not report.submitted else 0.05
    if report.wake_at is not None:
        pause = max(0.01, min(pause, report.wake_at - time.time()))
    return pause


def _script() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else None


# ---------------------------------------------------------------------- one per project
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
