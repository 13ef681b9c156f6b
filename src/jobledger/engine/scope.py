"""What driving one workflow covers: the jobs of its current definitions (to submit,
retry and watch) and the jobs of earlier definitions still in flight (only to watch).

A scope remembers which of its jobs are still *open* (not final, or final with a retry to
come) and which must be looked at again (*dirty*: something about them or their upstream
changed), so that a cycle of a 100,000-job workflow looks only at what moved.
"""

from __future__ import annotations

import attrs

from jobledger.ledger.records import JobRecord
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, job_phase, settled, settled_state, settled_states


def is_open(job: JobRecord | None) -> bool:
    """True while a job is not final, or is final with a retry to come."""
    return job is None or settled(job) is None


@attrs.define
class Scope:
    """The jobs that driving workflow ``name`` covers (see the module docstring)."""

    name: str
    definitions: frozenset[str]
    """Ids of the current definitions this scope was built from."""
    order: list[str]
    """Keys to drive, in topological order."""
    position: dict[str, int]
    down: dict[str, list[str]]
    """Key -> keys that depend on it directly."""
    watch_only: list[str]
    """Keys of earlier definitions that were still in flight when the scope was built."""
    external: list[str] = attrs.field(factory=list)
    """Keys of jobs of other workflows that jobs here depend on (``JobRef``): the driver
    watches them while they are in flight, for they may have no driver of their own."""
    open: set[str] = attrs.field(factory=set)
    dirty: set[str] = attrs.field(factory=set)
    full_at: float = 0.0

    @classmethod
    def build(cls, model: Model, name: str) -> Scope | None:
        """The scope of workflow ``name`` now (``None`` when it has no definition)."""
        record = model.workflows.get(name)
        if record is None or not record.definitions:
            return None
        current = record.current()
        order: list[str] = []
        seen: set[str] = set()
        for definition in current:
            for key in definition.keys:
                if key not in seen:
                    seen.add(key)
                    order.append(key)
        jobs = model.jobs
        watch_only = []
        for definition in record.definitions.values():
            for key in definition.keys:
                if key not in seen:
                    seen.add(key)
                    if settled_state(model, key) is None:
                        job = jobs.get(key)
                        if job is not None and job_phase(job)[0] in (Phase.ACTIVE, Phase.RECONCILE):
                            watch_only.append(key)
        scope = cls(
            name,
            frozenset(d.id for d in current),
            order,
            {k: i for i, k in enumerate(order)},
            {},
            watch_only,
        )
        scope.refresh(model, [*order, *watch_only])
        scope.dirty = set(scope.open)
        return scope

    def _link(self, model: Model, key: str) -> None:
        """Note an open job as a dependent of its upstreams (only open jobs are planned, so
        only they need to be found when an upstream changes)."""
        job = model.jobs.get(key)
        if job is not None and job.spec is not None and key in self.position:
            for up, _kind in job.spec.after:
                dependents = self.down.setdefault(up, [])
                if key not in dependents:
                    dependents.append(key)
                if up not in self.position and up not in self.external:
                    self.external.append(up)  # recorded by another workflow: watched from here

    def refresh(self, model: Model, keys: list[str] | set[str]) -> set[str]:
        """Re-read whether ``keys`` are open; returns those that changed."""
        changed = set()
        watch = set(self.watch_only)
        keys = list(keys)
        finals = settled_states(model, keys)
        for key in keys:
            if finals[key] is not None:
                now_open = False
            elif key in watch:
                job = model.jobs.get(key)
                now_open = job is not None and job_phase(job)[0] in (Phase.ACTIVE, Phase.RECONCILE)
            else:
                now_open = True
            was = key in self.open
            if now_open and not was:
                self.open.add(key)
                self._link(model, key)
                changed.add(key)
            elif was and not now_open:
                self.open.discard(key)
                changed.add(key)
        return changed

    def touch(self, keys: set[str]) -> None:
        """Mark ``keys`` and their direct dependents to be looked at again."""
        for key in keys:
            if key in self.position:
                self.dirty.add(key)
            self.dirty.update(self.down.get(key, ()))

    def sorted(self, keys: set[str]) -> list[str]:
        """``keys`` (of this scope) in topological order."""
        wanted = [k for k in keys if k in self.position]
        if len(wanted) * 4 >= len(self.order):
            chosen = set(wanted)
            return [k for k in self.order if k in chosen]
        return sorted(wanted, key=self.position.__getitem__)

    @property
    def final(self) -> bool:
        """True when nothing in the scope is open."""
        return not self.open
