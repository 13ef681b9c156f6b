"""The local backend: jobs as detached process groups on this machine.

Submitting writes the attempt's ``job.sh`` and queues its units in
:class:`~jobledger.engine.local.LocalProcesses`, which starts them while the CPU budget
allows (:meth:`LocalBackend.tick`). Completion comes from the markers the wrappers touch
and, as a fallback, from looking at the units' processes. When a Python call ends, its
result (or error) is read from the unit directory and returned with the final update.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.config import HostConfig
from jobledger.engine.backend import Prepared
from jobledger.engine.direct import DirectStart, direct_start
from jobledger.engine.local import LocalProcesses
from jobledger.engine.local_units import SCRIPT
from jobledger.engine.planner import HostView
from jobledger.engine.scripts import wrapper_spec
from jobledger.engine.types import Submission, SubmitOutcome, Unit, Update
from jobledger.engine.wrapper import render_wrapper
from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec
from jobledger.project import writing

#: Scheduler id recorded for local attempts.
LOCAL_ID = "local"


class LocalBackend:
    """Runs attempts as detached processes on this machine (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        host: HostConfig,
        markers_dir: Path,
        max_parallel: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.alias = host.name
        self.root = root
        self.host = host
        self.markers_dir = markers_dir
        self.processes = LocalProcesses(root, host.name, max_parallel or host.max_parallel, on_start)
        self._python: dict[tuple[str, int], str] = {}
        """(key, attempt) of Python-call attempts -> attempt directory."""
        self._limits: dict[tuple[str, int], int] = {}
        self._direct: dict[tuple[str, int], DirectStart] = {}
        """(key, attempt) of prepared attempts whose task can start without a shell."""

    # ------------------------------------------------------------------ protocol
    def view(self) -> HostView:
        """The local host enforces no dependencies; its budget is its own affair."""
        return HostView(self.alias)

    def prepare(self, subs: Sequence[Submission], staged: dict[str, str]) -> list[Prepared]:
        """Write each attempt's ``job.sh`` (its Python pickles are in its run directory)."""
        out = []
        for sub in subs:
            path = self.root / sub.attempt_dir
            spec = wrapper_spec(sub, self.host, str(self.root), str(self.markers_dir))
            with writing(path, "run directory"):
                path.mkdir(parents=True, exist_ok=True)
                (path / SCRIPT).write_text("#!/bin/bash\n" + render_wrapper(spec))
            direct = direct_start(spec)
            if direct is not None:
                self._direct[(sub.key, sub.attempt)] = direct
            out.append(Prepared(sub.key))
        return out

    def submit(self, subs: Sequence[Submission]) -> list[SubmitOutcome]:
        """Queue the units of each attempt (they start in :meth:`tick`)."""
        out = []
        for sub in subs:
            spec = sub.spec
            if spec.python:
                self._python[(sub.key, sub.attempt)] = sub.attempt_dir
            if sub.resources.time:
                self._limits[(sub.key, sub.attempt)] = int(sub.resources.time)
            self.processes.enqueue(
                sub.key,
                sub.attempt,
                sub.attempt_dir,
                tuple(spec.array) if spec.array else None,
                sub.resources.cpus or 1,
                spec.max_concurrent,
                self._direct.pop((sub.key, sub.attempt), None),
            )
            out.append(SubmitOutcome(sub.key, sub.attempt, LOCAL_ID))
        self.processes.hand_ahead()
        return out

    def find(self, sub: Submission) -> str | None:
        """Claims and exit files tell what ran; what never started is queued again when
        the driver watches the attempt."""
        return LOCAL_ID

    def observe(
        self, units: Sequence[Unit], markers: Sequence[str], full: bool, adopt: bool = True
    ) -> list[Update]:
        """Final updates of units that ended (watching units an earlier driver started;
        with ``adopt``, queueing again those that never started)."""
        if full:
            for unit in units:
                if unit.python:
                    self._python[(unit.key, unit.attempt)] = unit.attempt_dir
                if unit.time_limit:
                    self._limits[(unit.key, unit.attempt)] = unit.time_limit
                self.processes.adopt(unit, queue=adopt)
        updates = self.processes.collect(list(markers), full)
        if full:
            self._expire()
        return [self._with_result(u) for u in updates]

    def needs_units(self, markers: Sequence[str]) -> bool:
        """Never: between full checks, completion markers name what ended."""
        return False

    def tick(self) -> list[Update]:
        """Start queued units while the CPU budget allows."""
        return self.processes.pump()

    def cancel(self, units: Sequence[Unit], grace: float) -> list[Update]:
        """SIGTERM each unit's process group, SIGKILL after ``grace``."""
        for unit in units:
            self.processes.adopt(unit)
        updates = self.processes.cancel([u.ident for u in units], grace=grace)
        updates += self.processes.collect([], full=True)
        return [self._with_result(u) for u in updates]

    def bring_home(self, spec: JobSpec, attempt_dir: str) -> ev.OutputsHome | None:
        """Local outputs are home already."""
        return None

    def fetch(self, spec: JobSpec, attempt: int, run_dir: str) -> ev.Fetched | None:
        """Local run directories are local already."""
        return None

    @property
    def busy(self) -> bool:
        """True while units are queued or run here (they are looked at every cycle)."""
        return self.processes.busy

    @property
    def waiting(self) -> bool:
        """True while units wait for CPUs (only this process starts them)."""
        return self.processes.waiting

    def close(self) -> None:
        """Let the launcher go (jobs keep running)."""
        self.processes.close()

    # ------------------------------------------------------------------ helpers
    def _expire(self) -> None:
        """Stop units that ran past their time limit (they end as ``timeout``)."""
        now = time.time()
        expired = [
            ident
            for ident, _pid, started in self.processes.running_units()
            if (limit := self._limits.get(ident[:2])) and now - started > limit
        ]
        if expired:
            self.processes.timed_out.update(expired)
            self.processes.cancel(expired, grace=5.0)

    def _with_result(self, update: Update) -> Update:
        attempt_dir = self._python.get((update.key, update.attempt))
        if not update.state.is_final or attempt_dir is None:
            return update
        unit = self.root / attempt_dir
        if update.index is not None:
            unit = unit / str(update.index)
        result = parse_python_files(_read(unit / "result.json"), _read(unit / "error.json"))
        return update if result is None else attrs.evolve(update, result=result)


def parse_python_files(meta: bytes | None, err: bytes | None) -> dict[str, Any] | None:
    """``result.json``/``error.json`` contents as a result mapping."""
    out: dict[str, Any] = {}
    if meta:
        try:
            info = json.loads(meta)
            out.update({"value": info.get("digest"), "size": info.get("size"), "type": info.get("type")})
        except ValueError:
            pass
    if err:
        try:
            loaded = json.loads(err)
            out["error"] = {k: v for k, v in loaded.items() if k in ("type", "message", "traceback")}
        except ValueError:
            pass
    return out or None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
