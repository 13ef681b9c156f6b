"""The one protocol every backend implements (the local one and the batch one).

The driver calls, in this order for a batch of submissions: :meth:`Backend.prepare`
(scripts and files where the jobs will run — no side effect anyone else can see), then
writes the intents durably, then :meth:`Backend.submit`. An intent without an outcome is
looked up with :meth:`Backend.find` before anything is submitted again. Active units are
watched with :meth:`Backend.observe`; :meth:`Backend.tick` lets a backend start work it
queued (the local one's CPU budget). Nothing here knows about the ledger: backends return
values and the driver records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from jobledger.engine.planner import HostView
from jobledger.engine.types import Submission, SubmitOutcome, Unit, Update
from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec


@attrs.frozen
class Prepared:
    """What :meth:`Backend.prepare` did for one submission."""

    key: str
    error: str = ""
    """Why it could not be prepared (empty: ready to submit)."""
    transient: bool = False
    """The problem may go away (a host that did not answer): try again later."""
    staged: tuple[ev.Staged, ...] = ()
    """Files sent to the host (recorded so that they are not sent again)."""
    index_offset: int = 0
    """Scheduler task id minus the user's array index (SGE and LSF count from 1)."""

    @property
    def ok(self) -> bool:
        """True when the submission can go ahead."""
        return not self.error


class Backend(Protocol):
    """Submits, watches and cancels the attempts of one host."""

    alias: str

    def view(self) -> HostView:
        """What the planner must know of this host now."""

    def prepare(self, subs: Sequence[Submission], staged: dict[str, str]) -> list[Prepared]:
        """Put each submission's script and files where it will run (``staged``: remote
        path -> digest of what this host already holds)."""

    def submit(self, subs: Sequence[Submission]) -> list[SubmitOutcome]:
        """Hand prepared submissions over (their intents are durable already)."""

    def find(self, sub: Submission) -> str | None:
        """The scheduler id of a submission a crash interrupted, or ``None`` if it never
        got through."""

    def observe(
        self, units: Sequence[Unit], markers: Sequence[str], full: bool, adopt: bool = True
    ) -> list[Update]:
        """State changes of ``units`` (``markers``: completion markers seen; ``full``: look
        at every unit, not only the ones a marker names; ``adopt``: this process drives
        them, so a unit that never started may be started again)."""

    def needs_units(self, markers: Sequence[str]) -> bool:
        """True when a step that is not a full one must hand :meth:`observe` this host's
        units (a status query is due, or a marker may name one of them); building them
        every step would cost each step as much as there are jobs in flight."""

    def tick(self) -> list[Update]:
        """Start queued work that may start now; its updates."""

    def cancel(self, units: Sequence[Unit], grace: float) -> list[Update]:
        """Stop ``units`` (signal, ``scancel``...); updates for the ones that ended at once."""

    def bring_home(self, spec: JobSpec, attempt_dir: str) -> ev.OutputsHome | None:
        """Download a finished remote job's declared outputs to where it was defined."""

    def fetch(self, spec: JobSpec, attempt: int, run_dir: str) -> ev.Fetched | None:
        """Bring a remote attempt's run-directory files into the local run directory."""

    @property
    def busy(self) -> bool:
        """True while this backend holds work it must be asked about every cycle."""

    @property
    def waiting(self) -> bool:
        """True while it holds work only this process can start."""

    def close(self) -> None:
        """Let go of connections and helper processes (jobs keep running)."""
