"""The awflow face: ``@job``, ``@after``, ``@ensure``, ``prune`` and ``schedule``.

Decorating a function gives an :class:`AwflowJob`, a node of a graph the user holds (no
registry: the graph is the objects and their ``after`` links). :func:`schedule` turns the
part of that graph upstream of the jobs it is given into one :class:`~jobledger.Workflow`
of ordinary :class:`~jobledger.Job` objects and hands it to :func:`jobledger.run`::

    @ensure(lambda i: os.path.exists(f"pi-{i}.npy"))
    @job(cpus="4", memory="4GB", array=10)
    def estimate(i): ...

    @after(estimate)
    @job(cpus="4")
    def merge(): ...

    merge.prune()                       # skip what already exists
    schedule(merge, backend="local")    # blocks; returns the functions' results

Differences from awflow 0.1.0 (see ``docs/coming-from/awflow.md``): jobs run as separate
processes (their output is echoed after they end), results and logs live in the project's
ledger, re-runs reuse completed jobs by content key, ``backend="slurm"`` goes to a
``[hosts.*]`` table of ``jobledger.toml`` whose scheduler is ``slurm``, and a cycle raises
:class:`~jobledger.errors.CycleError` naming it.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import inspect
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jobledger.api.results import Result
from jobledger.api.session import Selection, project_for
from jobledger.api.verbs import RunHandle, fetch, run
from jobledger.config import Config, load_config
from jobledger.errors import ConfigError, JobFailedError, ModelError, ResourceError
from jobledger.model.array import ArraySpec
from jobledger.model.job import Dependency, Job, normalize_kind
from jobledger.model.resources import Resources
from jobledger.model.task import Task
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.states import JobState

#: awflow's dependency statuses and the dependency kinds they mean.
_STATUS = {"afterok": "success", "afternotok": "failure", "afterany": "any"}
_KIND = {v: k for k, v in _STATUS.items()}
#: Settings that are job fields, not resources (passed to :class:`~jobledger.Job`).
_JOB_SETTINGS = frozenset(
    {
        "env",
        "modules",
        "setup",
        "python",
        "workdir",
        "retries",
        "retry_on",
        "backoff",
        "inputs",
        "outputs",
        "stdout",
        "stderr",
        "host",
    }
)
_THROTTLE_SETTINGS = ("max_concurrent", "array_throttle")


class DependencyNeverSatisfiedException(JobFailedError):  # awflow spells it so
    """A scheduled job never ran because a dependency did not end as required.

    ``results`` holds what :func:`schedule` would have returned for every job.
    """

    def __init__(self, message: str, results: list[Any] | None = None) -> None:
        super().__init__(message)
        self.results = results or []


class JobException(JobFailedError):
    """A job's function raised an exception whose type is not a builtin one.

    ``type_name``, ``message`` and ``remote_traceback`` describe the original exception
    (it was raised in another process, so only its description comes back).
    """

    def __init__(self, job: str, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"job {job!r} raised {type_name}: {message}")
        self.job = job
        self.type_name = type_name
        self.message = message
        self.remote_traceback = remote_traceback


# ====================================================================== the node
class AwflowJob:
    """A function decorated with :func:`job`: a node of an awflow graph.

    Calling it calls the function (checking preconditions before and postconditions
    after, as awflow does). ``after``, ``ensure``, ``waitfor``, ``prune``, ``done``,
    ``disabled`` and ``array`` behave like awflow's ``Job``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        array: int | Iterable[int] | str | None = None,
        **settings: Any,
    ) -> None:
        if not callable(fn):
            raise ModelError(f"@job decorates a function, not {fn!r}")
        self._fn = fn
        self.name = str(name) if name is not None else str(getattr(fn, "__name__", "job"))
        if not self.name.strip():
            raise ModelError("a job name must be a non-empty string")
        where = f"job {self.name!r}"
        throttle = None
        for key in _THROTTLE_SETTINGS:
            if key in settings:
                throttle = settings.pop(key)
        spec = ArraySpec.parse(array, throttle) if array is not None else None
        self.array: tuple[int, ...] | None = spec.indices if spec is not None else None
        self.throttle = spec.max_concurrent if spec is not None else None
        self.settings = dict(settings)
        self._resources, self._job_kwargs = _split_settings(settings, where)
        self._parents: dict[AwflowJob, str] = {}
        self._children: dict[AwflowJob, str] = {}
        self._waitfor = "all"
        self.preconditions: list[Callable[..., Any]] = []
        self.postconditions: list[Callable[..., Any]] = []
        self.pruned = False
        self.disabled = False
        functools.update_wrapper(self, fn, updated=())

    # ------------------------------------------------------------------ calling
    @property
    def fn(self) -> Callable[..., Any]:
        """The function with awflow's pre/postcondition checks around it."""
        if not self.preconditions and not self.postconditions:
            return self._fn
        return _guarded(self._fn, self.name, tuple(self.preconditions), tuple(self.postconditions))

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    # ------------------------------------------------------------------ graph
    @property
    def parents(self) -> list[AwflowJob]:
        """Direct upstream jobs."""
        return list(self._parents)

    @property
    def children(self) -> list[AwflowJob]:
        """Direct downstream jobs."""
        return list(self._children)

    @property
    def dependencies(self) -> dict[AwflowJob, str]:
        """``{upstream job: 'success' | 'failure' | 'any'}``."""
        return dict(self._parents)

    def after(self, *deps: Any, status: str = "success") -> AwflowJob:
        """Run after ``deps`` end with ``status`` (``success``, ``failure`` or ``any``)."""
        try:
            word = _STATUS[normalize_kind(status)]
        except ModelError:
            raise ModelError(
                f"job {self.name!r}: status must be 'success', 'failure' or 'any', not {status!r}"
            ) from None
        for dep in deps:
            parent = as_job(dep)
            self._parents[parent] = word
            parent._children[self] = word
        return self

    def detach(self, *deps: AwflowJob) -> AwflowJob:
        """Remove the dependencies on ``deps``."""
        for dep in deps:
            self._parents.pop(dep, None)
            dep._children.pop(self, None)
        return self

    @property
    def waitfor(self) -> str:
        """``'all'`` (every dependency must hold) or ``'any'`` (one is enough)."""
        return self._waitfor

    @waitfor.setter
    def waitfor(self, mode: str) -> None:
        if mode not in ("all", "any"):
            raise ModelError(f"job {self.name!r}: waitfor must be 'all' or 'any', not {mode!r}")
        self._waitfor = mode

    def ensure(self, condition: Callable[..., Any], when: str = "after") -> AwflowJob:
        """Add a postcondition (``when='after'``) or a precondition (``when='before'``).

        For array jobs a condition taking one argument is called with each index.
        Postconditions decide :attr:`done` and :meth:`prune`, let a re-run reuse the job
        only while they hold, and fail the job when they do not hold after it ran.
        """
        if not callable(condition):
            raise ModelError(f"job {self.name!r}: ensure() needs a callable, not {condition!r}")
        if when == "after":
            self.postconditions.append(condition)
        elif when == "before":
            self.preconditions.append(condition)
        else:
            raise ModelError(f"job {self.name!r}: when must be 'before' or 'after', not {when!r}")
        return self

    # ------------------------------------------------------------------ pruning
    def done_at(self, index: int | None = None) -> bool:
        """True when every postcondition holds (for ``index`` of an array job)."""
        if not self.postconditions:
            return False
        try:
            return all(_holds(c, index) for c in self.postconditions)
        except Exception:  # a failing check means "not done"
            return False

    @property
    def done(self) -> bool:
        """True when the job has postconditions and they all hold (every index)."""
        if not self.postconditions:
            return False
        if self.array is None:
            return self.done_at(None)
        return all(self.done_at(i) for i in self.array)

    def prune(self) -> AwflowJob:
        """Drop what already holds, upstream of (and including) this job, like awflow.

        Disabled dependencies are bypassed (their own dependencies are attached here);
        dependencies that are :attr:`done` are detached (all of them when ``waitfor`` is
        ``'any'`` and one is done); dependencies are pruned in turn; and array indices
        whose postconditions hold are removed from :attr:`array`.
        """
        if self.pruned:
            return self
        self.pruned = True
        for dep, status in list(self._parents.items()):
            if dep.disabled:
                self.detach(dep)
                for grand in dep.parents:
                    self.after(grand, status=status)
        done = [dep for dep in self._parents if dep.done]
        if self._waitfor == "any" and done:
            self.detach(*self.parents)
        elif self._waitfor == "all":
            self.detach(*done)
        for dep in self.parents:
            dep.prune()
        if self.array is not None and self.postconditions:
            pending = tuple(i for i in self.array if not self.done_at(i))
            if len(pending) < len(self.array):
                self.array = pending
        return self

    def _jobledger_selection(self) -> Selection:
        """Lets the hyrun-style verbs take a job: ``jobledger.check(merge)``."""
        workflow, _ = build_workflow([self])
        return Selection(None, (workflow,), (), ())

    def __repr__(self) -> str:
        text = self.name
        if self.array is not None:
            text += f"[{ArraySpec(self.array).compact()}]" if self.array else "[]"
        return text


