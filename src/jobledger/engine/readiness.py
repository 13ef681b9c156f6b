"""Readiness of a pending job: its upstreams' standings as the planner sees them, and
what they allow (run now, run with native scheduler dependencies, wait, never run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from jobledger.ledger.records import JobRecord
from jobledger.ledger.state import Phase, job_phase
from jobledger.states import JobState


@attrs.frozen
class HostView:
    """What the planner must know of a host to decide submissions there."""

    alias: str
    native_kinds: frozenset[str] = frozenset()
    """Dependency kinds the scheduler enforces itself (empty for the local backend)."""
    live_ids: frozenset[str] | None = None
    """Ids the scheduler listed as not final in its last answer (``None``: not tracked).
    SLURM takes a dependency on a job it has forgotten as satisfied: only these may be
    named as native dependencies."""
    throttled_until: float = 0.0
    max_in_flight: int | None = None
    active: int = 0
    """Attempts active on this host now (for ``max_in_flight``)."""
    pack_limit: int = 0
    """Most jobs one array submission of same-shape jobs may hold here (below 2: none;
    see :mod:`jobledger.engine.packing`)."""


@attrs.frozen
class Standing:
    """A job's phase as the plan sees it (the ledger's, or decided earlier in the plan)."""

    phase: Phase
    attempt: int
    state: JobState
    host: str | None = None
    scheduler_id: str | None = None


def standing_of(job: JobRecord | None) -> Standing:
    """A job's :class:`Standing` from its record."""
    if job is None or not job.attempts:
        return _FRESH
    phase, number, state = job_phase(job)
    att = job.attempts.get(number)
    return Standing(phase, number, state, att.host if att else None, att.scheduler_id if att else None)


_FRESH = Standing(Phase.PENDING, 1, JobState.PENDING)
"""The standing of a job nothing was recorded for yet (shared: standings are immutable)."""


def satisfied(kind: str, upstream: Standing) -> bool | None:
    """True/False once the upstream decided the edge, ``None`` while it may still change."""
    if upstream.phase is Phase.SUCCESS:
        return kind in ("afterok", "afterany")
    if upstream.phase is Phase.FAILURE:
        return kind in ("afterany", "afternotok")
    return None


def readiness(
    edges: Sequence[Sequence[str]],
    upstream: Mapping[str, Standing],
    *,
    waitfor: str,
    host: HostView,
    retrying: frozenset[str] = frozenset(),
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``("ready"|"native"|"wait"|"never", native dependencies)`` of a pending job.

    Native dependencies are used only when every undecided upstream is already active on
    the same host with an id the scheduler still lists, the kind is one it enforces, and
    the upstream may not be retried (a retry would need a new id).
    """
    if not edges:
        return "ready", ()
    if waitfor == "any":
        verdicts = [satisfied(kind, upstream[key]) for key, kind in edges]
        if any(v is True for v in verdicts):
            return "ready", ()
        if all(v is False for v in verdicts):
            return "never", ()
        return "wait", ()
    open_edges = []
    for key, kind in edges:
        phase = upstream[key].phase  # satisfied(), inlined: this runs for every edge
        if phase is Phase.SUCCESS:
            if kind not in ("afterok", "afterany"):
                return "never", ()
        elif phase is Phase.FAILURE:
            if kind not in ("afterany", "afternotok"):
                return "never", ()
        else:
            open_edges.append((key, kind))
    if not open_edges:
        return "ready", ()
    native: list[tuple[str, str]] = []
    for key, kind in open_edges:
        up = upstream[key]
        if (
            up.phase is not Phase.ACTIVE
            or up.host != host.alias
            or not up.scheduler_id
            or kind not in host.native_kinds
            or key in retrying
            or (host.live_ids is not None and up.scheduler_id not in host.live_ids)
        ):
            return "wait", ()
        native.append((up.scheduler_id, kind))
    return "native", tuple(native)
