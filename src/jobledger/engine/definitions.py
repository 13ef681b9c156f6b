"""Defining a workflow: turning its jobs into :class:`~jobledger.ledger.specs.JobSpec`
records, fixed in the ledger and in the run directories.

Everything that depends on the defining process's context is resolved here, once: the
keys (input files hashed relative to the working directory), the host (a run's ``host=``
override applied), absolute working directories, the resources of every attempt (the
configuration's ``[defaults]`` < host < job, escalated, capped) and the retry policy.
Python calls are pickled into their run directory. Later processes act on this record
and never re-derive it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.config import Config, HostConfig
from jobledger.engine.definition_digest import DigestBuilder, definition_digest
from jobledger.engine.job_specs import Policies, job_spec
from jobledger.engine.payloads import task_files
from jobledger.errors import ModelError
from jobledger.gcpause import gc_paused
from jobledger.hosts.local import LOCAL_OVERCOMMIT, check_fits_machine, machine_limits
from jobledger.ledger import events as ev
from jobledger.ledger.reducer import Model
from jobledger.ledger.specs import JobSpec
from jobledger.model.job import Job, content_key, hash_inputs
from jobledger.model.workflow import Workflow
from jobledger.project import Project, writing


@attrs.frozen(eq=False)
class Definition:
    """A workflow resolved for the ledger: its specs and this process's job objects."""

    name: str
    specs: tuple[JobSpec, ...]
    """In topological order."""
    keys: Mapping[str, str]
    """Job name -> key."""
    jobs: Mapping[str, Job]
    """Key -> the :class:`Job` that defined it (for ``ensure`` and the pickles)."""
    digest: str
    source: str | None
    host: str | None


def define(
    workflow: Workflow,
    *,
    project: Project,
    config: Config,
    host: str | None = None,
    source: str | None = None,
) -> Definition:
    """Resolve ``workflow`` for the ledger (nothing is written; see :func:`record`).

    ``host`` sends the jobs that name no host (``local``) to that host alias.
    """
    cwd = os.getcwd()
    with gc_paused():
        keys: dict[str, str] = {}
        specs: list[JobSpec] = []
        jobs: dict[str, Job] = {}
        places: dict[str, tuple[str, HostConfig, bool, bool]] = {}
        workdirs: dict[str | None, str] = {}
        fitting: set[int] = set()
        limits: tuple[int, int | None] | None = None
        policies = Policies(config)
        hasher = DigestBuilder(workflow.name, len(workflow.order))
        all_jobs, all_upstream, external = workflow.jobs, workflow.upstream, workflow.external
        for name in workflow.order:
            job = all_jobs[name]
            place = places.get(job.host)
            if place is None:  # (alias, its configuration, on this machine, remote)
                alias = host if host and job.host == "local" else job.host
                found = config.host(alias)
                on_machine = not found.is_remote and found.scheduler == "local"
                place = places[job.host] = (alias, found, on_machine, found.is_remote)
            alias, found, on_machine, remote = place
            res = job.resources
            if on_machine and id(res) not in fitting and (res.cpus or res.memory or res.memory_per_cpu):
                if limits is None:
                    limits = machine_limits()
                check_fits_machine(name, res, *limits, overcommit=LOCAL_OVERCOMMIT)
                fitting.add(id(res))  # jobs share their requests: each one is checked once
            workdir: str | None = job.workdir
            if not remote:
                resolved = workdirs.get(workdir)
                if resolved is None:
                    resolved = str(Path(workdir).resolve()) if workdir else cwd
                    if not Path(resolved).is_dir():
                        raise ModelError(f"job {name!r}: working directory {resolved} does not exist")
                    workdirs[workdir] = resolved
                workdir = resolved
            inputs = hash_inputs(job.inputs, job.workdir) if job.inputs else {}
            upstream = [[keys[up], kind] for up, kind in all_upstream[name]]
            if name in external:
                upstream += [[key, kind] for key, kind in external[name]]
            key = keys[name] = content_key(job, upstream, inputs)
            spec = job_spec(
                job, key, upstream, alias, workdir, cwd, inputs, policies.of(job, alias, found), project
            )
            hasher.add_built(spec)
            specs.append(spec)
            jobs[key] = job
        digest = hasher.hexdigest()
    return Definition(workflow.name, tuple(specs), keys, jobs, digest, _relative(source, project), host)


def keep_recorded_places(model: Model, definition: Definition) -> Definition:
    """``definition`` with the places the ledger already fixed for its jobs.

    A job whose working directory comes from the defining process's current directory
    (none given, or a relative one) keeps the directory recorded when its key was first
    defined: a re-run of the script from another directory carries the same jobs on where
    they were defined, never half of them elsewhere.
    """
    record = model.workflows.get(definition.name)
    if record is not None and any(d.digest == definition.digest for d in record.current()):
        return definition  # the very specs recorded already (with the places kept then)
    specs = []
    for spec in definition.specs:
        job = model.jobs.get(spec.key)
        old = job.spec if job is not None else None
        given = definition.jobs[spec.key].workdir
        from_cwd = given is None or not os.path.isabs(given)
        if old is not None and from_cwd and (old.workdir, old.local_dir) != (spec.workdir, spec.local_dir):
            specs.append(attrs.evolve(spec, workdir=old.workdir, local_dir=old.local_dir))
        else:
            specs.append(spec)
    if all(a is b for a, b in zip(specs, definition.specs, strict=True)):
        return definition
    digest = definition_digest(definition.name, specs)
    return attrs.evolve(definition, specs=tuple(specs), digest=digest)


def _relative(source: str | None, project: Project) -> str | None:
    """A script path as the same text in every clone: relative to the project when inside."""
    if source is None:
        return None
    try:
        return str(Path(source).resolve().relative_to(project.root))
    except ValueError:
        return source


def replaced(model: Model, definition: Definition) -> tuple[str, ...] | None:
    """The current definitions of the same name and source that ``definition`` replaces;
    ``None`` when the only one *is* ``definition`` (nothing to record). Definitions made
    concurrently (two clones, then a merge) are all replaced, also when one of them is
    ``definition``: the run on the merged tree settles which one stands."""
    record = model.workflows.get(definition.name)
    if record is None:
        return ()
    same_source = [d for d in record.current() if d.source == definition.source]
    if len(same_source) == 1 and same_source[0].digest == definition.digest:
        return None
    return tuple(d.id for d in same_source)


def record(ledger: Any, definition: Definition, replaces: Sequence[str], root: str) -> None:
    """Append the definition's ``workflow`` event (fsynced)."""
    ledger.record(
        ev.WorkflowDefined(
            name=definition.name,
            jobs=definition.specs,
            digest=definition.digest,
            root=root,
            source=definition.source,
            replaces=tuple(replaces),
            host=definition.host,
        )
    )


def write_payloads(
    project: Project, definition: Definition, keys: Sequence[str], *, only_missing: bool
) -> None:
    """Pickle the Python calls of ``keys`` into their run directories (atomically).

    ``only_missing`` leaves pickles already there alone (jobs that will not run now).
    Raises :class:`ModelError` naming the job when a call cannot be pickled.
    """
    wanted = set(keys)
    for spec in definition.specs:
        if not spec.python or spec.key not in wanted:
            continue
        folder = project.root / spec.run_dir
        payloads = [t.payload for t in spec.tasks or () if t.payload]
        if only_missing and all((folder / p).exists() for p in payloads):
            continue
        files = task_files(definition.jobs[spec.key])
        with writing(folder, "run directory"):
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                tmp = folder / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(data)
                tmp.replace(folder / name)
