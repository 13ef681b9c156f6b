"""Active jobs per host among the open jobs of the driven workflows: the load the
planner's host views carry (a host's limits count from it).

Counted in full when anything may have changed; else kept up to date from the keys whose
records moved, so that a step looks at what moved, not at every job in flight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from jobledger.engine.scope import Scope
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, job_phase


class ActiveCounts:
    """Active jobs per host, and the hosts the open jobs use."""

    def __init__(self) -> None:
        self._active: dict[str, str] | None = None  # open active key -> host (None: count again)
        self._active_per_host: Counter[str] = Counter()
        self.names: frozenset[str] = frozenset()
        """The workflows counted."""
        self._active_scopes: frozenset[int] = frozenset()
        self.hosts_in_use: set[str] = set()
        """The hosts of the open jobs counted."""

    def forget(self) -> None:
        """Count again in full next time (any record may have changed)."""
        self._active = None

    def of(self, model: Model, scopes: list[Scope]) -> Counter[str]:
        """Active jobs per host among the open jobs of ``scopes``: counted in full when
        anything may have changed, else kept up to date by :meth:`note` (a step looks
        at what moved, not at every job in flight)."""
        names = frozenset(s.name for s in scopes)
        built = frozenset(id(s) for s in scopes)  # a scope is built again for a new definition
        if self._active is None or names != self.names or built != self._active_scopes:
            self._active, self._active_per_host, self.names = {}, Counter(), names
            self._active_scopes = built
            self.hosts_in_use = set()
            for scope in scopes:
                self.note(model, scope.open)
        return self._active_per_host

    def note(self, model: Model, keys: Iterable[str]) -> None:
        """Count ``keys`` as active on their host, or not, as their records say now."""
        active, per_host, jobs = self._active, self._active_per_host, model.jobs
        if active is None:
            return
        for key in keys:
            job = jobs.get(key)
            host = job.spec.host if job is not None and job.spec is not None else None
            if host is not None:
                self.hosts_in_use.add(host)
            now = host if host is not None and job_phase(job)[0] is Phase.ACTIVE else None  # type: ignore[arg-type]
            before = active.get(key)
            if before == now:
                continue
            if before is not None:
                per_host[before] -= 1
                del active[key]
            if now is not None:
                per_host[now] += 1
                active[key] = now
