"""What the engine's parts share: the loaded workflow and the engine's common attributes."""

from __future__ import annotations

import logging
import posixpath
from typing import Any

import attrs

from jobledger.config import Config, HostConfig
from jobledger.engine.batch import BatchBackend
from jobledger.engine.local import LocalBackend
from jobledger.engine.plan import Standing
from jobledger.ledger.store import Ledger
from jobledger.model.job import Job
from jobledger.model.resources import Resources
from jobledger.model.workflow import Workflow
from jobledger.project import Project

Backend = LocalBackend | BatchBackend


def attempt_dir(run_dir: str, attempt: int) -> str:
    """Project-relative directory of an attempt (attempt 1 is the run dir itself)."""
    return run_dir if attempt == 1 else f"{run_dir}/attempt-{attempt}"


@attrs.define
class Loaded:
    """A workflow definition held in this process, with what the driver tracks about it."""

    workflow: Workflow
    keys: dict[str, str]
    """Job name -> key."""
    by_key: dict[str, Job]
    edges: dict[str, list[tuple[str, str]]]
    """Key -> ``(upstream key, kind)``."""
    workdirs: dict[str, str]
    hosts: dict[str, str]
    """Key -> host alias (after ``host=`` overrides of this run)."""
    local_dirs: dict[str, str]
    """Key -> the local directory the job was defined in (remote outputs come back here)."""
    order: list[str]
    """Keys in topological order."""
    down: dict[str, list[str]] = attrs.field(factory=dict)
    """Key -> keys that depend on it directly."""
    stand: dict[str, Standing] = attrs.field(factory=dict)
    """Cached standings (recomputed for keys marked dirty)."""
    dirty: set[str] = attrs.field(factory=set)
    open: set[str] = attrs.field(factory=set)
    """Keys not final yet (or final with a retry to come)."""
    waiting: set[str] = attrs.field(factory=set)
    """Pending keys that wait out a retry backoff."""
    evaluate: set[str] = attrs.field(factory=set)
    """Pending keys whose readiness must be looked at again."""
    adopted: set[tuple[str, int]] = attrs.field(factory=set)
    """(key, attempt) whose local units the backend already tracks."""
    full_at: float = 0.0
    """Monotonic time of the last full cycle."""
    position: dict[str, int] = attrs.field(factory=dict)
    """Key -> index in ``order``."""

    @property
    def name(self) -> str:
        """Workflow name."""
        return self.workflow.name


class EngineBase:
    """Attributes and lookups the engine's mixins rely on."""

    project: Project
    ledger: Ledger
    log: logging.Logger
    loaded: dict[str, Loaded]
    _backends: dict[str, Backend]

    @property
    def config(self) -> Config:
        """The configuration (implemented by :class:`~jobledger.engine.driver.Engine`)."""
        raise NotImplementedError

    def backend(self, alias: str) -> Backend:
        """The backend of a host alias."""
        raise NotImplementedError

    def host_config(self, alias: str) -> HostConfig:
        """Configuration of a host alias (error naming it when unknown)."""
        return self.config.host(alias)

    def remote_root(self, alias: str) -> str:
        """Where this project's run directories live on host ``alias`` (absolute).

        Remote: ``<workdir>/<project name>-<8 hex of its local path>``, the workdir
        defaulting to ``~/jobledger``; a relative workdir is taken from the login home.
        """
        from jobledger.model.hashing import canonical_hash

        host = self.host_config(alias)
        if not host.is_remote:
            return str(self.project.root)
        roots: dict[str, str] = self.__dict__.setdefault("_remote_roots", {})
        found = roots.get(alias)
        if found is None:
            base = host.workdir or "jobledger"
            if base.startswith("~/"):
                base = base[2:]
            if not posixpath.isabs(base):
                backend = self.backend(alias)
                machine = getattr(backend, "host", None)
                assert machine is not None
                home = machine.run(["sh", "-c", 'printf %s "$HOME"'], check=True).stdout.strip()
                base = posixpath.join(home, base)
            ident = canonical_hash(str(self.project.root))[:8]
            found = roots[alias] = posixpath.join(base, f"{self.project.root.name}-{ident}")
        return found

    def markers_dir_for(self, alias: str) -> str | None:
        """The completion folder as seen from jobs on ``alias`` (local file systems only)."""
        host = self.host_config(alias)
        return None if host.is_remote else str(self.project.markers_dir)

    def job_for(self, key: str) -> tuple[Job, str] | None:
        """A job held in this process and its host alias, by key."""
        for loaded in self.loaded.values():
            job = loaded.by_key.get(key)
            if job is not None:
                return job, loaded.hosts[key]
        return None


_COMPACT: dict[Resources, dict[str, Any]] = {}


def compact(resources: Resources) -> dict[str, Any]:
    """The fields a request sets, as plain data (cached: requests repeat; do not modify)."""
    found = _COMPACT.get(resources)
    if found is None:
        found = {k: v for k, v in resources.to_dict().items() if v not in (None, False, [], ())}
        if len(_COMPACT) < 4096:
            _COMPACT[resources] = found
    return found
