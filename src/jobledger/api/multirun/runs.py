"""One run of a sweep (:class:`Run`), what its folder records, and :class:`RunStatistics`."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from jobledger.api.multirun.layout import INPUTS_FILE, RESULTS_FILE, STATUS_FILE, ParamMap, RunStatus
from jobledger.model.hashing import canonical_hash
from jobledger.model.job import file_digest
from jobledger.session.results import Result


@attrs.define(eq=False)
class Run:
    """One run of a sweep: its command, folder, state and, once ended, its outcome.

    ``multirun`` returns these records in the order of ``runs``; ``task`` is a future
    that resolves (to the record) when the run ends. ``Run()`` alone is a pending run
    of no command in the current folder, as Karana's defaults have it.
    """

    cmd: list[str] = attrs.field(factory=list)
    cwd: Path = attrs.field(factory=Path, converter=Path)
    status: RunStatus = "pending"
    task: asyncio.Future[Run] | None = None
    index: int | None = None
    params: ParamMap | None = None
    exit_code: int | None = None
    reason: str = ""
    stdout: str = ""
    """Last lines of the run's standard output (once ended)."""
    stderr: str = ""
    """Last lines of the run's standard error (once ended), or why it never ran."""
    job: Result | None = None
    """jobledger's record of the array element that ran it (``None`` when skipped)."""
    _result: Any = attrs.field(default=None, alias="_result")
    _loaded: bool = attrs.field(default=False, alias="_loaded")

    @property
    def run_dir(self) -> Path:
        """The run's folder."""
        return self.cwd

    path = run_dir

    @property
    def ok(self) -> bool:
        """True when the run succeeded now or earlier (``success`` or ``skipped``)."""
        return self.status in ("success", "skipped")

    @property
    def complete(self) -> bool:
        """True when the run will not change any more."""
        return self.status in ("skipped", "success", "failure")

    @property
    def has_result(self) -> bool:
        """True when the run posted a result."""
        return (self.cwd / RESULTS_FILE).exists()

    @property
    def result(self) -> Any:
        """What the run posted with :func:`post_run_results` (``None`` if nothing)."""
        if not self._loaded:
            self._result = _load_result(self.cwd)
            self._loaded = True
        return self._result

    results = result

    def reload(self) -> Run:
        """Forget the cached result (read it again on next access)."""
        self._loaded = False
        self._result = None
        return self

    def __repr__(self) -> str:
        where = self.cwd.name
        extra = f", exit_code={self.exit_code}" if self.exit_code not in (None, 0) else ""
        return f"Run({self.index}, {where!r}, {self.status}{extra})"


def _load_result(run_dir: Path) -> Any:
    try:
        data = (run_dir / RESULTS_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return pickle.loads(data)  # noqa: S301 - posted by the run itself


def _read_status(run_dir: Path) -> int | None:
    """Exit code recorded in the run folder, ``None`` when the command has not ended."""
    try:
        info = json.loads((run_dir / STATUS_FILE).read_text())
        return int(info["exit_code"])
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
        return None


def _succeeded(run_dir: Path, inputs: str | None) -> bool:
    """True when the run in ``run_dir`` ended with exit code 0 on the input files whose
    digest is ``inputs`` (``run_inputs.txt``; a run that recorded none, by an older
    version or a runner of one's own, counts as done)."""
    try:
        info = json.loads((run_dir / STATUS_FILE).read_text())
        if int(info["exit_code"]) != 0:
            return False
    except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
        return False
    try:
        ran_on = (run_dir / INPUTS_FILE).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return True
    return ran_on == inputs


def inputs_digest(resources: Iterable[Any]) -> str:
    """Digest of a sweep's input files: each one's path, linkage, name and content (a
    changed input re-runs the runs, which all use it)."""
    entries = [[str(r.path), r.linkage, str(r.name), file_digest(Path(r.path))] for r in resources]
    return canonical_hash(entries, "multirun inputs")[:16]


@attrs.frozen
class RunStatistics:
    """How many runs are in each state (``complete`` = skipped + success + failure)."""

    skipped_count: int = 0
    pending_count: int = 0
    running_count: int = 0
    success_count: int = 0
    failure_count: int = 0
    complete_count: int = 0
    total_count: int = 0

    @classmethod
    def of(cls, runs: Iterable[Run]) -> RunStatistics:
        """Count the states of ``runs``."""
        counts = dict.fromkeys(("skipped", "pending", "running", "success", "failure"), 0)
        for item in runs:
            counts[item.status] = counts.get(item.status, 0) + 1
        return cls(
            skipped_count=counts["skipped"],
            pending_count=counts["pending"],
            running_count=counts["running"],
            success_count=counts["success"],
            failure_count=counts["failure"],
            complete_count=counts["skipped"] + counts["success"] + counts["failure"],
            total_count=sum(counts.values()),
        )

    def __str__(self) -> str:
        return (
            f"{self.complete_count}/{self.total_count} complete: {self.success_count} success, "
            f"{self.failure_count} failure, {self.skipped_count} skipped, "
            f"{self.running_count} running, {self.pending_count} pending"
        )
