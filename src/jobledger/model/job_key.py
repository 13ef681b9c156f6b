"""A job's content key: the canonical tree of what makes its work what it is, packed and
hashed with its upstream keys (:attr:`Job.key <jobledger.model.job.Job.key>`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobledger.errors import CycleError, HashingError, ModelError
from jobledger.model.dependency import JobRef
from jobledger.model.hashing import digest, pack
from jobledger.model.inputs import hash_inputs

if TYPE_CHECKING:
    from jobledger.model.job import Job


def definition_tree(job: Job, input_hashes: Mapping[str, str] | None = None) -> Any:
    """:meth:`Job.definition <jobledger.model.job.Job.definition>`: the canonical tree."""
    r = job.resources
    try:
        tasks = [t.identity() for t in job.tasks]
    except HashingError as exc:
        raise HashingError(f"job {job.name!r}: {exc}") from None
    # plain values only (str, int, None, lists; tuples pack as the same arrays as
    # lists): msgpack packs them deterministically
    env = job.env
    return [
        "job/1",
        job.name,
        tasks,
        [[k, v] for k, v in sorted(env.items())] if env else [],
        job.workdir,
        list(job.array.indices) if job.array else None,
        [r.cpus, r.gpus, r.nodes, r.tasks],
        job.modules,
        job.setup,
        [list(kv) for kv in sorted(input_hashes.items())] if input_hashes else job.inputs,
        job.outputs,
        [job.stdout, job.stderr],
    ]


def content_key(job: Job, upstream: list[list[str]], input_hashes: Mapping[str, str] | None) -> str:
    """The key of ``job`` with ``[upstream_key, kind]`` pairs (in any order: sorted here)
    and its input files' hashes."""
    return digest(pack([definition_tree(job, input_hashes), sorted(upstream)]))


def key_of(start: Job) -> str:
    """:attr:`Job.key <jobledger.model.job.Job.key>`: computed without recursion (a
    100,000-deep chain is fine); upstream keys are cached on their jobs on the way."""
    stack: list[tuple[Job, bool]] = [(start, False)]
    open_jobs: set[int] = set()
    while stack:
        job, expanded = stack.pop()
        if "_key" in job.__dict__:
            continue
        if expanded:
            upstream = [[_known_key(dep.target), dep.kind] for dep in job.depends]
            job.__dict__["_key"] = content_key(job, upstream, hash_inputs(job.inputs, job.workdir))
            open_jobs.discard(id(job))
            continue
        if id(job) in open_jobs:
            raise CycleError([job.name, "...", job.name])
        open_jobs.add(id(job))
        stack.append((job, True))
        for dep in job.depends:
            target = dep.target
            if isinstance(target, str):
                raise ModelError(
                    f"job {job.name!r} depends on {target!r} by name: its key is known only inside a Workflow"
                )
            if not isinstance(target, JobRef) and "_key" not in target.__dict__:
                stack.append((target, False))
    return str(start.__dict__["_key"])


def _known_key(target: Job | JobRef | str) -> str:
    """The key of an upstream whose key is already computed (or recorded)."""
    if isinstance(target, JobRef):
        return target.key
    assert not isinstance(target, str)  # a name was refused before
    return str(target.__dict__["_key"])
