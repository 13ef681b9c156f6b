"""Scheduling: :func:`schedule` runs jobs and what they depend on, on the local machine or
a batch scheduler chosen by awflow's ``backend=``."""

from __future__ import annotations

import os
import time
from typing import Any

from jobledger.api.awflow.graph import build_workflow
from jobledger.api.awflow.node import as_job
from jobledger.api.awflow.outcomes import _echo, _outcomes
from jobledger.api.verbs import RunHandle, fetch, run
from jobledger.config import Config, load_config
from jobledger.errors import ConfigError, ResourceError
from jobledger.model.resources import Resources
from jobledger.project import Project
from jobledger.session.results import Result
from jobledger.session.selection import project_for


def available_backends(project: str | os.PathLike[str] | None = None) -> list[str]:
    """``'local'``, the schedulers of the configured hosts, and the host aliases."""
    found = Project.find(project)
    config = load_config(found.root if found else None)
    names = ["local"]
    for host in config.hosts.values():
        if host.scheduler not in ("local", "auto") and host.scheduler not in names:
            names.append(host.scheduler)
    names.extend(alias for alias in config.hosts if alias not in names)
    return names


def schedule(
    *jobs: Any,
    backend: str = "local",
    host: str | None = None,
    prune: bool = False,
    name: str | None = None,
    project: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    force: bool = False,
    echo: bool = True,
    **settings: Any,
) -> list[Any]:
    """Run ``jobs`` and everything they depend on; like awflow's ``schedule``.

    Jobs that are :attr:`~AwflowJob.done` or disabled are left out (``prune=True``
    prunes first). ``settings`` (``partition=``, ``cpus=`` ...) apply to every job that
    does not set them. On the ``local`` backend (or a host alias whose scheduler is
    ``local``) this blocks and returns, for each job given, the function's return value
    (a list for arrays) or, when it failed, the exception; ``echo`` prints the stdout of
    each job that ran. A job that never ran because a dependency failed raises
    :class:`DependencyNeverSatisfiedException`. On a batch scheduler (``slurm``, ``sge``
    ..., or a host alias; ``host=`` picks the alias) jobs are submitted and their
    scheduler ids returned at once (``None`` for a job not submitted yet).
    """
    settings.pop("path", None)  # awflow's metadata directory: the project holds it here
    try:
        defaults = Resources.from_kwargs(**settings)
    except ResourceError as exc:
        raise ResourceError(exc.field, exc.value, exc.reason, context="schedule()") from None
    nodes = [as_job(j) for j in jobs]
    if prune:
        for node in nodes:
            node.prune()
    targets = [n for n in nodes if not n.disabled and not n.done]
    if not targets:
        return []
    proj = project_for(project, create=True)
    config = load_config(proj.root)
    alias = resolve_backend(backend, host, config)
    workflow, names = build_workflow(targets, name=name, host=alias, defaults=defaults)
    if _keep_in_flight(proj, workflow.name, names):
        workflow, names = build_workflow(targets, name=name, host=alias, defaults=defaults)
    where = config.host(alias)
    if where.scheduler == "local" and not where.is_remote:
        results: dict[str, Result] = run(
            workflow, wait=True, check=False, project=proj.root, timeout=timeout, force=force
        )
        if echo:
            _echo(workflow, results)
        return _outcomes(targets, names, results)
    handle = run(workflow, project=proj.root, force=force)
    return _scheduler_ids(handle, [names[n] for n in targets], timeout)


def _keep_in_flight(proj: Project, workflow: str, names: dict[Any, str]) -> bool:
    """Give back to each pruned array the indices of its attempt still in flight (work in
    flight keeps its key: a re-run waits for it instead of running its indices again).
    True when an array changed."""
    from jobledger.ledger.state import Phase, job_phase
    from jobledger.session import session_for

    state = session_for(proj).state
    info = state.workflow(workflow)
    if info is None:
        return False
    in_flight: dict[str, tuple[int, ...]] = {}
    live = (Phase.ACTIVE, Phase.RECONCILE)
    for key in info.job_keys:
        record = state.record(key)
        spec = record.spec if record is not None else None
        if record is not None and spec is not None and spec.array and job_phase(record)[0] in live:
            in_flight[spec.name] = tuple(spec.array)
    changed = False
    for node, job_name in names.items():
        recorded = in_flight.get(job_name)
        if node.array and recorded is not None and tuple(node.array) != recorded:
            node.array = recorded
            changed = True
    return changed


def _scheduler_ids(handle: RunHandle, names: list[str], timeout: float | None) -> list[str | None]:
    """Scheduler ids of ``names`` once the driver submitted them (it may take a poll or
    two: a job whose upstream the scheduler has not listed yet waits for the next one).
    After ``timeout`` (default 60 s) a job still not submitted gives ``None``."""
    deadline = time.monotonic() + (60.0 if timeout is None else timeout)
    while True:
        results = fetch(handle)
        ids = [_sid(results[n]) for n in names]
        waiting = [
            n for n, sid in zip(names, ids, strict=True) if sid is None and not results[n].state.is_final
        ]
        if not waiting or time.monotonic() >= deadline:
            return ids
        time.sleep(0.2)


def _sid(result: Result) -> str | None:
    sid = result.scheduler_id
    return sid if sid and sid != "unknown" else None


def resolve_backend(backend: str, host: str | None, config: Config) -> str:
    """The host alias for awflow's ``backend=`` (and ``host=``, which wins)."""
    if host is not None:
        config.host(host)  # raises naming the known hosts
        return host
    if backend == "local":
        return "local"
    if backend in config.hosts:
        return backend
    for alias, table in config.hosts.items():
        if table.scheduler == backend:
            return alias
    where = " or ".join(config.sources) if config.sources else "no configuration file found"
    raise ConfigError(
        f'backend {backend!r}: no host in jobledger.toml has scheduler = "{backend}" '
        f'(read: {where}); add e.g.\n\n[hosts.cluster]\nscheduler = "{backend}"\n\n'
        "or pass host='<alias>'"
    )
