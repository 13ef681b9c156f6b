"""What a waiter reads from the ledger's model: each job's state as a waiter sees it, and
the words that say what is unfinished and how to carry on."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, job_phase, settled_state, settled_states
from jobledger.states import JobState


def waiter_states(model: Model, keys: Iterable[str]) -> dict[str, JobState]:
    """Each key's state as a waiter sees it: final once nothing more will happen to the
    job (a failed job with a retry to come reads ``pending``)."""
    keys = list(keys)
    finals = settled_states(model, keys)
    out = {}
    for key in keys:
        final = finals[key]
        if final is not None:
            out[key] = final
            continue
        job = model.jobs.get(key)
        state = job_phase(job)[2] if job is not None else JobState.PENDING
        out[key] = JobState.PENDING if state.is_final else state
    return out


class TrackedStates:
    """The waiter states of ``keys``, re-read each step only for the keys whose records
    changed (what :meth:`~jobledger.engine.driver.Driver.changes` says), and all of them
    every :attr:`FULL_EVERY` seconds or when anything may have changed; with a tally by
    state and the keys that became final, so that a step of a wait on 10,000 jobs costs
    what moved, not 10,000 reads."""

    FULL_EVERY = 2.0

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.states: dict[str, JobState] = {}
        self.tally: Counter[JobState] = Counter()
        self.newly_final: list[str] = []
        """Keys that became final in the last :meth:`update` (all final ones at first)."""
        self._full_at = 0.0

    def update(self, model: Model, changed: set[str] | None) -> dict[str, JobState]:
        """The states now (``changed``: keys that moved since the last update, ``None``:
        any may have)."""
        now = time.monotonic()
        if changed is None or not self.states or now - self._full_at >= self.FULL_EVERY:
            fresh = waiter_states(model, self.keys)
            self._full_at = now
        elif changed:
            fresh = waiter_states(model, [k for k in changed if k in self.states])
        else:
            fresh = {}
        states, tally = self.states, self.tally
        newly = []
        for key, state in fresh.items():
            old = states.get(key)
            if old is state:
                continue
            if old is not None:
                tally[old] -= 1
            tally[state] += 1
            states[key] = state
            if state.is_final and (old is None or not old.is_final):
                newly.append(key)
        self.newly_final = newly
        return states

    @property
    def unfinished(self) -> int:
        """How many keys are not final."""
        return len(self.keys) - sum(n for s, n in self.tally.items() if s.is_final)


def job_names(model: Model, keys: Iterable[str]) -> list[str]:
    """The names of ``keys`` (a key prefix for a key the ledger does not know)."""
    jobs = model.jobs
    return [jobs[k].name if k in jobs else k[:12] for k in keys]


def unfinished_text(model: Model, keys: Sequence[str], timeout: float | None) -> str:
    """``not every job was final after Ns: a (running on cluster), b (waiting ...)``."""
    parts = []
    for key in keys:
        if settled_state(model, key) is not None:
            continue  # (cheap for finished jobs: their records stay undecoded)
        job = model.jobs.get(key)
        phase, number, state = job_phase(job) if job is not None else (Phase.PENDING, 1, JobState.PENDING)
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


def carry_on_command(root: Path) -> str:
    """The command that carries on driving the project at ``root`` from the current
    directory (``jobledger resume``, or with ``-C ROOT`` from outside it)."""
    inside = Path.cwd().resolve()
    here = inside == root or root in inside.parents
    return "jobledger resume" if here else f"jobledger -C {root} resume"
