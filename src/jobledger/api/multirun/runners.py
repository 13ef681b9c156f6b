"""The runner protocol Karana's multirun defines: :class:`AbstractRunner`, and the name of
the jobledger workflow that holds a sweep (the runners themselves: :mod:`.cluster`)."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobledger.api.driving import notify
from jobledger.api.multirun.runs import Run, RunStatistics
from jobledger.model.hashing import canonical_hash
from jobledger.model.job import Job
from jobledger.model.names import safe_name


class AbstractRunner(abc.ABC):
    """What :func:`multirun` needs from a runner: ``add`` runs, then ``await gather()``.

    ``runs`` holds this runner's current sweep; :func:`multirun` starts a new one each
    call (the runner is reusable; statistics describe its latest sweep).
    """

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._active = 0

    @abc.abstractmethod
    def add(self, cmd: list[str], cwd: Path = Path()) -> Run:
        """Add a run of ``cmd`` in folder ``cwd``; returns its (pending) record."""

    @abc.abstractmethod
    async def gather(self) -> None:
        """Execute every pending run and wait until all are complete."""

    def skip(self, cmd: list[str], cwd: Path) -> Run:
        """Record a run that will not execute (its result already exists)."""
        record = Run(list(cmd), Path(cwd), status="skipped")
        self.runs.append(record)
        return record

    def reset(self) -> None:
        """Start a new sweep: forget the runs of the previous one."""
        self.runs = []

    def compute_statistics(self) -> RunStatistics:
        """Counts of this runner's runs in each state."""
        return RunStatistics.of(self.runs)

    computeStatistics = compute_statistics  # noqa: N815 - Karana's spelling

    @property
    def active(self) -> bool:
        """True while a sweep is being prepared or executed."""
        return getattr(self, "_active", 0) > 0

    def _changed(self) -> None:
        """Wake whoever awaits :meth:`changed` (any thread may call this)."""
        for loop, event in list(getattr(self, "_watchers", ())):
            notify(loop, event.set)

    async def changed(self, timeout: float | None = None) -> bool:
        """Wait until a run of this runner changes state (or ``timeout``); True if one did."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        if not hasattr(self, "_watchers"):
            self._watchers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._watchers.append((loop, event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._watchers.remove((loop, event))


def sweep_workflow_name(output_path: Path) -> str:
    """Name of the jobledger workflow that runs the sweep of folder ``output_path``."""
    digest = canonical_hash(str(output_path))[:6]
    return f"multirun-{safe_name(output_path.name, 40)}-{digest}"


def _validate_job_options(host: str, options: Mapping[str, Any]) -> None:
    Job(command="true", name="multirun-check", host=host, **options)
