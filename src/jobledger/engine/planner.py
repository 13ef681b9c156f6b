"""The planner: from the state, the definitions and the time, what to do next. Pure.

:func:`plan` looks at the jobs it is given (in topological order) and returns commands —
decide a retry, end a job that can never run, finish a cancel, look up a submission that a
crash interrupted, submit — without any I/O. The driver carries them out (write-ahead:
the intent is durable before the side effect) and the events it records are what the next
plan sees. Decisions within one plan are seen by the jobs after them (a job that can never
run makes its dependents never run in the same plan).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from jobledger.engine.readiness import HostView, Standing, readiness, satisfied, standing_of
from jobledger.engine.scope import is_open
from jobledger.gcpause import gc_paused
from jobledger.ledger.reducer import Model
from jobledger.ledger.state import Phase, cancel_stands
from jobledger.states import JobState


# ---------------------------------------------------------------------- commands
@attrs.frozen
class Retry:
    """Record attempt ``attempt`` of ``key`` (the previous one ended ``after``)."""

    key: str
    attempt: int
    reason: str
    not_before: float | None
    resources: Mapping[str, Any]


@attrs.frozen
class NeverRuns:
    """End ``key`` as ``dependency_failed``: an upstream outcome makes it impossible."""

    key: str
    attempt: int
    reason: str


@attrs.frozen
class CancelPending:
    """End a not-yet-submitted attempt as ``cancelled`` (a cancel request stands)."""

    key: str
    attempt: int
    reason: str


@attrs.frozen
class CancelActive:
    """Cancel an active attempt at its backend (the request stands; nobody did it yet)."""

    key: str
    attempt: int
    host: str


@attrs.frozen
class Reconcile:
    """An intent without outcome: find out whether the submission happened."""

    key: str
    attempt: int
    host: str


@attrs.frozen
class Submit:
    """Submit attempt ``attempt`` of ``key`` to ``host``."""

    key: str
    attempt: int
    host: str
    resources: Mapping[str, Any]
    native_deps: tuple[tuple[str, str], ...] = ()
    """``(scheduler id, kind)`` of upstreams the scheduler itself waits for."""


Command = Retry | NeverRuns | CancelPending | CancelActive | Reconcile | Submit


@attrs.frozen
class Plan:
    """The commands of one plan, in the order to carry them out."""

    commands: tuple[Command, ...] = ()
    wake_at: float | None = None
    """Earliest time a job waiting out a retry backoff becomes due."""
    unsubmittable: tuple[str, ...] = ()
    """Ready jobs whose definition is too old to submit from the ledger."""


# ---------------------------------------------------------------------- the plan
def plan(
    model: Model,
    keys: Iterable[str],
    now: float,
    hosts: Mapping[str, HostView],
) -> Plan:
    """Decide what to do for ``keys`` (topological order; every upstream of a key is
    either among them before it or already in ``model``)."""
    with gc_paused():  # it reads (and may decode) a record per key: no collector passes
        return _plan(model, keys, now, hosts)


def _plan(model: Model, keys: Iterable[str], now: float, hosts: Mapping[str, HostView]) -> Plan:
    """:func:`plan`, with the collector paused."""
    jobs = model.jobs
    overlay: dict[str, Standing] = {}
    active = {alias: view.active for alias, view in hosts.items()}
    commands: list[Command] = []
    unsubmittable: list[str] = []
    wake_at: float | None = None

    recorded: dict[str, Standing] = {}  # standings from the records (they do not change here)
    views = dict(hosts)

    for key in keys:
        job = jobs.get(key)
        if job is None or job.spec is None:
            continue
        spec = job.spec
        st = overlay.get(key) or recorded.get(key)
        if st is None:
            st = recorded[key] = standing_of(job)
        cancelled = cancel_stands(job)
        if st.phase is Phase.FAILURE:
            if cancelled or st.state is JobState.DEPENDENCY_FAILED:
                continue
            if not spec.may_retry(st.state.value, st.attempt):
                continue
            delay = spec.retry_delay(st.attempt)
            not_before = now + delay if delay else None
            number = st.attempt + 1
            commands.append(
                Retry(
                    key,
                    number,
                    f"attempt {st.attempt} ended {st.state.value}",
                    not_before,
                    spec.resources_for(number),
                )
            )
            overlay[key] = st = Standing(Phase.PENDING, number, JobState.PENDING)
            if not_before is not None and not_before > now:
                wake_at = not_before if wake_at is None else min(wake_at, not_before)
                continue
        if st.phase is Phase.SUCCESS:
            continue
        alias = (job.attempts[st.attempt].host if st.attempt in job.attempts else None) or spec.host
        if st.phase is Phase.ACTIVE:
            att = job.attempts.get(st.attempt)
            if cancelled and att is not None and att.cancel_intent is None:
                commands.append(CancelActive(key, st.attempt, alias))
            continue
        if st.phase is Phase.RECONCILE:
            commands.append(Reconcile(key, st.attempt, alias))
            continue
        # pending
        if cancelled:
            commands.append(
                CancelPending(key, st.attempt, job.cancel_reason or "cancelled before it started")
            )
            overlay[key] = Standing(Phase.FAILURE, st.attempt, JobState.CANCELLED)
            continue
        att = job.attempts.get(st.attempt)
        not_before = att.retry.not_before if att is not None and att.retry is not None else None
        if not_before is not None and not_before > now:
            wake_at = not_before if wake_at is None else min(wake_at, not_before)
            continue
        view = views.get(spec.host)
        if view is None:
            view = views[spec.host] = HostView(spec.host)
        edges = spec.after
        upstream: dict[str, Standing] = {}
        decided = False  # an upstream succeeded or failed for good
        for up, _ in edges:  # each upstream's standing (this runs for every edge)
            found = overlay.get(up)
            if found is None:
                found = recorded.get(up)
                if found is None:
                    found = recorded[up] = standing_of(jobs.get(up))
                if found.phase is Phase.FAILURE and is_open(jobs.get(up)):  # a retry to come
                    found = Standing(Phase.PENDING, found.attempt + 1, JobState.PENDING)
            if found.phase is Phase.SUCCESS or found.phase is Phase.FAILURE:
                decided = True
            upstream[up] = found
        if edges and not decided and not view.native_kinds:
            continue  # what readiness() says when no upstream decided yet and none is native
        verdict, native = readiness(edges, upstream, waitfor=spec.waitfor, host=view)
        if verdict == "native":  # unless an upstream may be retried (then it needs a new id)
            retrying = frozenset(
                up
                for up, _ in edges
                if (u := jobs.get(up)) is not None and u.spec is not None and u.spec.retries > 0
            )
            if retrying:
                verdict, native = readiness(
                    edges, upstream, waitfor=spec.waitfor, host=view, retrying=retrying
                )
        if verdict == "never":
            failed = [
                (jobs[up].name if up in jobs else up[:12])
                for up, _ in edges
                if upstream[up].phase in (Phase.FAILURE, Phase.SUCCESS)
            ]
            reason = "never ran: upstream " + ", ".join(failed or ["condition"]) + " did not end as required"
            commands.append(NeverRuns(key, st.attempt, reason))
            overlay[key] = Standing(Phase.FAILURE, st.attempt, JobState.DEPENDENCY_FAILED)
            continue
        if verdict == "wait":
            continue
        if not spec.submittable:
            unsubmittable.append(key)
            continue
        if view.throttled_until > now:
            continue
        if view.max_in_flight is not None and active.get(spec.host, 0) >= view.max_in_flight:
            continue
        commands.append(Submit(key, st.attempt, spec.host, spec.resources_for(st.attempt), native))
        active[spec.host] = active.get(spec.host, 0) + 1
        overlay[key] = Standing(Phase.ACTIVE, st.attempt, JobState.SUBMITTED, spec.host, None)
    return Plan(tuple(commands), wake_at, tuple(unsubmittable))


__all__ = [
    "CancelActive",
    "CancelPending",
    "Command",
    "HostView",
    "NeverRuns",
    "Plan",
    "Reconcile",
    "Retry",
    "Standing",
    "Submit",
    "plan",
    "readiness",
    "satisfied",
    "standing_of",
]
