"""What an awflow graph becomes in the ledger: :func:`build_workflow` makes a
:class:`Workflow` of ordinary jobs from the nodes upstream of some targets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from jobledger.api.awflow.conditions import _line_buffered, _per_index
from jobledger.errors import ModelError
from jobledger.model.array import ArraySpec
from jobledger.model.job import Dependency, Job
from jobledger.model.resources import Resources
from jobledger.model.task import Task
from jobledger.model.workflow import Workflow

if TYPE_CHECKING:
    from jobledger.api.awflow.node import AwflowJob

#: awflow's dependency statuses and the dependency kinds they mean.
STATUS_KINDS = {"afterok": "success", "afternotok": "failure", "afterany": "any"}
_KIND = {v: k for k, v in STATUS_KINDS.items()}


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
    The functions write their output line by line (:func:`_line_buffered`), so what they
    print can be shown while they run, as awflow's threads print it.
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
        tasks=[Task(_line_buffered(node.fn), pass_index=node.array is not None)],
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
