"""The decorators: ``@job``, ``@after``, ``@waitfor``, ``@ensure`` and :func:`disable`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from jobledger.api.awflow.node import AwflowJob, as_job
from jobledger.errors import ModelError


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
