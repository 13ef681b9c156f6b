"""Event vocabulary of the ledger and the :class:`Event` envelope.

On disk an event is ``[type, clock, seq, time, data]`` (see :mod:`.codec`); the writer
is the segment it lives in. ``clock`` is a hybrid logical clock in microseconds: above
every clock already in the log when the writer started, and above the writer's own last
event, so the order ``(clock, writer, seq)`` is the same on every machine.

Types (``data`` keys in brackets):

``segment``     first event of every segment [writer, host, pid, version, created,
                project, seen] (see :mod:`.headers`)
``workflow``    a workflow (re)definition [name, jobs: list of job records, root]
``intent``      write-ahead: about to act [key, attempt, action, host, ...]
``submitted``   a backend accepted an attempt [key, attempt, host, scheduler_id, run_dir]
``submit_failed`` a submission was refused [key, attempt, error, transient]
``state``       an attempt (or array element) changed state [key, attempt, state, index,
                exit_code, signal, reason, source]
``result``      what a finished attempt left [key, attempt, index, value, files, error]
``reused``      a workflow found a job already completed [workflow, key]
``cancel``      a user asked to cancel [key, attempt]
``retry``       a new attempt was decided [key, attempt, reason, manual, resources, after]
``note``        free text for humans [level, message, ...]

Unknown (newer) types are kept on disk and skipped by the reducer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

SEGMENT = "segment"
WORKFLOW = "workflow"
INTENT = "intent"
SUBMITTED = "submitted"
SUBMIT_FAILED = "submit_failed"
STATE = "state"
RESULT = "result"
REUSED = "reused"
CANCEL = "cancel"
RETRY = "retry"
NOTE = "note"

KNOWN_TYPES = frozenset(
    {
        SEGMENT,
        WORKFLOW,
        INTENT,
        SUBMITTED,
        SUBMIT_FAILED,
        STATE,
        RESULT,
        REUSED,
        CANCEL,
        RETRY,
        NOTE,
    }
)


@attrs.frozen
class Event:
    """One ledger event with its identity (``writer``, ``seq``) and logical ``clock``."""

    type: str
    clock: int
    writer: str
    seq: int
    time: float
    data: Mapping[str, Any]

    @property
    def order(self) -> tuple[int, str, int]:
        """Total order key, identical on every machine."""
        return (self.clock, self.writer, self.seq)

    @classmethod
    def from_raw(cls, raw: list[Any], writer: str) -> Event:
        """Decode the on-disk array form."""
        etype, clock, seq, when, data = raw
        return cls(etype, clock, writer, seq, when, data)

    def to_raw(self) -> list[Any]:
        """The on-disk array form (writer is implied by the segment)."""
        return [self.type, self.clock, self.seq, self.time, dict(self.data)]


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

    @property
    def last(self) -> int:
        """Last value handed out or observed."""
        return self._last
