"""Where a project's run directories live on a batch host, and the batch script of one job
(its :class:`~jobledger.schedulers.base.BatchSpec`), from its submission."""

from __future__ import annotations

import posixpath
from pathlib import Path

import attrs

from jobledger.config import HostConfig
from jobledger.engine.scripts import wrapper_spec
from jobledger.engine.types import Submission
from jobledger.engine.wrapper import render_wrapper
from jobledger.hosts.base import Host
from jobledger.model.array import ArraySpec
from jobledger.model.hashing import canonical_hash
from jobledger.model.names import safe_name
from jobledger.schedulers.base import BatchSpec, SchedulerAdapter


def remote_root(host: HostConfig, machine: Host, project_root: Path) -> str:
    """Where the project's run directories live on ``host`` (absolute): the project itself
    on this machine; over SSH ``<workdir>/<project name>-<8 hex of its local path>``, the
    workdir defaulting to ``~/jobledger``, a relative one taken from the login home."""
    if not host.is_remote:
        return str(project_root)
    base = host.workdir or "jobledger"
    if base.startswith("~/"):
        base = base[2:]
    if not posixpath.isabs(base):
        home = machine.run(["sh", "-c", 'printf %s "$HOME"'], check=True).stdout.strip()
        base = posixpath.join(home, base)
    ident = canonical_hash(str(project_root))[:8]
    return posixpath.join(base, f"{project_root.name}-{ident}")


def raw_args(sub: Submission, scheduler: str) -> tuple[str, ...]:
    """The job's extra directives for ``scheduler`` (``scheduler_args``; Torque takes PBS's)."""
    args = sub.spec.scheduler_args
    return tuple(args.get(scheduler) or (args.get("pbs", ()) if scheduler == "torque" else ()))


def job_batch_spec(
    sub: Submission, host: HostConfig, adapter: SchedulerAdapter, root: str, markers: str | None
) -> tuple[BatchSpec, int]:
    """The batch script of ``sub`` and its array index offset (the scheduler's task id
    minus the user's index: arrays starting below the scheduler's base are shifted)."""
    spec = sub.spec
    array = None
    offset = 0
    if spec.array:
        indices = tuple(spec.array)
        if min(indices) < adapter.array_base:
            offset = adapter.array_base - min(indices)
        array = ArraySpec(tuple(i + offset for i in indices), spec.max_concurrent)
    wrapper = attrs.evolve(wrapper_spec(sub, host, root, markers), index_offset=offset)
    batch = BatchSpec(
        job_name=safe_name(spec.name),
        comment=sub.tag,
        run_dir=wrapper.attempt_dir,
        workdir=wrapper.workdir,
        body=render_wrapper(wrapper),
        resources=sub.resources,
        array=array,
        dependencies=sub.native_deps,
        setup=host.setup,
        raw_args=raw_args(sub, adapter.name),
    )
    return batch, offset
