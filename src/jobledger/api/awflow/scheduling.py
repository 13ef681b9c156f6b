"""Scheduling: :func:`schedule` runs jobs and what they depend on, on the local machine or
a batch scheduler chosen by awflow's ``backend=``."""

from __future__ import annotations

import os
import shutil
from typing import Any

from jobledger.api.awflow.echo import LiveEcho
from jobledger.api.awflow.graph import build_workflow
from jobledger.api.awflow.node import AwflowJob, as_job
from jobledger.api.awflow.outcomes import DependencyNeverSatisfiedException, _outcomes
from jobledger.api.driving import drive_until
from jobledger.api.verbs import RunHandle, run
from jobledger.config import IMPLICIT_HOSTS, LOCAL_HOST, Config, implicit_host, load_config
from jobledger.errors import ConfigError, ResourceError
from jobledger.model.resources import Resources
from jobledger.project import Project
from jobledger.session.selection import project_for

#: How long :func:`schedule` waits for a batch scheduler's ids by default (seconds).
ID_PATIENCE = 60.0


def available_backends(project: str | os.PathLike[str] | None = None) -> list[str]:
    """``'local'``, the schedulers of the configured hosts, those on this machine's PATH
    (``slurm`` when ``sbatch`` is here, as awflow has it), and the host aliases."""
    found = Project.find(project)
    config = load_config(found.root if found else None)
    names = ["local"]
    for host in config.hosts.values():
        if host.scheduler not in ("local", "auto") and host.scheduler not in names:
            names.append(host.scheduler)
    implicit = config.implicit_hosts()
    if implicit:
        from jobledger.hosts.factory import make_host
        from jobledger.schedulers.detect import available

        here = available(make_host(LOCAL_HOST))
        names.extend(n for n, h in implicit.items() if h.scheduler in here and n not in names)
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

    Returns one entry per job given, in order. Jobs that are :attr:`~AwflowJob.done` or
    disabled are left out and give ``None`` (``prune=True`` prunes first). ``settings``
    (``partition=``, ``cpus=`` ...) apply to every job that does not set them. On the
    ``local`` backend (or a host alias whose scheduler is ``local``) this blocks, shows
    progress and a summary, and returns for each job the function's return value (a list
    for arrays) or, when it failed, the exception; with ``echo`` each job's printed
    output reaches the terminal as it runs. A job that never ran because a dependency
    failed raises :class:`DependencyNeverSatisfiedException`. On a batch scheduler
    (``slurm``, ``sge`` ..., found on this machine's PATH or configured; ``host=`` picks
    a host alias) jobs are submitted and their scheduler ids returned as soon as the
    scheduler has them (``None`` for a job not submitted within ``timeout``, default 60 s).
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
        return [None] * len(nodes)
    proj = project_for(project, create=True)
    config = load_config(proj.root)
    alias = backend_alias(backend, host, config)
    where = config.host(alias)
    here = where.scheduler == "local" and not where.is_remote
    workflow, names = build_workflow(targets, name=name, host=alias, defaults=defaults)
    if _keep_in_flight(proj, workflow.name, names):
        workflow, names = build_workflow(targets, name=name, host=alias, defaults=defaults)
    recorded = _recorded_while_in_flight(proj, workflow.name)
    if recorded and not set(workflow.keys().values()) <= recorded:
        # jobs of the recorded definition are in flight: a prune that dropped what has
        # finished since must not give the jobs waiting for it new keys (they would run
        # twice); the definition as recorded is carried on instead, when it is that one
        for node in targets:
            node.unprune()
        whole, whole_names = build_workflow(targets, name=name, host=alias, defaults=defaults)
        if set(whole.keys().values()) <= recorded:
            workflow, names = whole, whole_names
        else:
            for node in targets:
                node.prune()
            workflow, names = build_workflow(targets, name=name, host=alias, defaults=defaults)
    handle = run(workflow, project=proj.root, force=force)
    assert isinstance(handle, RunHandle)
    if not here:
        ids = _scheduler_ids(handle, [names[n] for n in targets], timeout)
        return _aligned(nodes, targets, ids)
    keys = list(handle.keys.values())
    fresh = [k for k in keys if handle.verdicts.get(k) != "reused"]
    live = LiveEcho(handle.session, fresh) if echo else None
    results = handle.session.wait(keys, [handle.name], timeout=timeout, check=False, on_step=live)
    if live is not None:
        live.finish(results)
    try:
        values = _outcomes(targets, names, results)
    except DependencyNeverSatisfiedException as exc:
        exc.results = _aligned(nodes, targets, exc.results)
        raise
    return _aligned(nodes, targets, values)


