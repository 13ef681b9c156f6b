"""The scheduler adapter contract: command builders plus pure parsers.

An adapter never runs anything. It renders a batch script, builds argv lists, and turns
command output into :class:`Observation` values. The engine runs the commands on a host
(local or SSH) and decides what to do with what the adapter saw. This keeps every
scheduler's behaviour testable against recorded real output in ``fixtures/``.

Identifiers: ``parse_submit`` returns the scheduler's job id as the engine will track it
(the *base id*). Status parsers key their result by :func:`element_key` — the base id for
a plain job, ``"<base>[<index>]"`` for one element of an array — whatever the scheduler's
own spelling (SLURM ``123_4``, SGE task 4 of job 123, PBS ``123[4].server``, LSF
``123[4]``).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping, Sequence
from importlib import resources as _resources
from typing import ClassVar

import attrs

from jobledger.errors import SchedulerError, SubmitError, UnsupportedResource
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.states import JobState

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def element_key(base_id: str, index: int | None) -> str:
    """Engine-side key of a job (``index is None``) or of one array element."""
    return base_id if index is None else f"{base_id}[{index}]"


_ELEMENT = re.compile(r"(.+)\[(\d+)\]")


def split_element_key(key: str) -> tuple[str, int | None]:
    """Inverse of :func:`element_key`: ``"123[4]"`` -> ``("123", 4)``, ``"123"`` ->
    ``("123", None)`` (a PBS array id ``123[].srv`` is a base id)."""
    m = _ELEMENT.fullmatch(key)
    return (key, None) if m is None else (m.group(1), int(m.group(2)))


@attrs.frozen
class NativeDependency:
    """An upstream already known to the same scheduler: its base id and the kind."""

    scheduler_id: str
    kind: str = "afterok"  # afterok | afterany | afternotok


@attrs.frozen
class BatchSpec:
    """Everything needed to render one batch script (for one job or one array)."""

    job_name: str
    """Scheduler-visible name (already safe: ``[A-Za-z0-9._-]``)."""
    comment: str
    """Tag carrying the job key and attempt (``jl:<key>:<attempt>``), used to find the
    job again after a crash. Adapters put it where their status query shows it."""
    run_dir: str
    """Absolute run directory on the target host; the scheduler's own log goes here."""
    workdir: str
    """Absolute working directory the job starts in."""
    body: str
    """The job wrapper (shell), already quoted; pasted after the setup lines."""
    resources: Resources = Resources()
    array: ArraySpec | None = None
    dependencies: tuple[NativeDependency, ...] = ()
    setup: tuple[str, ...] = ()
    """Lines run before the body (``module load x``, ``export A=b``); from config."""
    raw_args: tuple[str, ...] = ()
    """Extra directives for this scheduler only (``slurm_args=``), passed unchanged."""


@attrs.frozen
class Observation:
    """What a status or accounting query said about one job or array element."""

    key: str
    """:func:`element_key` of the base id and array index."""
    state: JobState
    native: str = ""
    """The scheduler's own state text (``PENDING``, ``r``, ``Q``, ``PEND`` ...)."""
    reason: str = ""
    """Why it waits or why it ended (``Dependency``, ``DependencyNeverSatisfied`` ...)."""
    exit_code: int | None = None
    signal: int | None = None
    name: str = ""
    comment: str = ""
    base_id: str = ""
    array_index: int | None = None
    started: float | None = None
    """Epoch seconds, when the scheduler reports it."""
    ended: float | None = None


@attrs.frozen
class Template:
    """The batch script skeleton: ``header`` (shebang), directives, setup, body, epilogue."""

    header: str = "#!/bin/bash"
    epilogue: str = ""

    def render(self, directives: Sequence[str], setup: Sequence[str], body: str) -> str:
        """Assemble the script text (always ends with a newline).

        The epilogue runs when the script exits (an ``EXIT`` trap set before the body),
        whatever the body's exit code, which it leaves unchanged.
        """
        parts = [self.header.rstrip("\n"), *directives]
        if setup:
            parts.append("")
            parts.extend(setup)
        if self.epilogue:
            parts += ["", "jl_epilogue() {", self.epilogue.rstrip("\n"), "}", "trap jl_epilogue EXIT"]
        parts.append("")
        parts.append(body.rstrip("\n"))
        return "\n".join(parts) + "\n"


def default_template(name: str) -> Template:
    """The packaged default template ``templates/<name>.sh``: its first line is the header;
    a line ``@@BODY@@`` separates an optional epilogue."""
    text = _resources.files("jobledger.schedulers").joinpath(f"templates/{name}.sh").read_text()
    head, _, tail = text.partition("@@BODY@@\n")
    return Template(header=head.rstrip("\n"), epilogue=tail)


