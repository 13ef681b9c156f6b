"""The node of an awflow graph: :class:`AwflowJob`, what ``@job`` makes of a function.

It holds its settings (resources validated at once), its ``after`` links to other nodes,
its pre/postconditions and the pruning that drops what already holds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from jobledger.api.awflow.conditions import _guarded, _holds
from jobledger.api.awflow.translate import STATUS_KINDS as _STATUS
from jobledger.api.awflow.translate import _workflow_name, build_workflow
from jobledger.errors import ModelError, ResourceError
from jobledger.model.array import ArraySpec
from jobledger.model.job import normalize_kind
from jobledger.model.names import check_env, check_name
from jobledger.model.resources import Resources
from jobledger.session.selection import Selection

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
        self.name = check_name(
            str(name) if name is not None else str(getattr(fn, "__name__", "job")), "job name"
        )
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
        self._before_prune: tuple[dict[AwflowJob, str], tuple[int, ...] | None] | None = None
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
        if self._before_prune is None:
            self._before_prune = (dict(self._parents), self.array)
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

    def unprune(self) -> AwflowJob:
        """Undo :meth:`prune` here and upstream: the dependencies and array indices it
        dropped come back (a re-run whose earlier jobs are still in flight keeps their
        keys this way)."""
        if self._before_prune is not None:
            parents, array = self._before_prune
            self._before_prune = None
            self.detach(*self.parents)
            for dep, status in parents.items():
                self.after(dep, status=status)
            self.array = array
        self.pruned = False
        for dep in self.parents:
            dep.unprune()
        return self

    def _jobledger_selection(self) -> Selection:
        """Lets the hyrun-style verbs take a job: ``jobledger.check(merge)`` (the jobs of
        the graph as it is now; a job pruned to nothing or disabled selects the workflow
        :func:`schedule` named after it, if there is one)."""
        if self.disabled or (self.array is not None and not self.array):
            return Selection(None, (), (), (_workflow_name([self.name]),))
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


def _split_settings(settings: dict[str, Any], where: str) -> tuple[Resources, dict[str, Any]]:
    """Resources (validated now), Job keywords, and the rest as raw ``--key=value``."""
    try:
        fields, rest = Resources.split_kwargs(settings)
        if "exclusive" in fields and fields["exclusive"] is None:
            fields["exclusive"] = True  # awflow: a None value is a bare flag (--exclusive)
        fields = {k: v for k, v in fields.items() if v is not None}
        extra = list(Resources(extra=fields.pop("extra", ())).extra)
        job_kwargs = {k: rest.pop(k) for k in list(rest) if k in _JOB_SETTINGS}
        if "env" in job_kwargs:
            job_kwargs["env"] = check_env(job_kwargs["env"], where)  # names checked at decoration
        for key, value in rest.items():
            extra.append(f"--{key}" if value is None or value is True else f"--{key}={value}")
        return Resources(**fields, extra=extra), job_kwargs
    except ResourceError as exc:
        raise ResourceError(exc.field, exc.value, exc.reason, context=where) from None