def as_job(target: Any) -> AwflowJob:
    """``target`` itself when it is an :class:`AwflowJob`, else ``job(target)``."""
    if isinstance(target, AwflowJob):
        return target
    if callable(target):
        return AwflowJob(target)
    raise ModelError(f"expected a @job-decorated function, not {target!r}")


# ====================================================================== decorators
def job(
    f: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    array: int | Iterable[int] | str | None = None,
    **settings: Any,
) -> Any:
    """Make a function a job: ``@job`` or ``@job(name=, array=, cpus=, memory=, ...)``.

    ``array`` is a count (``range(n)``), a set, a range or a string such as ``"1-9%2"``;
    the function then receives the index as its only argument. Settings are resources
    (``cpus``, ``memory``/``ram``, ``time``/``timelimit``, ``gpus``, ``partition`` ...,
    validated at once), job fields (``env``, ``modules``, ``setup``, ``retries`` ...), or
    anything else, passed to the batch scheduler as ``--key=value`` like awflow does.
    """
    if f is None:
        return functools.partial(job, name=name, array=array, **settings)
    if isinstance(f, AwflowJob):
        raise ModelError(f"{f.name!r} is already a job")
    return AwflowJob(f, name=name, array=array, **settings)


def after(*deps: Any, status: str = "success") -> Callable[[Any], AwflowJob]:
    """Decorator: run after ``deps`` end with ``status`` (``success``/``failure``/``any``)."""

    def decorate(target: Any) -> AwflowJob:
        return as_job(target).after(*deps, status=status)

    return decorate


