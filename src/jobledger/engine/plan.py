"""Pure decisions: where each job of a workflow stands and what may happen next."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from jobledger.ledger.state import attempt_info
from jobledger.states import STATES, JobState


class Phase(enum.Enum):
    """Where a job stands for the driver."""

    PENDING = "pending"  # attempt decided (or first), nothing submitted yet
    RECONCILE = "reconcile"  # intent written, outcome unknown
    ACTIVE = "active"  # backend holds it
    SUCCESS = "success"
    FAILURE = "failure"


@attrs.frozen
class Standing:
    """One job's current attempt as the driver sees it."""

    key: str
    attempt: int
    phase: Phase
    state: JobState
    scheduler_id: str | None = None
    host: str | None = None
    not_before: float | None = None
    cancel_requested: bool = False


def standing(key: str, raw_job: Mapping[str, Any] | None) -> Standing:
    """Classify a job from its raw ledger record (fast path for plain jobs)."""
    if raw_job is None or not raw_job.get("attempts"):
        return Standing(key, 1, Phase.PENDING, JobState.PENDING)
    number = max(raw_job["attempts"])
    att = raw_job["attempts"][number]
    indices = raw_job.get("array")
    state = attempt_info(number, att, list(indices)).state if indices else STATES[att["state"]]
    retry = att.get("retry") or {}
    cancel = att.get("cancel") is not None
    if state.is_final:
        phase = Phase.SUCCESS if state is JobState.COMPLETED else Phase.FAILURE
    elif (outcome := att.get("outcome")) is not None and outcome[3] == "submitted":
        phase = Phase.ACTIVE
    elif att.get("intent") is not None and (outcome is None or outcome[3] == "transient"):
        # no answer, or a failure that may have reached the scheduler: look before resubmitting
        phase = Phase.RECONCILE
    else:
        phase = Phase.PENDING
    return Standing(
        key,
        number,
        phase,
        state,
        scheduler_id=att.get("scheduler_id"),
        host=att.get("host"),
        not_before=retry.get("not_before"),
        cancel_requested=cancel,
    )


class Readiness(enum.Enum):
    """Whether a pending job may be submitted."""

    READY = "ready"
    NATIVE = "native"  # ready, with scheduler-side dependencies on active upstreams
    WAIT = "wait"
    NEVER = "never"  # an upstream outcome makes the condition impossible


def satisfied(kind: str, upstream: Standing) -> bool | None:
    """True/False once the upstream decided the edge, ``None`` while it may still change."""
    if upstream.phase is Phase.SUCCESS:
        return kind in ("afterok", "afterany")
    if upstream.phase is Phase.FAILURE:
        return kind in ("afterany", "afternotok")
    return None


def readiness(
    edges: Sequence[tuple[str, str]],
    upstream: Mapping[str, Standing],
    *,
    waitfor: str = "all",
    host: str,
    native_kinds: frozenset[str] = frozenset(),
    retrying: frozenset[str] = frozenset(),
) -> tuple[Readiness, list[tuple[str, str]]]:
    """Decide a pending job's readiness from its ``(upstream key, kind)`` edges.

    Returns the verdict and, for :attr:`Readiness.NATIVE`, the ``(scheduler id, kind)``
    pairs to hand to the scheduler. Native dependencies are used only when every
    undecided upstream is already active on the same host, the kind is one the scheduler
    enforces, and the upstream may not be retried (a retry would need a new id).
    """
    if not edges:
        return Readiness.READY, []
    verdicts = [(satisfied(kind, upstream[key]), key, kind) for key, kind in edges]
    if waitfor == "any":
        if any(v is True for v, _, _ in verdicts):
            return Readiness.READY, []
        if all(v is False for v, _, _ in verdicts):
            return Readiness.NEVER, []
        return Readiness.WAIT, []
    if any(v is False for v, _, _ in verdicts):
        return Readiness.NEVER, []
    open_edges = [(key, kind) for v, key, kind in verdicts if v is None]
    if not open_edges:
        return Readiness.READY, []
    native: list[tuple[str, str]] = []
    for key, kind in open_edges:
        up = upstream[key]
        if (
            up.phase is not Phase.ACTIVE
            or up.host != host
            or not up.scheduler_id
            or kind not in native_kinds
            or key in retrying
        ):
            return Readiness.WAIT, []
        native.append((up.scheduler_id, kind))
    return Readiness.NATIVE, native
