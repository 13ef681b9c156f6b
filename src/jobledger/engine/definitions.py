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
from typing import Any, TypeVar

import attrs

from jobledger.config import Config, HostConfig
from jobledger.engine.definition_digest import DigestBuilder, definition_digest
from jobledger.engine.payloads import task_files
from jobledger.errors import ModelError
from jobledger.gcpause import gc_paused
from jobledger.hosts.local import LOCAL_OVERCOMMIT, check_fits_machine, machine_limits
from jobledger.ledger import events as ev
from jobledger.ledger.reducer import Model
from jobledger.ledger.specs import MERGED, JobSpec, TaskSpec, sparse
from jobledger.model.job import SEPARATE, Job, hash_inputs
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.model.workflow import Workflow
from jobledger.project import Project, writing

_RETRY_KEYS = ("retries", "retry_on", "backoff", "escalate")
T = TypeVar("T")


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


def retry_policy(job: Job, host: HostConfig, config: Config) -> RetryPolicy:
    """The nearest retry policy: the job's, then the host's, then ``[defaults]``."""
    if job.retry != RetryPolicy():
        return job.retry
    defaults = {k: v for k, v in config.defaults.items() if k in _RETRY_KEYS}
    for table in (host.retry, defaults):
        if table:
            return RetryPolicy.build(
                retries=table.get("retries"),
                retry_on=table.get("retry_on"),
                backoff=table.get("backoff"),
                escalate=table.get("escalate"),
            )
    return job.retry


def resources_for(job: Job, host: HostConfig, config: Config, policy: RetryPolicy, attempt: int) -> Resources:
    """Resources of one attempt: ``[defaults]`` < host < job, escalated, capped."""
    default_fields, _ = Resources.split_kwargs(
        {k: v for k, v in config.defaults.items() if k not in _RETRY_KEYS}
    )
    base = Resources(**default_fields) if default_fields else Resources()
    res = job.resources.layered_over(host.resources.layered_over(base))
    if attempt > 1 and policy.escalate:
        factors = {k: v for k, v in policy.escalate.items() if not callable(v)}
        if factors:
            res = res.scaled(factors, attempt)
        functions = {k: v(attempt) for k, v in policy.escalate.items() if callable(v)}
        if functions:
            res = res.merged(**functions)
    if host.limits is not None:
        res = res.capped(host.limits)
    return res


_COMPACT: dict[Resources, dict[str, Any]] = {}


def compact(resources: Resources) -> dict[str, Any]:
    """The fields a request sets, as plain data (cached: requests repeat; do not modify)."""
    found = _COMPACT.get(resources)
    if found is None:
        found = {k: v for k, v in resources.to_dict().items() if v not in (None, False, [], ())}
        if len(_COMPACT) < 4096:
            _COMPACT[resources] = found
    return found


def _tasks(job: Job) -> list[TaskSpec]:
    """The tasks' stored maps, built as :func:`~jobledger.ledger.specs.sparse` would (only
    the fields off their default, in field order) without its generic comparisons."""
    out = []
    for number, task in enumerate(job.tasks):
        if task.shell is not None:
            held: dict[str, Any] = {"kind": "shell", "shell": task.shell}
        elif task.argv is not None:
            held = {"kind": "argv", "argv": list(task.argv)}
        else:
            held = {"kind": "python", "payload": f"task-{number}.pkl"}
        if task.env:
            held["env"] = dict(task.env)
        if task.cwd is not None:
            held["cwd"] = task.cwd
        if task.pass_index:
            held["pass_index"] = True
        out.append(_held(TaskSpec, held))
    return out


def _held(cls: type[T], held: dict[str, Any]) -> T:
    """An instance of a spec class whose ``__dict__`` is ``held`` (its non-default fields)."""
    obj = _new(cls)
    _set(obj, "__dict__", held)
    return obj


_new = object.__new__
_set = object.__setattr__


