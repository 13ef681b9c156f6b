"""What to do when an attempt fails: retries, backoff and resource escalation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from jobledger.errors import ModelError
from jobledger.states import JobState, parse_state

#: Failures that are not the job's fault: retried by default when ``retries > 0``.
DEFAULT_RETRY_ON = frozenset({JobState.NODE_FAIL, JobState.PREEMPTED, JobState.LOST, JobState.BOOT_FAIL})
RETRYABLE = frozenset(
    DEFAULT_RETRY_ON | {JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY, JobState.CANCELLED}
)


def _states(value: Iterable[str | JobState] | None) -> frozenset[JobState]:
    if value is None:
        return DEFAULT_RETRY_ON
    if isinstance(value, (str, JobState)):
        value = [value]
    states = frozenset(parse_state(v) for v in value)
    bad = states - RETRYABLE
    if bad:
        names = ", ".join(sorted(s.value for s in bad))
        raise ModelError(f"retry_on: cannot retry on {names}")
    return states


@attrs.frozen
class Backoff:
    """Delay before attempt ``n+1``: ``min(maximum, initial * factor ** (n - 1))`` seconds."""

    initial: float = 0.0
    factor: float = 2.0
    maximum: float = 600.0

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` failed."""
        if self.initial <= 0:
            return 0.0
        return float(min(self.maximum, self.initial * self.factor ** (failed_attempt - 1)))

    @classmethod
    def parse(cls, value: Any) -> Backoff:
        """From a Backoff, a number (initial), a ``(initial, factor, maximum)`` tuple or a dict."""
        if value is None:
            return cls()
        if isinstance(value, Backoff):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(initial=float(value))
        if isinstance(value, Mapping):
            return cls(**{k: float(v) for k, v in value.items()})
        if isinstance(value, (tuple, list)) and 1 <= len(value) <= 3:
            return cls(*[float(v) for v in value])
        raise ModelError(f"backoff: expected seconds, (initial, factor, maximum) or a dict: {value!r}")


@attrs.frozen
class RetryPolicy:
    """``retries`` further attempts on the states in ``retry_on``, spaced by ``backoff``.

    ``escalate`` maps a resource to a multiplier per attempt (``{"memory": 2.0}``) or to
    a function of the attempt number (``{"memory": lambda n: f"{4 * n}G"}``).
    """

    retries: int = 0
    retry_on: frozenset[JobState] = DEFAULT_RETRY_ON
    backoff: Backoff = Backoff()
    escalate: Mapping[str, float | Callable[[int], Any]] = attrs.field(factory=dict)

    @classmethod
    def build(
        cls,
        retries: int | None = None,
        retry_on: Iterable[str | JobState] | None = None,
        backoff: Any = None,
        escalate: Mapping[str, Any] | None = None,
    ) -> RetryPolicy:
        """Validate and build from user keywords."""
        count = 0 if retries is None else retries
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ModelError(f"retries must be a whole number >= 0, got {retries!r}")
        for name, how in (escalate or {}).items():
            if not callable(how) and not (isinstance(how, (int, float)) and how > 0):
                raise ModelError(f"escalate[{name!r}] must be a positive factor or a function")
        return cls(count, _states(retry_on), Backoff.parse(backoff), dict(escalate or {}))

    def should_retry(self, state: JobState, attempt: int) -> bool:
        """True when attempt number ``attempt`` ended in ``state`` and may be retried."""
        return state in self.retry_on and attempt <= self.retries

    def layered_over(self, base: RetryPolicy | None) -> RetryPolicy:
        """This policy where set (non-default), else ``base`` (nearest level wins)."""
        if base is None or self != RetryPolicy():
            return self
        return base
