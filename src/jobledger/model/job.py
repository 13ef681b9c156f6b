"""A job: ordered tasks submitted as one scheduler job, with resources, host, deps."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from jobledger.errors import ModelError
from jobledger.model.array import ArraySpec
from jobledger.model.dependency import DEPENDENCY_KINDS, JobRef, normalize_kind
from jobledger.model.inputs import file_digest, hash_inputs
from jobledger.model.job_fields import (
    _NO_RESOURCES,
    SEPARATE,
    _checked_change,
    _default_name,
    _listed,
    _tasks,
    resources_and_directives,
    retry_policy_of,
)
from jobledger.model.job_identity import JobIdentity
from jobledger.model.job_key import content_key
from jobledger.model.names import (
    check_env,
    check_name,
    check_path,
    check_text,
    check_texts,
)
from jobledger.model.resources import Resources
from jobledger.model.retry import RetryPolicy
from jobledger.model.task import Task


def _paths(value: Any, field: str, where: str) -> tuple[str, ...]:
    return tuple(check_path(p, f"{field} item", where) for p in _listed(value, field, where))


_NO_RETRY = RetryPolicy()


def _upstream_job(target: Any) -> Job | JobRef | str:
    if isinstance(target, (Job, JobRef, str)):
        return target
    inner = getattr(target, "job", None)  # objects that carry a Job
    if isinstance(inner, Job):
        return inner
    to_job = getattr(target, "to_job", None)
    if callable(to_job):
        produced = to_job()
        if isinstance(produced, Job):
            return produced
    raise ModelError(f"a dependency must be a Job, a JobRef or a job name, not {target!r}")


@attrs.frozen
class Dependency:
    """``job`` must end first; ``kind`` says how (afterok, afterany, afternotok)."""

    target: Job | JobRef | str = attrs.field(converter=_upstream_job)
    kind: str = attrs.field(default="afterok", converter=normalize_kind)

    @property
    def name(self) -> str:
        """Name of the upstream job."""
        return self.target if isinstance(self.target, str) else self.target.name


def _after_ok(job: Job) -> Dependency:
    """``Dependency(job, "afterok")`` without running the converters (``job`` is a Job),
    made once per upstream job and shared by its dependents (it is immutable)."""
    dep: Dependency | None = job.__dict__.get("_afterok")
    if dep is None or dep.target is not job:  # not made yet, or made for the job copied
        dep = _new_dependency(Dependency)
        _set_field(dep, "target", job)
        _set_field(dep, "kind", "afterok")
        job.__dict__["_afterok"] = dep
    return dep


_new_dependency = object.__new__
_set_field = object.__setattr__


def _dependencies(value: Any, default_kind: str) -> tuple[Dependency, ...]:
    if value is None:
        return ()
    if type(value) is list and default_kind == "afterok":  # the common case, without the converters
        found = []
        for v in value:
            if type(v) is not Job:
                break
            dep = v.__dict__.get("_afterok")  # _after_ok(v), inlined when made already
            found.append(dep if dep is not None and dep.target is v else _after_ok(v))
        else:
            return tuple(found)
    if isinstance(value, (Job, JobRef, str, Dependency)) or not isinstance(value, Iterable):
        value = [value]
    out: list[Dependency] = []
    for item in value:
        if isinstance(item, Dependency):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            out.append(Dependency(item[0], item[1]))
        else:
            out.append(Dependency(item, default_kind))
    return tuple(out)


@attrs.frozen(init=False, slots=False, eq=False, repr=False)
class Job(JobIdentity):
    """Ordered tasks run as one scheduler job (immutable)::

        Job(name="a", command="python x.py", cpus=4, memory="8G", after=[other])
        Job("python train.py", name="train", cpu=4, mem="16G", queue="gpu.q")
        Job(name="a", tasks=[Task(...), Task(...)], resources=Resources(cpus=2))

    Resource keywords and their aliases (``cpu``, ``mem``, ``queue``, ``walltime`` ...) are
    accepted directly. A callable resource value (``memory=lambda attempt: f"{4*attempt}G"``)
    escalates with the attempt number. ``after`` lists upstream jobs: :class:`Job`
    objects, names of jobs of the same workflow, :class:`JobRef` to jobs recorded earlier,
    or ``(job, kind)`` pairs. ``stderr=None`` writes stderr into the stdout file.
    """

    name: str
    tasks: tuple[Task, ...]
    resources: Resources
    host: str
    depends: tuple[Dependency, ...]
    array: ArraySpec | None
    env: dict[str, str]
    workdir: str | None
    stdout: str | None
    stderr: str | None
    modules: tuple[str, ...]
    setup: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ensure: tuple[Callable[..., Any], ...]
    retry: RetryPolicy
    waitfor: str
    python: str | None
    scheduler_args: dict[str, tuple[str, ...]]
    metadata: dict[str, Any]
    # Not slotted: a frozen slotted class fills each field by a call (object.__setattr__),
    # ~1 us more per job than stores into its __dict__; the __dict__ also caches the key
    # (``_key``) and the ``afterok`` Dependency on the job shared by its dependents.

    def __init__(
        self,
        command: str | Sequence[str] | Callable[..., Any] | None = None,
        name: str | None = None,
        *,
        tasks: Iterable[Task | str | Sequence[str] | Callable[..., Any]] | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        resources: Resources | Mapping[str, Any] | None = None,
        host: str | None = None,
        after: Any = None,
        array: Any = None,
        max_concurrent: int | None = None,
        env: Mapping[str, Any] | None = None,
        env_vars: Mapping[str, Any] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        stdout: str | None = None,
        stderr: str | None = SEPARATE,
        modules: Sequence[str] = (),
        setup: Sequence[str] = (),
        inputs: Sequence[str | os.PathLike[str]] = (),
        outputs: Sequence[str | os.PathLike[str]] = (),
        ensure: Callable[..., Any] | Sequence[Callable[..., Any]] = (),
        retries: int | None = None,
        retry_on: Iterable[str] | None = None,
        backoff: Any = None,
        escalate: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        waitfor: str = "all",
        python: str | None = None,
        scheduler_args: Mapping[str, Sequence[str]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        if name is not None:
            check_name(name, "job name")
        try:
            task_list = _tasks(command, tasks, args, kwargs)
        except ModelError as exc:
            if name is None:
                raise
            raise ModelError(f"job {name!r}: {exc}") from None
        job_name = name if name is not None else _default_name(task_list)
        where = f"job {job_name!r}"

        escalate_map: dict[str, Any] = dict(escalate) if escalate else {}
        sched_args: dict[str, tuple[str, ...]]
        if resources is None and not extra and not scheduler_args:
            res, sched_args = _NO_RESOURCES, {}
        else:
            res, sched_args = resources_and_directives(resources, extra, scheduler_args, escalate_map, where)

        if retry is None and retries is None and retry_on is None and backoff is None and not escalate_map:
            policy = _NO_RETRY
        else:
            policy = retry_policy_of(retry, retries, retry_on, backoff, escalate_map, where)

        try:
            deps = _dependencies(after, "afterok")
        except ModelError as exc:
            raise ModelError(f"{where}: {exc}") from None
        if waitfor not in ("all", "any"):
            raise ModelError(f"{where}: waitfor must be 'all' or 'any', not {waitfor!r}")
        merged_env: dict[str, str] = {}
        if env is not None or env_vars is not None:
            for label, given in (("env", env), ("env_vars", env_vars)):
                if given is not None and not isinstance(given, Mapping):
                    raise ModelError(f"{where}: {label} must be a mapping of names to values, not {given!r}")
            if env or env_vars:
                merged_env = check_env({**(env or {}), **(env_vars or {})}, where)
        try:
            array_spec = ArraySpec.parse(array, max_concurrent) if array is not None else None
        except ModelError as exc:
            raise ModelError(f"{where}: {exc}") from None
        # positional, in field order (keywords cost a tenth of building a job)
        self.__attrs_init__(
            job_name,  # name
            task_list,  # tasks
            res,  # resources
            check_name(host, "host name", where) if host is not None else "local",  # host
            deps,  # depends
            array_spec,  # array
            merged_env,  # env
            check_path(workdir, "workdir", where) if workdir is not None else None,  # workdir
            check_path(stdout, "stdout", where) if stdout is not None else None,  # stdout
            check_path(stderr, "stderr", where) if stderr not in (None, SEPARATE) else stderr,  # stderr
            () if modules == () else check_texts(modules, "modules", where),  # modules
            () if setup == () else check_texts(setup, "setup", where),  # setup
            () if inputs == () else _paths(inputs, "inputs", where),  # inputs
            () if outputs == () else _paths(outputs, "outputs", where),  # outputs
            () if ensure == () else (ensure,) if callable(ensure) else tuple(ensure),  # ensure
            policy,  # retry
            waitfor,  # waitfor
            check_text(python, "python", where) if python is not None else None,  # python
            sched_args,  # scheduler_args
            dict(metadata or {}),  # metadata
        )

    def with_changes(self, **changes: Any) -> Job:
        """A copy with fields replaced (``resources=``, ``host=``, ``depends=`` ...)."""
        fields = {a.name for a in attrs.fields(Job)}
        unknown = set(changes) - fields
        if unknown:
            raise ModelError(f"job {self.name!r}: no field(s) {', '.join(sorted(unknown))}")
        new = copy.copy(self)
        for field, value in changes.items():
            object.__setattr__(new, field, _checked_change(field, value, f"job {self.name!r}"))
        new._forget_key()
        return new


__all__ = [
    "DEPENDENCY_KINDS",
    "SEPARATE",
    "Dependency",
    "Job",
    "JobRef",
    "content_key",
    "file_digest",
    "hash_inputs",
    "normalize_kind",
]
