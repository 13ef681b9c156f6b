"""The exceptions jobledger raises.

Every error is a :class:`JobledgerError`; catch that to catch them all::

    JobledgerError
    ├── ModelError                 a job, task, resource or workflow definition is wrong
    │   ├── ResourceError          a resource value cannot be parsed (names field and value)
    │   ├── CycleError             the workflow has a cycle (names it: a -> b -> a)
    │   ├── DuplicateJobError      two jobs share a name
    │   ├── UnknownDependencyError a job depends on a job that is not in the workflow
    │   └── HashingError           a value cannot be encoded canonically for the job key
    ├── LedgerError                the event log cannot be read or written
    │   └── CorruptRecordError     a record fails its digest (names file and offset)
    ├── ProjectError               no project found, or a project directory is malformed
    ├── ConfigError                jobledger.toml is wrong (names file, table and key)
    │   └── ExtendsCycle           configuration files extend each other in a circle
    ├── LockError                  another driver holds the workflow (names pid, host, since)
    ├── HostError                  a host cannot be reached or a command on it failed
    │   ├── ConnectionFailed       SSH could not connect (auth, host key, unreachable)
    │   └── CommandFailed          a command ran and failed (argv, exit code, output, host)
    ├── SchedulerError             a scheduler refused or failed an action
    │   ├── SubmitError            submission failed; ``transient`` says whether to retry
    │   └── UnsupportedResource    a keyword the scheduler cannot express
    ├── JobFailedError             a job the caller waited for did not complete
    │   └── WorkflowFailed         jobs of a run failed (carries every result, names them)
    ├── WaitTimeout                ``wait(timeout=)`` ran out (names what is unfinished, why)
    ├── RemoteError                a job's Python call raised what cannot be rebuilt here
    └── RemoteTraceback            the traceback of a job's Python call (an exception's cause)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class JobledgerError(Exception):
    """Base class of every error raised by jobledger."""


class ModelError(JobledgerError):
    """A job, task, resource or workflow definition is invalid."""


class ResourceError(ModelError, ValueError):
    """A resource value cannot be understood.

    The message names the field and the offending value, e.g. ``memory='lots'``.
    """

    def __init__(self, field: str, value: object, reason: str = "", context: str = "") -> None:
        self.field = field
        self.value = value
        self.reason = reason
        msg = f"invalid resource {field}={value!r}"
        if reason:
            msg += f": {reason}"
        if context:
            msg = f"{context}: {msg}"
        super().__init__(msg)


class CycleError(ModelError):
    """The workflow graph contains a cycle; ``cycle`` lists the job names in order."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class DuplicateJobError(ModelError):
    """Two different jobs in one workflow share a name."""


class UnknownDependencyError(ModelError):
    """A job depends on a job that is not part of the workflow."""


class HashingError(ModelError, TypeError):
    """A value cannot be encoded canonically, so no stable job key can be computed."""


class LedgerError(JobledgerError):
    """The event log cannot be read or written."""


class CorruptRecordError(LedgerError):
    """A ledger record fails its digest check or framing."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: damaged record at byte {offset}: {reason}")


class ProjectError(JobledgerError):
    """No project directory was found, or it is malformed."""


class ConfigError(JobledgerError):
    """A configuration file is invalid; the message names the file, table and key."""


class ExtendsCycle(ConfigError, ValueError):
    """Configuration files that ``extends`` each other in a circle (names the chain)."""


class LockError(JobledgerError):
    """Another live driver holds the workflow's driver lock."""

    def __init__(self, message: str, holder: dict[str, object] | None = None) -> None:
        self.holder = holder or {}
        super().__init__(message)


class HostError(JobledgerError):
    """A host cannot be used; ``host`` is its alias."""

    def __init__(self, message: str, host: str = "") -> None:
        self.host = host
        super().__init__(message)


class ConnectionFailed(HostError):
    """An SSH connection could not be established."""


class CommandFailed(HostError):
    """A command ran on a host and failed."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stdout: str,
        stderr: str,
        host: str = "local",
        message: str = "",
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.strip() or stdout.strip()
        text = message or (
            f"on host {host!r}: {' '.join(self.argv)!s} exited with {returncode}"
            + (f": {detail[-500:]}" if detail else "")
        )
        super().__init__(text, host)


class SchedulerError(JobledgerError):
    """A scheduler refused or failed an action."""


class SubmitError(SchedulerError):
    """A submission failed.

    ``transient`` is true for failures worth retrying (controller timeouts, busy
    daemons); false for rejections (invalid partition, limits exceeded).
    """

    def __init__(self, message: str, *, transient: bool = False, job: str = "") -> None:
        self.transient = transient
        self.job = job
        super().__init__(message)


class UnsupportedResource(SchedulerError, ModelError):
    """A resource keyword cannot be expressed by a scheduler (names both)."""


class JobFailedError(JobledgerError):
    """A job the caller depended on ended in a state other than completed."""


class WorkflowFailed(JobFailedError):
    """Jobs of a run ended in a state other than completed.

    ``results`` maps every job's name to its result; ``failed`` lists the names of those
    that did not complete. Pass ``check=False`` to get the results without this error.
    """

    def __init__(self, message: str, results: Mapping[str, Any], failed: Sequence[str]) -> None:
        self.results = dict(results)
        self.failed = list(failed)
        super().__init__(message)


class WaitTimeout(JobledgerError, TimeoutError):
    """``wait(timeout=)`` ran out before every job was final; ``unfinished`` names them."""

    def __init__(self, message: str, unfinished: Sequence[str] = ()) -> None:
        self.unfinished = list(unfinished)
        super().__init__(message)


class RemoteError(JobledgerError):
    """A job's Python call raised an exception that cannot be rebuilt in this process.

    ``type_name``, ``message`` and ``remote_traceback`` describe it.
    """

    def __init__(self, job: str, type_name: str, message: str, remote_traceback: str = "") -> None:
        self.job = job
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback
        super().__init__(f"job {job!r} raised {type_name}: {message}")


class RemoteTraceback(JobledgerError):
    """The traceback of a job's Python call, as text; set as the ``__cause__`` of the
    exception :attr:`~jobledger.Result.value` re-raises, so it is printed with it."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'
