"""What a :class:`~jobledger.model.job.Job` is known and shown by, derived from its
fields: its command line, its file-safe name, its definition and content key (cached on
the job) and its reprs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from jobledger.model.job_key import content_key, definition_tree, key_of
from jobledger.model.names import safe_name
from jobledger.model.resources import Resources
from jobledger.model.task import Task

if TYPE_CHECKING:
    from jobledger.model.job import Dependency, Job


class JobIdentity:
    """The part of :class:`~jobledger.model.job.Job` derived from its fields (which
    :class:`~jobledger.model.job.Job` holds, checks and copies)."""

    name: str
    tasks: tuple[Task, ...]
    resources: Resources
    host: str
    depends: tuple[Dependency, ...]

    @property
    def command(self) -> str:
        """The tasks as one human-readable line."""
        tasks = self.tasks
        return tasks[0].label if len(tasks) == 1 else " && ".join([t.label for t in tasks])

    # ---------------------------------------------------------------- identity
    @property
    def safe_name(self) -> str:
        """File-system-safe name used for the run directory and scheduler job name."""
        return safe_name(self.name)

    def definition(self, input_hashes: Mapping[str, str] | None = None) -> Any:
        """Canonical tree of everything that makes this job's work what it is.

        Excludes what does not change the result: host, memory, time, partition, account,
        qos, postconditions and retry policy.
        """
        return definition_tree(cast("Job", self), input_hashes)

    def compute_key(
        self,
        upstream: Sequence[tuple[str, str]],
        input_hashes: Mapping[str, str] | None = None,
    ) -> str:
        """Key from this definition plus ``(upstream_key, kind)`` pairs (sorted)."""
        return content_key(cast("Job", self), [list(u) for u in upstream], input_hashes)

    @property
    def key(self) -> str:
        """Stable content key (needs upstream Jobs as objects, not names).

        Computed without recursion (a 100,000-deep chain is fine); upstream keys are
        cached on their jobs on the way.
        """
        cached: str | None = self.__dict__.get("_key")
        return cached if cached is not None else key_of(cast("Job", self))

    def _forget_key(self) -> None:
        self.__dict__.pop("_key", None)
        self.__dict__.pop("_afterok", None)  # a copy's would name the original

    def __repr__(self) -> str:
        deps = ", ".join(d.name for d in self.depends)
        return f"Job(name={self.name!r}, command={self.command!r}, host={self.host!r}" + (
            f", after=[{deps}])" if deps else ")"
        )

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<b>Job</b> {escape(self.name)}: <code>{escape(self.command)}</code> "
            f"on {escape(self.host)} ({escape(self.resources.describe())})"
        )
