"""Read-only views over the reduced state (derived values, computed on demand)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from jobledger.states import JobState

_FAILURE_PRIORITY = (
    JobState.OUT_OF_MEMORY,
    JobState.TIMEOUT,
    JobState.NODE_FAIL,
    JobState.PREEMPTED,
    JobState.BOOT_FAIL,
    JobState.LOST,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.DEPENDENCY_FAILED,
)


@attrs.frozen
class ElementInfo:
    """One array element of an attempt."""

    index: int
    state: JobState
    exit_code: int | None
    signal: int | None
    reason: str
    started_at: float | None
    ended_at: float | None


@attrs.frozen
class AttemptInfo:
    """One attempt of a job."""

    number: int
    state: JobState
    exit_code: int | None
    signal: int | None
    reason: str
    scheduler_id: str | None
    host: str | None
    run_dir: str | None
    submitted_at: float | None
    started_at: float | None
    ended_at: float | None
    intent_without_outcome: bool
    cancel_requested: bool
    elements: tuple[ElementInfo, ...]
    history: tuple[tuple[float, str, int | None], ...]
    result: Mapping[str, Any]
    retry_reason: str
    manual: bool
    not_before: float | None
    error: str | None
    resources: Mapping[str, Any] | None

    @property
    def failed_indices(self) -> list[int]:
        """Array indices that ended in a state other than completed."""
        return [e.index for e in self.elements if e.state.is_final and not e.state.is_success]


@attrs.frozen
class JobInfo:
    """What the ledger knows about one job (by key)."""

    key: str
    name: str
    host: str
    definition: Mapping[str, Any]
    attempts: tuple[AttemptInfo, ...]
    reused_in: tuple[str, ...]

    @property
    def current(self) -> AttemptInfo | None:
        """The latest attempt, if any."""
        return self.attempts[-1] if self.attempts else None

    @property
    def state(self) -> JobState:
        """State of the latest attempt (``pending`` before the first)."""
        cur = self.current
        return cur.state if cur else JobState.PENDING

    @property
    def ever_completed(self) -> bool:
        """True when some attempt completed: the work exists and can be reused."""
        return any(a.state is JobState.COMPLETED for a in self.attempts)

    @property
    def array(self) -> list[int] | None:
        """Array indices, when the job is an array."""
        value = self.definition.get("array")
        return list(value) if value else None

    @property
    def run_dir(self) -> str | None:
        """Run directory (relative to the project) of the latest attempt."""
        cur = self.current
        return (cur.run_dir if cur else None) or self.definition.get("run_dir")


@attrs.frozen
class WorkflowInfo:
    """A workflow's latest definition."""

    name: str
    job_keys: tuple[str, ...]
    defined: float
    root: str | None


def _element_state(element: Mapping[str, Any], attempt_state: JobState) -> JobState:
    mine = JobState(element["state"])  # elements are sparse too
    if mine.is_final:
        return mine
    if attempt_state.is_final:
        return attempt_state
    return mine if mine.rank >= attempt_state.rank else attempt_state


def aggregate(states: list[JobState]) -> JobState:
    """One state for a set of array elements."""
    if not states:
        return JobState.PENDING
    if any(not s.is_final for s in states):
        if any(s is JobState.RUNNING for s in states) or any(s.is_final for s in states):
            return JobState.RUNNING
        return max(states, key=lambda s: s.rank)
    if all(s is JobState.COMPLETED for s in states):
        return JobState.COMPLETED
    present = set(states)
    return next(s for s in _FAILURE_PRIORITY if s in present)


def _monotone_history(entries: list[list[Any]]) -> tuple[tuple[float, str, int | None], ...]:
    """Sightings in order, dropping ones that would move a unit backwards."""
    best: dict[Any, int] = {}
    out = []
    for entry in sorted(entries, key=lambda h: (h[0], h[1], h[2] or 0.0)):
        state, at, index = entry[1], entry[2], entry[3]
        rank = JobState(state).rank
        if rank < best.get(index, -1) or (rank == best.get(index) and rank >= 3):
            continue
        best[index] = rank
        out.append((at, state, index))
    return tuple(out)