def _aligned(nodes: list[AwflowJob], targets: list[AwflowJob], values: list[Any]) -> list[Any]:
    """One entry per job given: its value, or ``None`` for one left out (done, disabled)."""
    by_node = dict(zip(targets, values, strict=True))
    return [by_node.get(node) for node in nodes]


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


def _recorded_while_in_flight(proj: Project, workflow: str) -> set[str]:
    """The keys of ``workflow``'s current definitions when any of them is in flight
    (submitted, running, or its submission being looked up); else an empty set."""
    from jobledger.ledger.state import Phase, job_phase
    from jobledger.session import session_for

    state = session_for(proj).state
    info = state.workflow(workflow)
    if info is None:
        return set()
    for key in info.job_keys:
        record = state.record(key)
        if record is not None and job_phase(record)[0] in (Phase.ACTIVE, Phase.RECONCILE):
            return set(info.job_keys)
    return set()


def _scheduler_ids(handle: RunHandle, names: list[str], timeout: float | None) -> list[str | None]:
    """Scheduler ids of ``names`` once the driver submitted them: the session steps until
    each one has its id or ended (a job whose upstream the scheduler has not listed yet is
    submitted a step later). After ``timeout`` a job still not submitted gives ``None``."""
    session = handle.session
    keys = [handle.keys[n] for n in names]

    def ids() -> tuple[list[str | None], bool]:
        results = session.results(keys)
        found = [_sid(results[n]) if n in results else None for n in names]
        waiting = any(
            sid is None and (n not in results or not results[n].state.is_final)
            for n, sid in zip(names, found, strict=True)
        )
        return found, waiting

    drive_until(session, lambda: not ids()[1], ID_PATIENCE if timeout is None else timeout)
    return ids()[0]


def _sid(result: Any) -> str | None:
    sid = result.scheduler_id
    return sid if sid and sid != "unknown" else None


def backend_alias(backend: str, host: str | None, config: Config) -> str:
    """The host :func:`schedule` sends jobs to: :func:`resolve_backend`'s, else the
    scheduler ``backend`` on this machine when its commands are on the PATH (``slurm``
    where ``sbatch`` is: no configuration needed, as in awflow)."""
    try:
        return resolve_backend(backend, host, config)
    except ConfigError:
        if host is None and implicit_host(backend) is not None:
            return backend
        raise


def resolve_backend(backend: str, host: str | None, config: Config) -> str:
    """The configured host alias for awflow's ``backend=`` (and ``host=``, which wins): a
    host of that name, or the first whose scheduler it is; a ConfigError that says what to
    add (and what this machine lacks) otherwise."""
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
        f'backend {backend!r}: no host in jobledger.toml has scheduler = "{backend}"{_probed(backend)} '
        f'(read: {where}); add e.g.\n\n[hosts.cluster]\nscheduler = "{backend}"\n\n'
        "or pass host='<alias>'"
    )


def _probed(backend: str) -> str:
    """What was looked for on this machine's PATH, and not found."""
    entry = IMPLICIT_HOSTS.get(backend)
    if entry is None or not entry[1]:
        return ""
    missing = [c for c in entry[1] if shutil.which(c) is None]
    if not missing:
        return ""
    return f", and {', '.join(missing)} not found on this machine's PATH ({os.environ.get('PATH', '')})"
