"""A job's :class:`~jobledger.ledger.specs.JobSpec`: its resources and retry policy on its
host (``[defaults]`` < host < job), and the spec's stored map, built directly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from jobledger.config import Config, HostConfig
from jobledger.ledger.specs import MERGED, JobSpec, TaskSpec, sparse
from jobledger.model.job import SEPARATE, Job
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.project import Project

_RETRY_KEYS = ("retries", "retry_on", "backoff", "escalate")
T = TypeVar("T")


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


def _tasks(job: Job) -> tuple[list[TaskSpec], bool]:
    """The tasks' stored maps, built as :func:`~jobledger.ledger.specs.sparse` would (only
    the fields off their default, in field order) without its generic comparisons; and
    whether one of them is a Python call."""
    out = []
    python = False
    for number, task in enumerate(job.tasks):
        if task.shell is not None:
            held: dict[str, Any] = {"kind": "shell", "shell": task.shell}
        elif task.argv is not None:
            held = {"kind": "argv", "argv": list(task.argv)}
        else:
            held = {"kind": "python", "payload": f"task-{number}.pkl"}
            python = True
        if task.env:
            held["env"] = dict(task.env)
        if task.cwd is not None:
            held["cwd"] = task.cwd
        if task.pass_index:
            held["pass_index"] = True
        spec = _new(TaskSpec)
        _set(spec, "__dict__", held)
        out.append(spec)
    return out, python


def _held(cls: type[T], held: dict[str, Any]) -> T:
    """An instance of a spec class whose ``__dict__`` is ``held`` (its non-default fields)."""
    obj = _new(cls)
    _set(obj, "__dict__", held)
    return obj


_new = object.__new__
_set = object.__setattr__


class Policies:
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


def job_spec(
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
    name = job.name
    held: dict[str, Any] = {"key": key, "name": name, "run_dir": project.run_dir_name(name, key)}
    if alias != "local":
        held["host"] = alias
    held["after"] = upstream  # a list: never the default ``()``
    if job.waitfor != "all":
        held["waitfor"] = job.waitfor
    array = job.array
    if array is not None:
        held["array"] = list(array.indices)
        if array.max_concurrent is not None:
            held["max_concurrent"] = array.max_concurrent
    command = job.command[:500]
    if command:
        held["command"] = command
    tasks, python = _tasks(job)
    if python:
        held["python"] = True
    held["tasks"] = tasks
    if workdir is not None:
        held["workdir"] = workdir
    held["local_dir"] = cwd
    if job.env:
        held["env"] = dict(job.env)
    held["modules"] = list(job.modules)
    held["setup"] = list(job.setup)
    if job.stdout is not None:
        held["stdout"] = job.stdout
    stderr = job.stderr
    if stderr != SEPARATE:
        held["stderr"] = MERGED if stderr is None else stderr
    if job.python is not None:
        held["interpreter"] = job.python
    if inputs:
        held["inputs"] = dict(inputs)
    held["outputs"] = list(job.outputs)
    held.update(policies)
    if job.scheduler_args:
        held["scheduler_args"] = {k: list(v) for k, v in job.scheduler_args.items()}
    return _held(JobSpec, held)
