"""Carrying out the planner's commands, write-ahead, and recording what backends saw.

Submissions (and the reconciliation of submissions a crash interrupted) are the
:class:`~jobledger.engine.submitting.Submitter`'s; cancels, updates and fetches are here.
Every side effect comes after a durable intent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from jobledger.engine import planner as pl
from jobledger.engine.faults import checkpoint
from jobledger.engine.recording import update_events
from jobledger.engine.scope import Scope
from jobledger.engine.submitting import Hands, Submitter, resources_of
from jobledger.engine.types import Unit, Update, attempt_dir
from jobledger.engine.units import units_of
from jobledger.errors import JobledgerError
from jobledger.ledger import events as ev
from jobledger.ledger.state import Phase, cancel_stands, job_phase, settled_state
from jobledger.states import JobState

__all__ = ["Actions", "Hands", "resources_of"]

#: Submissions prepared, made durable and submitted together when they are not packed.
SUBMIT_CHUNK = 128


class Actions:
    """The driver's hands (see the module docstring)."""

    def __init__(self, driver: Hands) -> None:
        self.driver = driver
        self.submitter = Submitter(driver)

    @property
    def ledger(self) -> Any:
        """The project's ledger."""
        return self.driver.ledger

    # ------------------------------------------------------------------ commands
    def carry_out(self, commands: Sequence[pl.Command], scopes: Sequence[Scope]) -> tuple[set[str], int]:
        """Carry ``commands`` out; returns the keys they touched and how many were submitted."""
        touched: set[str] = set()
        retries = [c for c in commands if isinstance(c, pl.Retry)]
        for retry in retries:
            self.ledger.append(
                ev.RetryDecided(
                    key=retry.key,
                    attempt=retry.attempt,
                    reason=retry.reason,
                    not_before=retry.not_before,
                    resources=dict(retry.resources),
                )
            )
            self.driver.log.info(
                "job %s: retrying (attempt %d): %s", self._name(retry.key), retry.attempt, retry.reason
            )
        if retries:
            self.ledger.flush(durable=True)
            checkpoint("after-retry")
        submits: dict[str, list[pl.Submit]] = {}
        for cmd in commands:
            touched.add(cmd.key)
            if isinstance(cmd, pl.NeverRuns):
                self.ledger.append(
                    ev.StateChanged(
                        key=cmd.key,
                        state=JobState.DEPENDENCY_FAILED.value,
                        attempt=cmd.attempt,
                        reason=cmd.reason,
                    )
                )
            elif isinstance(cmd, pl.CancelPending):
                self.ledger.append(
                    ev.StateChanged(
                        key=cmd.key, state=JobState.CANCELLED.value, attempt=cmd.attempt, reason=cmd.reason
                    )
                )
            elif isinstance(cmd, pl.CancelActive):
                self._cancel_active([cmd.key], grace=5.0)
            elif isinstance(cmd, pl.Reconcile):
                if self.submitter.reconcile(cmd):
                    continue
                if cancel_stands(self.ledger.model.jobs[cmd.key]):
                    self.ledger.append(
                        ev.StateChanged(
                            key=cmd.key,
                            state=JobState.CANCELLED.value,
                            attempt=cmd.attempt,
                            reason="cancelled before it started",
                        )
                    )
                    continue
                submits.setdefault(cmd.host, []).append(
                    pl.Submit(cmd.key, cmd.attempt, cmd.host, self._spec(cmd.key).resources_for(cmd.attempt))
                )
            elif isinstance(cmd, pl.Submit):
                submits.setdefault(cmd.host, []).append(cmd)
        workflow_of = {k: s.name for s in scopes for k in s.order}
        submitted = 0
        for alias, group in submits.items():
            # unpacked submissions go in chunks: the first jobs start while the rest are prepared
            step = len(group) if self.driver.backend(alias).view().pack_limit > 1 else SUBMIT_CHUNK
            for at in range(0, len(group), step):
                submitted += self.submitter.submit(alias, group[at : at + step], workflow_of)
        return touched, submitted

    def _spec(self, key: str) -> Any:
        return self.ledger.model.jobs[key].spec

    def _name(self, key: str) -> str:
        job = self.ledger.model.jobs.get(key)
        return job.name if job is not None else key[:12]

    # ------------------------------------------------------------------ updates
    def record_updates(self, updates: Iterable[Update], alias: str) -> int:
        """Record what a backend saw; bring remote outputs home for completed jobs."""
        model = self.ledger.model
        count = 0
        # a scheduler's cancel of a dependent is judged after its upstream's end is recorded
        ordered = sorted(updates, key=lambda u: u.state is JobState.CANCELLED)
        for update in ordered:
            if update.state is JobState.RUNNING and update.source == "local":
                checkpoint("after-spawn")  # started, not yet recorded
            if update.state is JobState.CANCELLED and not self._cancel_known(update):
                # stopped by another process, whose cancel request was durable before it
                # signalled: read it now, before any retry is decided
                self.ledger.refresh()
            for event in update_events(update, model):
                self.ledger.append(event)
            count += 1
            job = model.jobs.get(update.key)
            if (
                job is not None
                and job.spec is not None
                and job.spec.outputs
                and update.index is None
                and update.state is JobState.COMPLETED
            ):
                att = job.attempts.get(update.attempt)
                run_dir = (att.run_dir if att else None) or attempt_dir(job.spec.run_dir, update.attempt)
                try:
                    home = self.driver.backend(alias).bring_home(job.spec, run_dir)
                except JobledgerError as exc:
                    self.driver.log.warning("job %s: outputs not brought back: %s", job.name, exc)
                    home = None
                if home is not None:
                    self.ledger.append(home)
        return count

    def _cancel_known(self, update: Update) -> bool:
        job = self.ledger.model.jobs.get(update.key)
        if job is None:
            return False
        att = job.attempts.get(update.attempt)
        return cancel_stands(job) or (att is not None and att.cancel_intent is not None)

    # ------------------------------------------------------------------ cancel, fetch
    def cancel(self, keys: Collection[str], *, grace: float, reason: str) -> list[str]:
        """Record the cancel requests (fsynced), then stop what runs; returns the keys."""
        self.ledger.refresh()
        model = self.ledger.model
        jobs = model.jobs
        touched = []
        for key in keys:
            if settled_state(model, key) is not None:
                continue  # nothing more will happen to it
            job = jobs.get(key)
            if job is None:
                continue
            _phase, number, _state = job_phase(job)
            self.ledger.append(
                ev.CancelRequested(key=key, attempt=number, reason=reason or "cancelled on request")
            )
            touched.append(key)
        self.ledger.flush(durable=True)
        pending = [k for k in touched if job_phase(jobs[k])[0] in (Phase.PENDING, Phase.FAILURE)]
        for key in pending:
            number = job_phase(jobs[key])[1]
            self.ledger.append(
                ev.StateChanged(
                    key=key,
                    state=JobState.CANCELLED.value,
                    attempt=number,
                    reason=reason or "cancelled before it started",
                )
            )
        self._cancel_active([k for k in touched if k not in pending], grace=grace)
        self.ledger.flush()
        return touched

    def _cancel_active(self, keys: Sequence[str], *, grace: float) -> None:
        jobs = self.ledger.model.jobs
        by_host: dict[str, list[Unit]] = {}
        for key in keys:
            job = jobs[key]
            phase, number, _state = job_phase(job)
            if phase not in (Phase.ACTIVE, Phase.RECONCILE):
                continue
            self.ledger.append(ev.Intent(key=key, attempt=number, action="cancel"))
            for unit in units_of(job):
                by_host.setdefault(unit.host, []).append(unit)
        if not by_host:
            return
        self.ledger.flush(durable=True)
        for alias, units in by_host.items():
            backend = self.driver.backend(alias)
            self.record_updates(backend.cancel(units, grace), alias)

    def fetch(self, keys: Collection[str]) -> int:
        """Bring remote attempts' files home; returns how many files came."""
        jobs = self.ledger.model.jobs
        fetched = 0
        for key in keys:
            job = jobs.get(key)
            att = job.current if job is not None else None
            if job is None or att is None or job.spec is None or not att.run_dir:
                continue
            alias = att.host or job.spec.host
            try:
                if not self.driver.config.host(alias).is_remote:
                    continue
                event = self.driver.backend(alias).fetch(job.spec, att.number, att.run_dir)
            except JobledgerError as exc:
                self.driver.log.warning("cannot fetch %s from %s: %s", job.name, alias, exc)
                continue
            if event is not None:
                self.ledger.append(event)
                fetched += len(event.files)
        self.ledger.flush()
        return fetched