def waitfor(mode: str) -> Callable[[Any], AwflowJob]:
    """Decorator: wait for ``'all'`` dependencies (default) or ``'any'`` one of them."""

    def decorate(target: Any) -> AwflowJob:
        node = as_job(target)
        node.waitfor = mode
        return node

    return decorate


def ensure(condition: Callable[..., Any], when: str = "after") -> Callable[[Any], AwflowJob]:
    """Decorator: add a postcondition (or, ``when='before'``, a precondition)."""

    def decorate(target: Any) -> AwflowJob:
        return as_job(target).ensure(condition, when)

    return decorate


def disable(target: Any) -> AwflowJob:
    """Disable a job: :func:`schedule` skips it and jobs after it bypass it."""
    node = as_job(target)
    node.disabled = True
    return node


# ====================================================================== graph queries
def _walk(start: Iterable[AwflowJob], step: Callable[[AwflowJob], list[AwflowJob]]) -> Iterator[AwflowJob]:
    seen: set[int] = set()
    stack = list(start)[::-1]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed(step(node)))


def terminal_nodes(*roots: Any, prune: bool = False) -> list[AwflowJob]:
    """The jobs downstream of ``roots`` that nothing depends on (awflow's leaves).

    With ``prune=True`` each of them is pruned. Returns a list (awflow returned a set)
    in the order found.
    """
    leaves = [n for n in _walk([as_job(r) for r in roots], lambda n: n.children) if not n.children]
    if prune:
        for leaf in leaves:
            leaf.prune()
    return leaves


def leafs(*jobs: Any) -> list[AwflowJob]:
    """Terminal jobs downstream of ``jobs`` (awflow 0.1.1's name)."""
    return terminal_nodes(*jobs)


def roots(*jobs: Any) -> list[AwflowJob]:
    """The jobs upstream of ``jobs`` that depend on nothing."""
    return [n for n in _walk([as_job(j) for j in jobs], lambda n: n.parents) if not n.parents]


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


