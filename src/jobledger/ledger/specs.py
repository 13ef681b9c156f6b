"""What a job *is*, as fixed in the ledger when its workflow is defined.

A :class:`JobSpec` holds everything any later process needs to submit, retry, observe and
bring home a job without the Python objects that defined it: its key, the resolved host,
the absolute working directory, the hashes of its inputs, its tasks (shell lines, argv
lists, or the name of the pickled call in its run directory), the resources of every
attempt and the retry policy. ``jobledger wait``/``resume``, a second script and a
re-run all act on this record and never re-derive it in their own context.

The classes are frozen plain data (strings, numbers, lists, dicts) so that the codec stores
them as msgpack maps. Definitions written by older versions lack ``tasks``: such a job can
be observed and reported, and is submitted only after its script defines it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

#: ``JobSpec.stderr`` when stderr goes into the stdout file (hpc-runner's ``stderr=None``).
MERGED = "<merged>"


_new = object.__new__
_set = object.__setattr__


def sparse(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of a frozen plain-data class holding ``fields`` as its ``__dict__``,
    without ``__init__`` (the class's defaults fill the rest; see
    :func:`with_class_defaults`). Fields equal to their default are dropped, so the
    instance is as sparse as its stored form. For building many specs fast."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = {a.name: getattr(cls, a.name, attrs.NOTHING) for a in attrs.fields(cls)}  # type: ignore[arg-type]
    get = defaults.get
    held = {k: v for k, v in fields.items() if (d := get(k)) is not v and v != d}
    obj = _new(cls)
    _set(obj, "__dict__", held)
    return obj


_DEFAULTS: dict[type[Any], dict[str, Any]] = {}


def with_class_defaults(cls: type[T]) -> type[T]:
    """Set each field's default as a class attribute too.

    The codec builds instances cheaply by giving them the stored (non-default) fields as
    their ``__dict__``; the fields they do not hold then read the class's defaults.
    """
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            setattr(cls, field.name, default.factory())  # an empty container, never mutated
        elif default is not attrs.NOTHING:
            setattr(cls, field.name, default)
    return cls


@with_class_defaults
@attrs.frozen(slots=False)
class TaskSpec:
    """One task of a job: ``kind`` is ``"shell"``, ``"argv"`` or ``"python"``."""

    kind: str
    shell: str | None = None
    argv: Sequence[str] | None = None
    payload: str | None = None
    """Python tasks: the pickle's file name in the job's run directory (``task-N.pkl``)."""
    env: Mapping[str, str] = attrs.field(factory=dict)
    cwd: str | None = None
    pass_index: bool = False


@with_class_defaults
@attrs.frozen(slots=False)
class JobSpec:
    """One job of a workflow definition (see the module docstring)."""

    key: str
    name: str
    run_dir: str
    """Project-relative run directory (``jobs/<name>-<key8>``)."""
    host: str = "local"
    """The resolved host alias (after a run's ``host=`` override)."""
    after: Sequence[Sequence[str]] = ()
    """``[upstream key, kind]`` pairs."""
    waitfor: str = "all"
    array: Sequence[int] | None = None
    max_concurrent: int | None = None
    command: str = ""
    """The tasks as one human-readable line (display only)."""
    python: bool = False
    """True when a task is a Python call (its result is read back)."""
    tasks: Sequence[TaskSpec] | None = None
    """``None`` in definitions written by older versions (not submittable from the ledger)."""
    workdir: str | None = None
    """Absolute on this machine for local hosts; as given (or ``None``) for remote ones."""
    local_dir: str | None = None
    """The directory the job was defined in: remote outputs come home here."""
    env: Mapping[str, str] = attrs.field(factory=dict)
    modules: Sequence[str] = ()
    setup: Sequence[str] = ()
    stdout: str | None = None
    """Path of stdout, relative to the working directory or absolute (default: ``stdout``
    in the unit directory)."""
    stderr: str | None = None
    """Path of stderr as for ``stdout``, :data:`MERGED`, or ``None`` for the unit's own."""
    interpreter: str | None = None
    """Python executable for Python tasks (``None``: the host's or this one's)."""
    inputs: Mapping[str, str] = attrs.field(factory=dict)
    """Declared input files and their content hashes at definition time."""
    outputs: Sequence[str] = ()
    resources: Mapping[str, Any] = attrs.field(factory=dict)
    """The first attempt's resources (the fields set, as plain data)."""
    escalated: Sequence[Mapping[str, Any]] = ()
    """Resources of attempts 2, 3, ... when the retry policy escalates them."""
    retries: int = 0
    retry_on: Sequence[str] = ()
    backoff: Sequence[float] = ()
    """``[initial, factor, maximum]`` seconds (empty: no delay)."""
    scheduler_args: Mapping[str, Sequence[str]] = attrs.field(factory=dict)

    @property
    def submittable(self) -> bool:
        """True when the ledger holds enough to submit this job (see the module docstring)."""
        return self.tasks is not None

    def resources_for(self, attempt: int) -> Mapping[str, Any]:
        """Resources of attempt number ``attempt`` (escalated ones from attempt 2 on)."""
        if attempt <= 1 or not self.escalated:
            return self.resources
        index = min(attempt - 2, len(self.escalated) - 1)
        return self.escalated[index]

    def retry_delay(self, failed_attempt: int) -> float:
        """Seconds to wait before the attempt after ``failed_attempt``."""
        if not self.backoff or self.backoff[0] <= 0:
            return 0.0
        initial, factor, maximum = [*self.backoff, 2.0, 600.0][:3]
        return float(min(maximum, initial * factor ** (failed_attempt - 1)))

    def may_retry(self, state: str, attempt: int) -> bool:
        """True when attempt ``attempt`` ending in ``state`` gets another one."""
        return attempt <= self.retries and state in self.retry_on
