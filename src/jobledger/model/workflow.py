"""A workflow: a validated DAG of jobs, with topological order, layers and keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from jobledger.errors import CycleError, DuplicateJobError, ModelError, UnknownDependencyError
from jobledger.gcpause import gc_paused
from jobledger.model.job import Job, JobRef, hash_inputs
from jobledger.model.names import check_name

InputHasher = Callable[[tuple[str, ...], "str | None"], Mapping[str, str]]


@attrs.frozen(init=False, eq=False, repr=False)
class Workflow:
    """A DAG of jobs (hyrun's JobGraph, hpc-runner's Pipeline, awflow's graph).

    Jobs reachable through ``after`` from the given jobs are included. A cycle raises
    :class:`~jobledger.errors.CycleError` naming it; two different jobs with one name
    raise :class:`~jobledger.errors.DuplicateJobError`; a dependency on a name that is
    not in the workflow raises :class:`~jobledger.errors.UnknownDependencyError`.
    """

    name: str
    jobs: dict[str, Job]
    upstream: dict[str, tuple[tuple[str, str], ...]]
    order: tuple[str, ...]
    defaults: dict[str, Any]
    external: dict[str, tuple[tuple[str, str], ...]] = attrs.field(factory=dict)
    """Job name -> ``(key, kind)`` of jobs recorded earlier that it depends on
    (:class:`JobRef`); ``upstream`` holds only the edges inside the workflow."""

    def __init__(
        self,
        jobs: Iterable[Job] = (),
        name: str = "default",
        *,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        check_name(name, "workflow name")
        with gc_paused():
            self._build(jobs, name, defaults)

    def _build(self, jobs: Iterable[Job], name: str, defaults: Mapping[str, Any] | None) -> None:
        collected = _collect(jobs)
        upstream: dict[str, tuple[tuple[str, str], ...]] = {}
        external: dict[str, tuple[tuple[str, str], ...]] = {}
        in_order = True  # every job after its upstreams already (then that is the order)
        for job in collected.values():
            if not job.depends:
                upstream[job.name] = ()
                continue
            edges = []
            refs = []
            for dep in job.depends:
                target = dep.target
                if type(target) is Job:
                    up = target.name
                elif isinstance(target, JobRef):
                    refs.append((target.key, dep.kind))
                    continue
                else:
                    up = target if isinstance(target, str) else target.name
                if up not in collected:
                    raise UnknownDependencyError(
                        f"job {job.name!r} depends on {up!r}, which is not in workflow {name!r}"
                    )
                if in_order and up not in upstream:
                    in_order = False
                edges.append((up, dep.kind))
            if refs:
                external[job.name] = tuple(refs)
            upstream[job.name] = tuple(edges)
        order = tuple(collected) if in_order else _toposort(collected, upstream)
        self.__attrs_init__(
            name=name,
            jobs=collected,
            upstream=upstream,
            order=order,
            defaults=dict(defaults or {}),
            external=external,
        )

    # ---------------------------------------------------------------- queries
    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[Job]:
        return (self.jobs[n] for n in self.order)

    def __contains__(self, item: object) -> bool:
        name = item.name if isinstance(item, Job) else item
        return name in self.jobs

    def __getitem__(self, name: str) -> Job:
        try:
            return self.jobs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r} in workflow {self.name!r}") from None

    def topological(self) -> list[Job]:
        """Jobs so that every job comes after all of its upstreams (stable)."""
        return [self.jobs[n] for n in self.order]

    def downstream(self) -> dict[str, list[str]]:
        """Map each job name to the names of the jobs that depend on it directly."""
        down: dict[str, list[str]] = {n: [] for n in self.order}
        for name in self.order:
            for up, _ in self.upstream[name]:
                down[up].append(name)
        return down

    def ancestors(self, name: str) -> set[str]:
        """Every job that must end before ``name`` (transitively)."""
        seen: set[str] = set()
        stack = [u for u, _ in self.upstream[name]]
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(u for u, _ in self.upstream[cur])
        return seen

    def descendants(self, name: str) -> set[str]:
        """Every job that (transitively) depends on ``name``."""
        down = self.downstream()
        seen: set[str] = set()
        stack = list(down[name])
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(down[cur])
        return seen

    def layers(self) -> list[list[Job]]:
        """Jobs grouped by their number of ancestors, fewest first (hyrun's grouping).

        A job always has more ancestors than any of its ancestors, so the jobs of one
        layer never depend on each other.
        """
        counts: dict[str, int] = {}
        ancestor_sets: dict[str, set[str]] = {}
        for name in self.order:
            acc: set[str] = set()
            for up, _ in self.upstream[name]:
                acc.add(up)
                acc |= ancestor_sets[up]
            ancestor_sets[name] = acc
            counts[name] = len(acc)
        groups: dict[int, list[Job]] = {}
        for name in self.order:
            groups.setdefault(counts[name], []).append(self.jobs[name])
        return [groups[k] for k in sorted(groups)]

    def terminal_nodes(self) -> list[Job]:
        """Jobs nothing depends on (the leaves)."""
        down = self.downstream()
        return [self.jobs[n] for n in self.order if not down[n]]

    def roots(self) -> list[Job]:
        """Jobs that depend on nothing."""
        return [self.jobs[n] for n in self.order if not self.upstream[n]]

    def keys(self, input_hasher: InputHasher | None = None) -> dict[str, str]:
        """Job name -> content key, upstream keys folded in (computed in topological order)."""
        with gc_paused():
            return self._keys(input_hasher)

    def _keys(self, input_hasher: InputHasher | None) -> dict[str, str]:
        hasher = input_hasher or hash_inputs
        keys: dict[str, str] = {}
        for name in self.order:
            job = self.jobs[name]
            ups = [(keys[u], kind) for u, kind in self.upstream[name]]
            if name in self.external:
                ups += self.external[name]
            hashes = hasher(job.inputs, job.workdir) if job.inputs else None
            keys[name] = job.compute_key(ups, hashes)
        return keys

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, jobs={len(self.jobs)})"

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(j.name)}</td><td><code>{escape(j.command[:80])}</code></td>"
            f"<td>{escape(j.host)}</td><td>{escape(', '.join(d.name for d in j.depends))}</td></tr>"
            for j in self
        )
        return (
            f"<b>Workflow {escape(self.name)}</b> ({len(self)} jobs)"
            "<table><tr><th>job</th><th>command</th><th>host</th><th>after</th></tr>"
            f"{rows}</table>"
        )


def _collect(roots: Iterable[Job]) -> dict[str, Job]:
    """The jobs reachable from ``roots``, in depth-first order (each job, then its
    upstreams not found yet)."""
    given = list(roots)
    found = _collect_listed(given)
    return found if found is not None else _walk(given)


def _collect_listed(given: list[Job]) -> dict[str, Job] | None:
    """:func:`_walk`'s result when ``given`` lists every job once, each after the Job
    objects it depends on (the usual way to build one); ``None`` when it does not."""
    found: dict[str, Job] = {}
    for job in given:
        if type(job) is not Job or job.name in found:
            return None
        for dep in job.depends:
            target = dep.target
            if isinstance(target, Job) and found.get(target.name) is not target:
                return None
        found[job.name] = job
    return found


def _walk(given: list[Job]) -> dict[str, Job]:
    found: dict[str, Job] = {}
    stack = given[::-1]
    while stack:
        job = stack.pop()
        if not isinstance(job, Job):
            raise ModelError(f"a workflow holds Job objects, not {type(job).__name__}")
        other = found.get(job.name)
        if other is not None:
            if other is job:
                continue
            if _same_definition(other, job):
                continue
            raise DuplicateJobError(
                f"two different jobs are named {job.name!r}: {other.command!r} and {job.command!r}"
            )
        found[job.name] = job
        if job.depends:
            stack.extend([d.target for d in reversed(job.depends) if isinstance(d.target, Job)])
    return found


def _same_definition(a: Job, b: Job) -> bool:
    try:
        same_deps = [(d.name, d.kind) for d in a.depends] == [(d.name, d.kind) for d in b.depends]
        return same_deps and a.definition() == b.definition()
    except ModelError:
        return False


def _toposort(
    jobs: Mapping[str, Job], upstream: Mapping[str, tuple[tuple[str, str], ...]]
) -> tuple[str, ...]:
    """Kahn's algorithm keeping insertion order among ready jobs; names a cycle if any."""
    remaining = {n: len({u for u, _ in upstream[n]}) for n in jobs}
    down: dict[str, list[str]] = {n: [] for n in jobs}
    for name in jobs:
        for up in {u for u, _ in upstream[name]}:
            down[up].append(name)
    position = {n: i for i, n in enumerate(jobs)}
    ready = [n for n in jobs if remaining[n] == 0]
    order: list[str] = []
    import heapq

    heap = [(position[n], n) for n in ready]
    heapq.heapify(heap)
    while heap:
        _, name = heapq.heappop(heap)
        order.append(name)
        for child in down[name]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(heap, (position[child], child))
    if len(order) != len(jobs):
        raise CycleError(_find_cycle({n for n in jobs if remaining[n] > 0}, upstream))
    return tuple(order)


def _find_cycle(stuck: set[str], upstream: Mapping[str, tuple[tuple[str, str], ...]]) -> list[str]:
    """A cycle among ``stuck`` jobs, in run order (upstream first): ``[a, b, c, a]``."""
    start = min(stuck)
    path: list[str] = []
    index: dict[str, int] = {}
    cur = start
    while cur not in index:
        index[cur] = len(path)
        path.append(cur)
        cur = min(u for u, _ in upstream[cur] if u in stuck)
    cycle = [*path[index[cur] :], cur]
    return cycle[::-1]
