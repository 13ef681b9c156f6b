"""Submitting planned attempts, write-ahead, and looking up the ones a crash interrupted.

For a batch of submissions to one host: same-shape jobs are put in packs (one array
submission each, :mod:`.packing`) when the host takes them, the backend prepares every
submission (scripts and files, nothing anyone else can see), their intents — each naming
its pack, if any — are appended and fsynced together, then the backend submits them, one
pack or one job at a time, and each outcome is recorded. A crash between the two leaves
intents without outcomes, which the next driver reconciles (claims and exit files, the
scheduler looked up by the job's or the pack's tag) before anything is submitted again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from jobledger.config import Config
from jobledger.engine import planner as pl
from jobledger.engine.backend import Backend
from jobledger.engine.faults import checkpoint
from jobledger.engine.packing import assign, packs
from jobledger.engine.remote_files import local_path
from jobledger.engine.types import Submission
from jobledger.ledger import events as ev
from jobledger.model.resources import Resources
from jobledger.schedulers.base import NativeDependency


class Hands(Protocol):
    """What carrying commands out needs of the driver."""

    ledger: Any
    log: logging.Logger

    @property
    def config(self) -> Config:
        """The configuration."""

    def backend(self, alias: str) -> Backend:
        """The backend of a host alias."""


_RESOURCES: dict[tuple[tuple[str, Any], ...], Resources] = {}


def resources_of(fields: Mapping[str, Any]) -> Resources:
    """A :class:`Resources` from its plain fields (shared: requests repeat)."""
    try:
        signature = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in fields.items()))
    except TypeError:
        return Resources(**fields)
    found = _RESOURCES.get(signature)
    if found is None:
        found = Resources(**fields)
        if len(_RESOURCES) < 4096:
            _RESOURCES[signature] = found
    return found


class Submitter:
    """Submits attempts and reconciles interrupted submissions (see the module docstring)."""

    def __init__(self, driver: Hands) -> None:
        self.driver = driver

    @property
    def ledger(self) -> Any:
        """The project's ledger."""
        return self.driver.ledger

    def submission(
        self,
        key: str,
        attempt: int,
        resources: Mapping[str, Any],
        workflow: str,
        native: Iterable[tuple[str, str]] = (),
    ) -> Submission:
        """The :class:`Submission` of one attempt, from the ledger's record of the job."""
        jobs = self.ledger.model.jobs
        spec = jobs[key].spec
        outputs: list[str] = []
        for up, _kind in spec.after:
            upstream = jobs.get(up)
            if upstream is not None and upstream.spec is not None:
                base = upstream.spec.local_dir
                outputs.extend(str(local_path(base, name)) for name in upstream.spec.outputs)
        return Submission(
            spec,
            attempt,
            resources_of(resources),
            workflow,
            tuple(NativeDependency(sid, kind) for sid, kind in native),
            tuple(outputs),
        )

    def submit(self, alias: str, commands: Sequence[pl.Submit], workflow_of: Mapping[str, str]) -> int:
        """Prepare, write the intents durably, submit; returns how many were submitted."""
        backend = self.driver.backend(alias)
        subs = [
            self.submission(c.key, c.attempt, c.resources, workflow_of.get(c.key, ""), c.native_deps)
            for c in commands
        ]
        limit = backend.view().pack_limit
        if limit > 1 and len(subs) > 1:
            subs = assign(subs, limit, f"{os.getpid()}:{time.time_ns()}")
        staged = {p: d for p, (d, _o) in self.ledger.model.staged.get(alias, {}).items()}
        ready: list[Submission] = []
        for sub, prepared in zip(subs, backend.prepare(subs, staged), strict=True):
            for event in prepared.staged:
                self.ledger.append(event)
            if prepared.ok:
                ready.append(sub)
                self.ledger.append(
                    ev.Intent(
                        key=sub.key,
                        attempt=sub.attempt,
                        host=alias,
                        run_dir=sub.attempt_dir,
                        workflow=sub.workflow,
                        resources=dict(self._fields(sub.resources)),
                        native_deps=[[d.scheduler_id, d.kind] for d in sub.native_deps],
                        index_offset=prepared.index_offset,
                        pack=None if sub.pack is None else [sub.pack.tag, sub.pack.index],
                    )
                )
            elif prepared.transient:
                self.driver.log.warning("job %s: %s; will try again", sub.spec.name, prepared.error)
            else:
                self.ledger.append(ev.SubmitFailed(key=sub.key, attempt=sub.attempt, error=prepared.error))
                self.driver.log.error("job %s: %s", sub.spec.name, prepared.error)
        if not ready:
            return 0
        self.ledger.flush(durable=True)
        count = 0
        for group in packs(ready):
            for _sub in group:  # crash points count jobs, packed or not
                checkpoint("after-intent")  # every intent of the batch is durable
            outcomes = backend.submit(group)
            for _sub in group:
                checkpoint("before-outcome")
            for sub, outcome in zip(group, outcomes, strict=True):
                if outcome.ok:
                    self.ledger.append(
                        ev.Submitted(
                            key=sub.key,
                            attempt=sub.attempt,
                            host=alias,
                            scheduler_id=outcome.scheduler_id,
                            run_dir=sub.attempt_dir,
                            index_offset=outcome.index_offset,
                        )
                    )
                    count += 1
                else:
                    self.ledger.append(
                        ev.SubmitFailed(
                            key=sub.key, attempt=sub.attempt, error=outcome.error, transient=outcome.transient
                        )
                    )
                    log = self.driver.log.warning if outcome.transient else self.driver.log.error
                    log("%s", outcome.error)
                checkpoint("after-submit")
        self.ledger.flush()
        return count

    @staticmethod
    def _fields(resources: Resources) -> dict[str, Any]:
        from jobledger.engine.job_specs import compact

        return compact(resources)

    def reconcile(self, cmd: pl.Reconcile) -> bool:
        """Look up a submission a crash interrupted; True when it was found."""
        job = self.ledger.model.jobs[cmd.key]
        att = job.attempts[cmd.attempt]
        sub = self.submission(
            cmd.key, cmd.attempt, att.resources or job.spec.resources_for(cmd.attempt), att.workflow or ""
        )
        found = self.driver.backend(cmd.host).find(sub)
        if found is None:
            return False
        self.ledger.append(
            ev.Submitted(
                key=cmd.key,
                attempt=cmd.attempt,
                host=cmd.host,
                scheduler_id=found,
                run_dir=att.run_dir or sub.attempt_dir,
                reconciled=True,
                index_offset=att.index_offset,
            )
        )
        return True