def attempt_info(number: int, raw: Mapping[str, Any], indices: list[int] | None) -> AttemptInfo:
    """Derive an :class:`AttemptInfo` from a raw (sparse) attempt record."""
    get = raw.get
    own = JobState(raw["state"])
    elements: list[ElementInfo] = []
    state = own
    if indices:
        stored = get("elements") or {}
        for index in indices:
            el = stored.get(index)
            if el is None:
                el_state = own if own.rank > JobState.PENDING.rank else JobState.PENDING
                elements.append(ElementInfo(index, el_state, None, None, "", None, None))
            else:
                elements.append(
                    ElementInfo(
                        index,
                        _element_state(el, own),
                        el.get("exit_code"),
                        el.get("signal"),
                        el.get("reason") or "",
                        el.get("started_at"),
                        el.get("ended_at"),
                    )
                )
        state = aggregate([e.state for e in elements])
        if own.is_final and not state.is_final:
            state = own
    history = _monotone_history(get("history") or [])
    retry = get("retry") or {}
    exit_code = get("exit_code")
    if indices and exit_code is None:
        codes = [e.exit_code for e in elements if e.exit_code]
        exit_code = codes[0] if codes else (0 if state is JobState.COMPLETED else None)
    ended = get("ended_at")
    if indices and ended is None and state.is_final:
        ends = [e.ended_at for e in elements if e.ended_at is not None]
        ended = max(ends) if ends else None
    started = get("started_at")
    if indices and started is None:
        starts = [e.started_at for e in elements if e.started_at is not None]
        started = min(starts) if starts else None
    return AttemptInfo(
        number=number,
        state=state,
        exit_code=exit_code,
        signal=get("signal"),
        reason=get("reason") or "",
        scheduler_id=get("scheduler_id"),
        host=get("host"),
        run_dir=get("run_dir"),
        submitted_at=get("submitted_at"),
        started_at=started,
        ended_at=ended,
        intent_without_outcome=get("intent") is not None and get("outcome") is None,
        cancel_requested=get("cancel") is not None,
        elements=tuple(elements),
        history=history,
        result=dict(get("result") or {}),
        retry_reason=retry.get("reason", ""),
        manual=bool(retry.get("manual")),
        not_before=retry.get("not_before"),
        error=get("error"),
        resources=get("resources"),
    )


class ProjectState:
    """Read-only view of the reduced ledger."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @property
    def max_clock(self) -> int:
        """Highest logical clock seen."""
        return int(self.raw["max_clock"])

    @property
    def problems(self) -> list[str]:
        """Events that did not fit, sorted."""
        return sorted(self.raw["problems"])

    def workflows(self) -> dict[str, WorkflowInfo]:
        """Every workflow by name."""
        return {
            name: WorkflowInfo(name, tuple(w["jobs"]), w["defined"], w.get("root"))
            for name, w in sorted(self.raw["workflows"].items())
        }

    def workflow(self, name: str) -> WorkflowInfo | None:
        """One workflow, if defined."""
        w = self.raw["workflows"].get(name)
        return None if w is None else WorkflowInfo(name, tuple(w["jobs"]), w["defined"], w.get("root"))

    def has_job(self, key: str) -> bool:
        """True when the ledger knows the key."""
        return key in self.raw["jobs"]

    def job(self, key: str) -> JobInfo | None:
        """Everything known about one job."""
        raw = self.raw["jobs"].get(key)
        if raw is None:
            return None
        indices = raw.get("array")
        attempts = tuple(
            attempt_info(n, raw["attempts"][n], indices) for n in sorted(raw.get("attempts", {}))
        )
        definition = {k: v for k, v in raw.items() if k not in ("attempts", "reused_in", "def_order")}
        return JobInfo(
            key=key,
            name=raw.get("name", key[:8]),
            host=raw.get("host", "local"),
            definition=definition,
            attempts=attempts,
            reused_in=tuple(raw.get("reused_in", ())),
        )

    def jobs(self, workflow: str | None = None) -> list[JobInfo]:
        """Jobs of one workflow in definition order, or every job (by name, key)."""
        if workflow is not None:
            wf = self.raw["workflows"].get(workflow)
            keys = wf["jobs"] if wf else []
        else:
            keys = sorted(self.raw["jobs"], key=lambda k: (self.raw["jobs"][k].get("name", ""), k))
        out = []
        for key in keys:
            info = self.job(key)
            if info is not None:
                out.append(info)
        return out

    def completed_keys(self) -> set[str]:
        """Keys with at least one completed attempt (cheap: no views built)."""
        done = set()
        for key, raw in self.raw["jobs"].items():
            if raw.get("array"):
                info = self.job(key)
                if info is not None and info.ever_completed:
                    done.add(key)
            elif any(a["state"] == "completed" for a in raw.get("attempts", {}).values()):
                done.add(key)
        return done

    def __iter__(self) -> Iterator[JobInfo]:
        return iter(self.jobs())