class _Policies:
    """Resources and retry policy per (resources, host, policy): requests repeat a lot."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._found: dict[tuple[int, str, int], dict[str, Any]] = {}

    def of(self, job: Job, alias: str, host: HostConfig) -> dict[str, Any]:
        """The spec fields of the job's resources and retry policy that are off their
        default (shared: do not modify)."""
        key = (id(job.resources), alias, id(job.retry))  # the jobs keep both alive
        found = self._found.get(key)
        if found is None:
            policy = retry_policy(job, host, self.config)
            escalated: list[dict[str, Any]] = []
            if policy.escalate:
                escalated = [
                    compact(resources_for(job, host, self.config, policy, n))
                    for n in range(2, policy.retries + 2)
                ]
            backoff = policy.backoff
            fields = {
                "resources": compact(resources_for(job, host, self.config, policy, 1)),
                "escalated": escalated,
                "retries": policy.retries,
                "retry_on": sorted(s.value for s in policy.retry_on) if policy.retries else [],
                "backoff": [backoff.initial, backoff.factor, backoff.maximum] if backoff.initial > 0 else [],
            }
            found = self._found[key] = dict(sparse(JobSpec, fields).__dict__)  # off their default
        return found


def _spec(
    job: Job,
    key: str,
    upstream: list[list[str]],
    alias: str,
    workdir: str | None,
    cwd: str,
    inputs: Mapping[str, str],
    policies: dict[str, Any],
    project: Project,
) -> JobSpec:
    """The job's spec holding only its fields off their default, in field order: the map
    :func:`~jobledger.ledger.specs.sparse` would hold (the codec stores it as it is, and the
    definition digest packs it), built without comparing each field to its default."""
    held: dict[str, Any] = {"key": key, "name": job.name, "run_dir": project.run_dir_name(job.name, key)}
    if alias != "local":
        held["host"] = alias
    held["after"] = upstream  # a list: never the default ``()``
    if job.waitfor != "all":
        held["waitfor"] = job.waitfor
    if job.array is not None:
        held["array"] = list(job.array.indices)
        if job.array.max_concurrent is not None:
            held["max_concurrent"] = job.array.max_concurrent
    command = job.command[:500]
    if command:
        held["command"] = command
    if any(t.func is not None for t in job.tasks):
        held["python"] = True
    held["tasks"] = _tasks(job)
    if workdir is not None:
        held["workdir"] = workdir
    held["local_dir"] = cwd
    if job.env:
        held["env"] = dict(job.env)
    held["modules"] = list(job.modules)
    held["setup"] = list(job.setup)
    if job.stdout is not None:
        held["stdout"] = job.stdout
    stderr = MERGED if job.stderr is None else (None if job.stderr == SEPARATE else job.stderr)
    if stderr is not None:
        held["stderr"] = stderr
    if job.python is not None:
        held["interpreter"] = job.python
    if inputs:
        held["inputs"] = dict(inputs)
    held["outputs"] = list(job.outputs)
    held.update(policies)
    if job.scheduler_args:
        held["scheduler_args"] = {k: list(v) for k, v in job.scheduler_args.items()}
    return _held(JobSpec, held)


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
        keys = workflow.keys()
        specs: list[JobSpec] = []
        jobs: dict[str, Job] = {}
        hosts: dict[str, HostConfig] = {}
        checked: set[str] = set()
        fitting: set[int] = set()
        limits: tuple[int, int | None] | None = None
        policies = _Policies(config)
        hasher = DigestBuilder(workflow.name, len(workflow.order))
        for name in workflow.order:
            job = workflow.jobs[name]
            key = keys[name]
            alias = host if host and job.host == "local" else job.host
            found = hosts.get(alias)
            if found is None:
                found = hosts[alias] = config.host(alias)
            res = job.resources
            on_machine = not found.is_remote and found.scheduler == "local"
            if on_machine and (res.cpus or res.memory or res.memory_per_cpu) and id(res) not in fitting:
                if limits is None:
                    limits = machine_limits()
                check_fits_machine(name, res, *limits, overcommit=LOCAL_OVERCOMMIT)
                fitting.add(id(res))  # jobs share their requests: each one is checked once
            workdir: str | None = job.workdir
            if not found.is_remote:
                workdir = str(Path(job.workdir).resolve()) if job.workdir else cwd
                if workdir not in checked:
                    if not Path(workdir).is_dir():
                        raise ModelError(f"job {name!r}: working directory {workdir} does not exist")
                    checked.add(workdir)
            inputs = hash_inputs(job.inputs, job.workdir) if job.inputs else {}
            upstream = [[keys[up], kind] for up, kind in workflow.upstream[name]]
            if name in workflow.external:
                upstream += [[key, kind] for key, kind in workflow.external[name]]
            spec = _spec(
                job, key, upstream, alias, workdir, cwd, inputs, policies.of(job, alias, found), project
            )
            hasher.add(spec)
            specs.append(spec)
            jobs[key] = job
        digest = hasher.hexdigest()
    return Definition(workflow.name, tuple(specs), dict(keys), jobs, digest, _relative(source, project), host)


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
