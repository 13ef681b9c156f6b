"""Observing: asking the backends about the active units, recording what they saw, and
replanning the jobs that moved.

The units of driven workflows are adopted (a unit that never started is queued again
only by its workflow's driver); those of watched workflows, and of other workflows' jobs
that the scopes depend on, are only looked at. The active units are gathered for a full
look, or when a backend needs them (a status query is due, a marker may name one); a
busy backend is asked every step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from jobledger.engine.actions import Actions
from jobledger.engine.backend import Backend
from jobledger.engine.scope import Scope
from jobledger.engine.types import Unit
from jobledger.engine.units import active_units
from jobledger.errors import JobledgerError


class Observer(Protocol):
    """What observing needs of the driver."""

    ledger: Any
    log: logging.Logger
    backends: dict[str, Backend]
    actions: Actions

    def backend(self, alias: str) -> Backend:
        """The backend of a host alias."""

    def replan(self, scopes: Iterable[Scope], keys: set[str]) -> None:
        """Re-read the records of ``keys`` and plan them again."""


def observe(
    driver: Observer, driving: list[Scope], watching: list[Scope], markers: list[str], full: bool
) -> int:
    """Ask the backends about the active units; only driven ones are adopted (a unit
    that never started is queued again only by its workflow's driver)."""
    model = driver.ledger.model
    scopes = [*driving, *watching]
    driven: dict[str, list[Unit]] = {}
    watched: dict[str, list[Unit]] = {}
    if full or any(b.needs_units(markers) for b in driver.backends.values()):
        driven_keys = {k for s in driving for k in s.open}
        driven = active_units(model, driven_keys)
        upstream = {k for s in scopes for k in s.external}  # other workflows' jobs, maybe undriven
        watched = active_units(model, ({k for s in watching for k in s.open} | upstream) - driven_keys)
    count = 0
    for alias in sorted({*driven, *watched, *(a for a, b in driver.backends.items() if b.busy)}):
        try:
            backend = driver.backend(alias)
            updates = backend.observe(driven.get(alias, []), markers, full)
            if watched.get(alias):
                updates += backend.observe(watched[alias], markers, full, adopt=False)
        except JobledgerError as exc:
            driver.log.warning("cannot observe host %s: %s", alias, exc)
            continue
        if updates:
            count += driver.actions.record_updates(updates, alias)
            driver.replan(scopes, {u.key for u in updates})
    return count