class SchedulerAdapter(abc.ABC):
    """Command builders and pure parsers for one batch system."""

    name: ClassVar[str]
    """Registry name: ``slurm``, ``sge``, ``pbs``, ``lsf``."""
    submit_uses_stdin: ClassVar[bool] = False
    """True when :meth:`submit_argv` expects the script on standard input (``bsub <``)."""
    native_kinds: ClassVar[frozenset[str]] = frozenset({"afterok", "afterany", "afternotok"})
    """Dependency kinds the scheduler itself enforces; the engine waits for the others."""
    array_base: ClassVar[int] = 0
    """Smallest array index the scheduler accepts; arrays starting lower are shifted by the
    engine (and the wrapper shifts back), so users keep their indices."""
    array_env: ClassVar[str] = ""
    """The variable holding an array element's task id in the job's environment."""
    element_dependencies: ClassVar[bool] = False
    """True when a job may wait for one element of an array (SLURM ``afterok:123_4``)."""
    default_pack_limit: ClassVar[int] = 1000
    """Most same-shape jobs put in one array submission (within every scheduler's default
    array size limit: SLURM ``MaxArraySize`` 1001, LSF ``MAX_JOB_ARRAY_SIZE`` 1000)."""

    def __init__(self, template: Template | None = None, *, pack_limit: int | str | None = None) -> None:
        self.template = template or default_template(self.name)
        limit = self.default_pack_limit if pack_limit is None else pack_limit
        if isinstance(limit, str) and limit.strip().isdigit():  # from jobledger.toml: pack_limit = "0"
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(
                f"pack_limit must be a whole number >= 0 (0 or 1: every job submitted alone), got {limit!r}"
            )
        self.pack_limit = limit
        """Most same-shape jobs in one array submission (``[schedulers.NAME] pack_limit``)."""

    # ------------------------------------------------------------------ scripts
    @abc.abstractmethod
    def directives(self, spec: BatchSpec) -> list[str]:
        """Header lines (``#SBATCH ...``) for ``spec``; unsupported keywords raise
        :class:`~jobledger.errors.UnsupportedResource` naming keyword and scheduler."""

    def render_script(self, spec: BatchSpec) -> str:
        """The whole batch script for ``spec``.

        A directive line holding a newline (or any control character) is refused: the
        rest of it would be a shell command of the script.
        """
        directives = self.directives(spec)
        for line in directives:
            bad = _CONTROL.search(line)
            if bad is not None:
                what = "a newline" if bad.group() in "\r\n" else f"the control character {bad.group()!r}"
                raise UnsupportedResource(
                    f"{self.name}: the directive {line!r} holds {what}; a value in it cannot be "
                    "put on one directive line"
                )
        return self.template.render(directives, spec.setup, spec.body)

    # ------------------------------------------------------------------ submission
    @abc.abstractmethod
    def submit_argv(self, script_path: str) -> list[str]:
        """Argv that submits the script at ``script_path`` (on the target host)."""

    @abc.abstractmethod
    def parse_submit(self, returncode: int, stdout: str, stderr: str) -> str:
        """Base id of the new job; raises :class:`~jobledger.errors.SubmitError` with
        ``transient`` set when the failure is worth retrying."""

    # ------------------------------------------------------------------ observation
    @abc.abstractmethod
    def status_argv(self, user: str | None, ids: Sequence[str]) -> list[str]:
        """One command that lists every job of ``ids`` (and may list more)."""

    @abc.abstractmethod
    def parse_status(self, stdout: str) -> dict[str, Observation]:
        """Observations keyed by :func:`element_key`."""

    def accounting_argv(self, ids: Sequence[str]) -> list[str] | None:
        """A command giving final states and exit codes of finished jobs, if any."""
        return None

    def parse_accounting(self, stdout: str) -> dict[str, Observation]:
        """Observations from :meth:`accounting_argv` output."""
        return {}

    def detail_argv(self, job_id: str) -> list[str] | None:
        """A per-job query for jobs gone from the status listing and from accounting
        (SLURM's ``scontrol show job``); ``None`` when there is none."""
        return None

    def parse_detail(self, stdout: str) -> dict[str, Observation]:
        """Observations from :meth:`detail_argv` output."""
        return {}

    def lookup_argv(self, user: str | None, job_name: str) -> list[str]:
        """A command listing jobs named ``job_name`` (to reconcile an unanswered submit)."""
        return self.status_argv(user, ())

    # ------------------------------------------------------------------ cancellation
    @abc.abstractmethod
    def cancel_argv(self, ids: Sequence[str]) -> list[str]:
        """Argv that cancels the given base ids (whole arrays) or element keys."""

    def parse_cancel(self, returncode: int, stdout: str, stderr: str) -> None:
        """Raise :class:`~jobledger.errors.SchedulerError` unless the cancel worked or the
        job had already ended (adapters recognise their scheduler's "already ended")."""
        if returncode != 0:
            text = (stderr.strip() or stdout.strip() or f"exit code {returncode}").strip()
            raise SchedulerError(f"{self.name}: cancel failed: {text}")

    # ------------------------------------------------------------------ misc
    @abc.abstractmethod
    def version_argv(self) -> list[str]:
        """A command printing the scheduler's version (for ``hosts check``)."""

    def is_transient(self, text: str) -> bool:
        """True when an error message means "try again later"."""
        lowered = text.lower()
        return any(marker in lowered for marker in _TRANSIENT_MARKERS)

    def submit_error(self, returncode: int, stdout: str, stderr: str) -> SubmitError:
        """A :class:`~jobledger.errors.SubmitError` quoting the scheduler's message."""
        text = (stderr.strip() or stdout.strip() or f"exit code {returncode}").strip()
        return SubmitError(f"{self.name} rejected the submission: {text}", transient=self.is_transient(text))


_TRANSIENT_MARKERS = (
    "socket timed out",
    "unable to contact slurm controller",
    "resource temporarily unavailable",
    "slurm_persist_conn_open_without_init",
    "connection refused",
    "connection timed out",
    "try again",
    "temporarily",
    "unable to contact qmaster",
    "unable to send message to qmaster",
    "cannot connect to server",
    "lsf is down",
    "batch system not responding",
    "communication failure",
    "pbs_connect",
)

#: Exit codes of signals by number, for adapters and the wrapper.
SIGNAL_EXIT_OFFSET = 128


def state_from_map(native: str, table: Mapping[str, JobState], default: JobState) -> JobState:
    """Look ``native`` up in an adapter's state table (case-insensitive)."""
    return table.get(native.strip().upper(), default)
