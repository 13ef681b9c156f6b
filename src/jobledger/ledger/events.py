"""The events of the ledger: one frozen class per event type.

On disk an event is ``[type, clock, seq, time, data]`` (see :mod:`.event_codec`, the one
place that turns these classes into that form and back); the writer is the segment it
lives in. ``clock`` is a hybrid logical clock in microseconds: above every clock already
in the log when the writer started and above the writer's own last event, so the order
``(clock, writer, seq)`` is the same on every machine.

Every class is plain data and immutable. Fields left at their default are not stored.
Unknown (newer) types are kept on disk and skipped by the reducer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from jobledger.ledger.specs import JobSpec, with_class_defaults

T = TypeVar("T")

#: Event class by on-disk type name (filled by :func:`event_type`).
BY_TYPE: dict[str, type[Any]] = {}


def event_type(name: str) -> Callable[[type[T]], type[T]]:
    """Register an event class under its on-disk ``name``.

    Defaults are also set as class attributes, so that an instance whose ``__dict__`` holds
    only the stored (non-default) fields — how the codec builds them, cheaply — reads the
    defaults of the fields it does not hold.
    """

    def register(cls: type[T]) -> type[T]:
        cls.TYPE = name  # type: ignore[attr-defined]
        BY_TYPE[name] = with_class_defaults(cls)
        return cls

    return register


# ------------------------------------------------------------------------- the project
@event_type("segment")
@attrs.frozen(slots=False)
class SegmentOpened:
    """First event of every segment: who writes it."""

    writer: str
    host: str | None = None
    pid: int | None = None
    version: int = 1
    created: float | None = None
    project: str | None = None
    """The project's id (the same in every clone)."""
    seen: Mapping[str, Any] | None = None
    """What the writer had read of other segments when it opened (see :mod:`.headers`)."""


@event_type("workflow")
@attrs.frozen(slots=False)
class WorkflowDefined:
    """A definition of workflow ``name``: its jobs, fixed (see :class:`JobSpec`).

    ``digest`` identifies the definition's content. ``replaces`` lists the ids of the
    definitions of the same name that this one supersedes (those of the same ``source``;
    a definition's id is its event's ``clock-writer-seq``); ``None`` in events of older
    versions, which replaced every earlier definition.
    """

    name: str
    jobs: Sequence[JobSpec] = ()
    digest: str | None = None
    root: str | None = None
    source: str | None = None
    replaces: Sequence[str] | None = None
    host: str | None = None
    """The host a run sent jobs to that named none (``run(host=...)``)."""


@event_type("run")
@attrs.frozen(slots=False)
class RunStarted:
    """An explicit run of a workflow (``run()``, a script, ``jobledger run``)."""

    workflow: str
    run: str
    """A fresh id; :class:`Reused` events of this run name it."""
    definition: str | None = None
    force: bool = False
    source: str | None = None


@event_type("reused")
@attrs.frozen(slots=False)
class Reused:
    """A run found a job already completed and did not run it again."""

    workflow: str
    key: str
    attempt: int = 1
    run: str | None = None


# ------------------------------------------------------------------------- attempts
@event_type("intent")
@attrs.frozen(slots=False)
class Intent:
    """Write-ahead: about to act on an attempt (``action`` is ``submit`` or ``cancel``)."""

    key: str
    attempt: int = 1
    action: str = "submit"
    host: str | None = None
    run_dir: str | None = None
    workflow: str | None = None
    resources: Mapping[str, Any] | None = None
    native_deps: Sequence[Sequence[str]] = ()
    index_offset: int = 0
    pack: Sequence[Any] | None = None
    """``[tag, element]`` when the attempt is one element of a pack (one array submission
    of same-shape jobs); the other jobs of the pack have intents of their own."""


@event_type("submitted")
@attrs.frozen(slots=False)
class Submitted:
    """A backend accepted an attempt."""

    key: str
    attempt: int = 1
    host: str | None = None
    scheduler_id: str | None = None
    run_dir: str | None = None
    reconciled: bool = False
    """Found after a crash (by claim files or the scheduler's tag), not just submitted."""
    index_offset: int = 0
    at: float | None = None


@event_type("submit_failed")
@attrs.frozen(slots=False)
class SubmitFailed:
    """A submission was refused (or may not have reached the scheduler: ``transient``)."""

    key: str
    attempt: int = 1
    error: str = ""
    transient: bool = False


@event_type("state")
@attrs.frozen(slots=False)
class StateChanged:
    """An attempt (or array element ``index``) changed state."""

    key: str
    state: str
    attempt: int = 1
    index: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    source: str = ""
    at: float | None = None
    pid: int | None = None


@event_type("result")
@attrs.frozen(slots=False)
class ResultRecorded:
    """What a finished Python-call attempt left: its return value's digest or its error."""

    key: str
    attempt: int = 1
    index: int | None = None
    unit: str | None = None
    value: str | None = None
    size: int | None = None
    type: str | None = None
    error: Mapping[str, Any] | None = None


@event_type("cancel")
@attrs.frozen(slots=False)
class CancelRequested:
    """Someone asked to cancel a job: no attempt of it starts or is retried after this
    (until an explicit re-run or retry)."""

    key: str
    attempt: int = 1
    reason: str = ""


@event_type("retry")
@attrs.frozen(slots=False)
class RetryDecided:
    """A new attempt of a job was decided (by the retry policy, or by hand: ``manual``)."""

    key: str
    attempt: int
    reason: str = ""
    manual: bool = False
    not_before: float | None = None
    resources: Mapping[str, Any] | None = None


# ------------------------------------------------------------------------- files
@event_type("staged")
@attrs.frozen(slots=False)
class Staged:
    """A file was sent to a remote host (not sent again while its hash matches)."""

    host: str
    path: str
    digest: str


@event_type("outputs")
@attrs.frozen(slots=False)
class OutputsHome:
    """A remote job's declared outputs were brought back to where it was defined."""

    key: str
    files: Mapping[str, str] = attrs.field(factory=dict)


@event_type("fetched")
@attrs.frozen(slots=False)
class Fetched:
    """A remote attempt's run-directory files were brought into the local run directory."""

    key: str
    attempt: int = 1
    files: Mapping[str, str] = attrs.field(factory=dict)


@event_type("note")
@attrs.frozen(slots=False)
class Note:
    """Free text for humans."""

    message: str = ""
    level: str = "info"


# ------------------------------------------------------------------------- the clock
class HybridClock:
    """Hybrid logical clock in microseconds: never below wall time, always increasing."""

    def __init__(self, floor: int = 0) -> None:
        self._last = floor

    def observe(self, clock: int) -> None:
        """Make sure the next tick is above ``clock`` (an event seen in the log)."""
        self._last = max(self._last, clock)

    def tick(self) -> int:
        """Next clock value."""
        now = time.time_ns() // 1000
        self._last = now if now > self._last else self._last + 1
        return self._last

    def stamp(self) -> tuple[int, float]:
        """Next clock value and the wall time it was taken at (seconds), in one call."""
        ns = time.time_ns()
        now = ns // 1000
        last = self._last = now if now > self._last else self._last + 1
        return last, ns / 1e9

    @property
    def last(self) -> int:
        """Last value handed out or observed."""
        return self._last


Event = (
    SegmentOpened
    | WorkflowDefined
    | RunStarted
    | Reused
    | Intent
    | Submitted
    | SubmitFailed
    | StateChanged
    | ResultRecorded
    | CancelRequested
    | RetryDecided
    | Staged
    | OutputsHome
    | Fetched
    | Note
)
