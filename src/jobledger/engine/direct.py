"""Direct starts: what the supervisor needs to run a simple unit without a shell (pure).

A unit qualifies when its job has exactly one task (a shell line, run by ``bash -c``, an
argv list or a Python call) and no setup or module lines: then nothing but the task
itself needs to run, and the supervisor (:mod:`jobledger.engine.supervisor`) does the
wrapper's part — claim, stdout and stderr, working directory, environment, exit record,
completion marker — itself.
Everything else runs the ``job.sh`` wrapper. Both write the same files.
"""

from __future__ import annotations

import posixpath
from typing import Any

import attrs

from jobledger.engine.wrapper import RUNNER_FILE, WrapperSpec

BASH = "/bin/bash"


@attrs.frozen
class DirectStart:
    """The task of a simple attempt, with its paths and environment resolved."""

    argv: tuple[str, ...]
    """The command; for a Python call the last word is replaced by the unit directory."""
    python: bool
    cwd: str
    env: dict[str, str]
    stdout: str | None
    """Absolute path, or None for ``<unit>/stdout``."""
    stderr: str | None
    """Absolute path, None for ``<unit>/stderr``, ``""`` when merged into stdout."""
    marker: str
    """Path of the completion marker (without an array index), ``""`` for none."""

    def for_unit(self, unit_dir: str, index: int | None) -> dict[str, Any]:
        """The supervisor's ``d`` field for one unit."""
        argv = [*self.argv[:-1], unit_dir] if self.python else list(self.argv)
        marker = f"{self.marker}-{index}" if self.marker and index is not None else self.marker
        return {
            "argv": argv,
            "cwd": self.cwd,
            "env": self.env,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "unit": unit_dir,
            "marker": marker,
            "mkdir": index is not None,
        }


def direct_start(spec: WrapperSpec) -> DirectStart | None:
    """The direct start of ``spec``; None when it needs the shell wrapper."""
    if len(spec.tasks) != 1 or spec.setup or spec.modules:
        return None
    task = spec.tasks[0]
    env = {**spec.env, **task.env}
    if task.shell is not None:
        argv: tuple[str, ...] = (BASH, "-c", task.shell)
        python = False
    elif task.argv is not None:
        argv = tuple(task.argv)
        python = False
    else:
        run = spec.run_dir or spec.attempt_dir
        payload = task.payload or "task-0.pkl"
        argv = (spec.python, posixpath.join(run, RUNNER_FILE), posixpath.join(run, payload), "")
        python = True
    if not argv:
        return None
    cwd = posixpath.join(spec.workdir, task.cwd) if task.cwd else spec.workdir
    marker = posixpath.join(spec.markers_dir, spec.marker) if spec.markers_dir else ""
    return DirectStart(
        argv=argv,
        python=python,
        cwd=cwd,
        env=env,
        stdout=_absolute(spec.stdout, spec.workdir),
        stderr="" if spec.merge_stderr else _absolute(spec.stderr, spec.workdir),
        marker=marker,
    )


def _absolute(path: str | None, workdir: str) -> str | None:
    if path is None:
        return None
    return path if posixpath.isabs(path) else posixpath.join(workdir, path)
