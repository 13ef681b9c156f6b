"""What to do when an attempt fails: retries, backoff and resource escalation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from jobledger.errors import ModelError
from jobledger.model.resources import Resources
from jobledger.states import JobState, parse_state

#: Failures that are not the job's fault: retried by default when ``retries > 0``.
DEFAULT_RETRY_ON = frozenset({JobState.NODE_FAIL, JobState.PREEMPTED, JobState.LOST, JobState.BOOT_FAIL})
#: Resources that ``escalate`` may grow (any spelling :class:`Resources` accepts).
_ESCALABLE = ("memory", "memory_per_cpu", "time", "cpus", "gpus", "nodes")
RETRYABLE = frozenset(
    DEFAULT_RETRY_ON | {JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY, JobState.CANCELLED}
)


def _states(value: Iterable[str | JobState] | None) -> frozenset[JobState]:
    if value is None:
        return DEFAULT_RETRY_ON
    if isinstance(value, (str, JobState)):
        value = [value]
    if not isinstance(value, Iterable):
        raise ModelError(f"retry_on: expected a list of states, got {value!r}")
    states: set[JobState] = set()
    for item in value:
        if not isinstance(item, (str, JobState)):
            raise ModelError(f"retry_on: {item!r} is not a state name")
        try:
            states.add(parse_state(item))
        except ValueError as exc:
            raise ModelError(f"retry_on: {exc}") from None
    bad = states - RETRYABLE
    if bad:
        names = ", ".join(sorted(s.value for s in bad))
        raise ModelError(f"retry_on: cannot retry on {names}")
    return frozenset(states)


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
        if isinstance(value, Mapping):
            unknown = set(value) - {"initial", "factor", "maximum"}
            if unknown:
                raise ModelError(
                    f"backoff: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                    "(use initial, factor, maximum)"
                )
            return cls(**{k: _seconds(v, f"backoff.{k}") for k, v in value.items()})
        if isinstance(value, (tuple, list)) and 1 <= len(value) <= 3:
            names = ("initial", "factor", "maximum")
            return cls(*[_seconds(v, f"backoff.{n}") for n, v in zip(names, value, strict=False)])
        if not isinstance(value, (str, bytes)):
            try:
                return cls(initial=_seconds(value, "backoff"))
            except ModelError:
                pass
        raise ModelError(f"backoff: expected seconds, (initial, factor, maximum) or a dict: {value!r}")


def _seconds(value: Any, field: str) -> float:
    """A non-negative finite number (seconds or a factor)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ModelError(f"{field} must be a number >= 0, got {value!r}")
    return float(value)


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
        if escalate is not None and not isinstance(escalate, Mapping):
            raise ModelError(f"escalate must map resources to factors or functions, got {escalate!r}")
        for name, how in (escalate or {}).items():
            if not isinstance(name, str) or Resources.canonical_name(name) not in _ESCALABLE:
                raise ModelError(f"escalate[{name!r}]: not a numeric resource (use {', '.join(_ESCALABLE)})")
            if not callable(how) and not (
                isinstance(how, (int, float)) and not isinstance(how, bool) and 0 < how < float("inf")
            ):
                raise ModelError(f"escalate[{name!r}] must be a positive factor or a function, got {how!r}")
        return cls(count, _states(retry_on), Backoff.parse(backoff), dict(escalate or {}))

    def should_retry(self, state: JobState, attempt: int) -> bool:
        """True when attempt number ``attempt`` ended in ``state`` and may be retried."""
        return state in self.retry_on and attempt <= self.retries

    def layered_over(self, base: RetryPolicy | None) -> RetryPolicy:
        """This policy where set (non-default), else ``base`` (nearest level wins)."""
        if base is None or self != RetryPolicy():
            return self
        return base
