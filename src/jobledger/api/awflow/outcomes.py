"""What :func:`schedule` returns for jobs that ran: their values, or the exceptions they
raised rebuilt here, and the exceptions of awflow's own."""

from __future__ import annotations

import builtins
from typing import Any

from jobledger.api.awflow.node import AwflowJob
from jobledger.errors import JobFailedError
from jobledger.session.results import Result
from jobledger.states import JobState


class DependencyNeverSatisfiedException(JobFailedError):  # awflow spells it so
    """A scheduled job never ran because a dependency did not end as required.

    ``results`` holds what :func:`schedule` would have returned for every job.
    """

    def __init__(self, message: str, results: list[Any] | None = None) -> None:
        super().__init__(message)
        self.results = results or []


class JobException(JobFailedError):
    """A job's function raised an exception whose type is not a builtin one.

    ``type_name``, ``message`` and ``remote_traceback`` describe the original exception
    (it was raised in another process, so only its description comes back).
    """

    def __init__(self, job: str, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"job {job!r} raised {type_name}: {message}")
        self.job = job
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback


def _outcomes(targets: list[AwflowJob], names: dict[AwflowJob, str], results: dict[str, Result]) -> list[Any]:
    values: list[Any] = []
    never: list[str] = []
    for node in targets:
        result = results[names[node]]
        if result.state is JobState.DEPENDENCY_FAILED:
            never.append(f"{names[node]} ({result.reason or 'a dependency did not end as required'})")
            values.append(DependencyNeverSatisfiedException(f"aborting job {names[node]}"))
        else:
            values.append(outcome(result))
    if never:
        raise DependencyNeverSatisfiedException("aborting job(s) " + ", ".join(never), values)
    return values


def outcome(result: Result) -> Any:
    """What awflow returns for a finished job: its value(s), or the exception it raised."""
    if result.elements:
        values = []
        for element in result.elements:
            if not element.ok:
                return exception_of(element)
            values.append(element.value)
        return values
    if result.ok:
        return result.value
    return exception_of(result)


def exception_of(result: Result) -> BaseException:
    """Rebuild the exception a failed job (or element) raised, as far as possible.

    Builtin exception types come back as themselves (``ValueError('boom')``) with the
    job's traceback in ``remote_traceback``; other types as :class:`JobException`;
    jobs that failed without a Python exception as :class:`JobFailedError`.
    """
    error = result.error or {}
    type_name = str(error.get("type") or "")
    message = str(error.get("message") or "")
    trace = str(error.get("traceback") or "")
    if not type_name:
        detail = f": {result.reason}" if result.reason else ""
        return JobFailedError(f"job {result.name!r} ended {result.state.value}{detail}")
    cls = getattr(builtins, type_name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            exc: BaseException = cls(message)
        except Exception:  # exotic constructors: fall back below
            return JobException(result.name, type_name, message, trace)
        exc.remote_traceback = trace  # type: ignore[attr-defined]
        exc.job = result.name  # type: ignore[attr-defined]
        if trace and hasattr(exc, "add_note"):
            exc.add_note(f"raised in job {result.name!r}:\n{trace.rstrip()}")
        return exc
    return JobException(result.name, type_name, message, trace)