# ====================================================================== schedule
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
    where = config.host(alias)
    if where.scheduler == "local" and not where.is_remote:
        results: dict[str, Result] = run(workflow, wait=True, project=proj.root, timeout=timeout, force=force)
        if echo:
            _echo(workflow, results)
        return _outcomes(targets, names, results)
    handle = run(workflow, project=proj.root, force=force)
    return _scheduler_ids(handle, [names[n] for n in targets], timeout)


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


def build_workflow(
    targets: list[AwflowJob],
    *,
    name: str | None = None,
    host: str = "local",
    defaults: Resources | None = None,
) -> tuple[Workflow, dict[AwflowJob, str]]:
    """The :class:`Workflow` of ``targets`` and their upstream jobs, and each node's job name.

    Disabled jobs are bypassed and fully pruned arrays dropped; two different nodes with
    one name get ``-2``, ``-3`` ... suffixes. A cycle raises :class:`CycleError`.
    """
    order = list(_walk(targets, lambda n: [p for p, _ in _live_parents(n)]))
    names: dict[AwflowJob, str] = {}
    taken: set[str] = set()
    for node in order:
        base = candidate = node.name
        number = 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        names[node] = candidate
    ledger_jobs = [_ledger_job(n, names, host, defaults) for n in order]
    wf_name = name or _workflow_name([names[t] for t in targets])
    return Workflow(ledger_jobs, name=wf_name), names


def _live_parents(node: AwflowJob) -> list[tuple[AwflowJob, str]]:
    """Dependencies as scheduled: disabled ones bypassed, fully pruned arrays dropped."""
    out: list[tuple[AwflowJob, str]] = []
    seen: set[int] = set()
    stack = list(node._parents.items())[::-1]
    while stack:
        dep, status = stack.pop()
        if id(dep) in seen:
            continue
        seen.add(id(dep))
        if dep.disabled:
            stack.extend((g, status) for g in reversed(dep.parents))
        elif dep.array is not None and not dep.array:
            continue
        else:
            out.append((dep, status))
    return out


def _ledger_job(node: AwflowJob, names: dict[AwflowJob, str], host: str, defaults: Resources | None) -> Job:
    if node.array is not None and not node.array:
        raise ModelError(f"job {node.name!r}: every array index is already done")
    resources = node._resources.layered_over(defaults) if defaults is not None else node._resources
    conditions = tuple(_per_index(c, node.array is not None) for c in node.postconditions)
    kwargs = dict(node._job_kwargs)
    return Job(
        tasks=[Task(node.fn, pass_index=node.array is not None)],
        name=names[node],
        resources=resources,
        host=kwargs.pop("host", None) or host,
        after=[Dependency(names[p], _KIND[s]) for p, s in _live_parents(node)],
        array=ArraySpec(node.array, node.throttle) if node.array is not None else None,
        waitfor=node.waitfor,
        ensure=conditions,
        **kwargs,
    )


def _workflow_name(names: list[str]) -> str:
    unique = sorted(set(names))
    if len(unique) == 1:
        return unique[0]
    text = "+".join(unique)
    if len(text) <= 60:
        return text
    short = hashlib.blake2b(text.encode(), digest_size=3).hexdigest()
    return f"{unique[0]}+{len(unique) - 1}-{short}"


# ====================================================================== results
def _outcomes(targets: list[AwflowJob], names: dict[AwflowJob, str], results: dict[str, Result]) -> list[Any]:
    values: list[Any] = []
    never: list[str] = []
    for node in targets:
        result = results[names[node]]
        if result.state is JobState.DEPENDENCY_FAILED:
            never.append(f"{names[node]} ({result.reason or 'a dependency did not end as required'})")
            values.append(DependencyNeverSatisfiedException(f"aborting job {names[node]}"))
        else:
            values.append(outcome(result))
    if never:
        raise DependencyNeverSatisfiedException("aborting job(s) " + ", ".join(never), values)
    return values


def outcome(result: Result) -> Any:
    """What awflow returns for a finished job: its value(s), or the exception it raised."""
    if result.elements:
        values = []
        for element in result.elements:
            if not element.ok:
                return exception_of(element)
            values.append(element.value)
        return values
    if result.ok:
        return result.value
    return exception_of(result)


