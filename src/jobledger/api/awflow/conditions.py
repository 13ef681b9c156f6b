"""awflow's pre- and postconditions: how they are called, and the job function they guard
(written line by line, so its output can be shown while it runs)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def _takes_argument(condition: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(condition).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _holds(condition: Callable[..., Any], index: int | None) -> bool:
    return bool(condition(index) if _takes_argument(condition) else condition())


def _per_index(condition: Callable[..., Any], is_array: bool) -> Callable[..., Any]:
    """A postcondition as the engine calls it (one argument only for array jobs)."""
    if not is_array and _takes_argument(condition):
        return functools.partial(condition, None)
    return condition


def _guarded(
    fn: Callable[..., Any],
    name: str,
    pre: tuple[Callable[..., Any], ...],
    post: tuple[Callable[..., Any], ...],
) -> Callable[..., Any]:
    """``fn`` with awflow's checks; self-contained so it runs where jobledger is absent."""

    def awflow_job(*args: Any) -> Any:
        import inspect as _inspect

        def holds(condition: Callable[..., Any]) -> bool:
            try:
                wants = len(_inspect.signature(condition).parameters) >= 1
            except (TypeError, ValueError):
                wants = False
            return bool(condition(args[0] if args else None) if wants else condition())

        for condition in pre:
            if not holds(condition):
                raise AssertionError(f"job {name} does not satisfy its precondition")
        value = fn(*args)
        for condition in post:
            if not holds(condition):
                raise AssertionError(f"job {name} does not satisfy its postcondition")
        return value

    awflow_job.__wrapped__ = fn  # type: ignore[attr-defined]
    # Job keys hash a callable's module: keep the one this wrapper had before the split.
    awflow_job.__module__ = "jobledger.api.awflow"
    return awflow_job


def _line_buffered(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` writing its standard output and error line by line (a job's stdout is a
    file, which Python would buffer until the job ends); self-contained, like
    :func:`_guarded`."""

    def awflow_live(*args: Any) -> Any:
        import sys as _sys

        for stream in (_sys.stdout, _sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True)
        return fn(*args)

    awflow_live.__wrapped__ = fn  # type: ignore[attr-defined]
    awflow_live.__module__ = "jobledger.api.awflow"
    return awflow_live