def exception_of(result: Result) -> BaseException:
    """Rebuild the exception a failed job (or element) raised, as far as possible.

    Builtin exception types come back as themselves (``ValueError('boom')``) with the
    job's traceback in ``remote_traceback``; other types as :class:`JobException`;
    jobs that failed without a Python exception as :class:`JobFailedError`.
    """
    error = result.error or {}
    type_name = str(error.get("type") or "")
    message = str(error.get("message") or "")
    trace = str(error.get("traceback") or "")
    if not type_name:
        detail = f": {result.reason}" if result.reason else ""
        return JobFailedError(f"job {result.name!r} ended {result.state.value}{detail}")
    cls = getattr(builtins, type_name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            exc: BaseException = cls(message)
        except Exception:  # exotic constructors: fall back below
            return JobException(result.name, type_name, message, trace)
        exc.remote_traceback = trace  # type: ignore[attr-defined]
        exc.job = result.name  # type: ignore[attr-defined]
        if trace and hasattr(exc, "add_note"):
            exc.add_note(f"raised in job {result.name!r}:\n{trace.rstrip()}")
        return exc
    return JobException(result.name, type_name, message, trace)


def _echo(workflow: Workflow, results: dict[str, Result]) -> None:
    """Print the stdout of each job that ran in this call (awflow runs them in-process)."""
    for ledger_job in workflow:
        result = results.get(ledger_job.name)
        if result is None or result.reused:
            continue
        for unit in result.elements or (result,):
            text = unit.read_stdout()
            if text:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


# ====================================================================== helpers
def _split_settings(settings: dict[str, Any], where: str) -> tuple[Resources, dict[str, Any]]:
    """Resources (validated now), Job keywords, and the rest as raw ``--key=value``."""
    try:
        fields, rest = Resources.split_kwargs(settings)
        if "exclusive" in fields and fields["exclusive"] is None:
            fields["exclusive"] = True  # awflow: a None value is a bare flag (--exclusive)
        fields = {k: v for k, v in fields.items() if v is not None}
        extra = list(Resources(extra=fields.pop("extra", ())).extra)
        job_kwargs = {k: rest.pop(k) for k in list(rest) if k in _JOB_SETTINGS}
        for key, value in rest.items():
            extra.append(f"--{key}" if value is None or value is True else f"--{key}={value}")
        return Resources(**fields, extra=extra), job_kwargs
    except ResourceError as exc:
        raise ResourceError(exc.field, exc.value, exc.reason, context=where) from None


def _takes_argument(condition: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(condition).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _holds(condition: Callable[..., Any], index: int | None) -> bool:
    return bool(condition(index) if _takes_argument(condition) else condition())


def _per_index(condition: Callable[..., Any], is_array: bool) -> Callable[..., Any]:
    """A postcondition as the engine calls it (one argument only for array jobs)."""
    if not is_array and _takes_argument(condition):
        return functools.partial(condition, None)
    return condition


def _guarded(
    fn: Callable[..., Any],
    name: str,
    pre: tuple[Callable[..., Any], ...],
    post: tuple[Callable[..., Any], ...],
) -> Callable[..., Any]:
    """``fn`` with awflow's checks; self-contained so it runs where jobledger is absent."""

    def awflow_job(*args: Any) -> Any:
        import inspect as _inspect

        def holds(condition: Callable[..., Any]) -> bool:
            try:
                wants = len(_inspect.signature(condition).parameters) >= 1
            except (TypeError, ValueError):
                wants = False
            return bool(condition(args[0] if args else None) if wants else condition())

        for condition in pre:
            if not holds(condition):
                raise AssertionError(f"job {name} does not satisfy its precondition")
        value = fn(*args)
        for condition in post:
            if not holds(condition):
                raise AssertionError(f"job {name} does not satisfy its postcondition")
        return value

    awflow_job.__wrapped__ = fn  # type: ignore[attr-defined]
    return awflow_job


__all__ = [
    "AwflowJob",
    "DependencyNeverSatisfiedException",
    "JobException",
    "after",
    "as_job",
    "available_backends",
    "build_workflow",
    "disable",
    "ensure",
    "exception_of",
    "job",
    "leafs",
    "outcome",
    "resolve_backend",
    "roots",
    "schedule",
    "terminal_nodes",
    "waitfor",
]
