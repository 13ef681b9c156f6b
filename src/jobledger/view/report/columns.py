"""The report's jobs as columns (:class:`ReportJobs`): one list per field the page shows,
in the order of :func:`~jobledger.view.status.status_rows`.

A settled job with one attempt and no array is read from the snapshot's view index
(:mod:`jobledger.ledger.viewindex`) without decoding its record; every other job has its
full status row (:meth:`ReportJobs.row` gives any job's, read when first asked). A
100,000-job report so builds no row for each job.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from jobledger.gcpause import gc_paused
from jobledger.ledger.queries import SettledNode, settled_job, view_rows
from jobledger.ledger.state import JobInfo, ProjectState, WorkflowInfo
from jobledger.ledger.viewindex import ViewIndex
from jobledger.states import JobState
from jobledger.view.graph.groups import COLLAPSE_AT, Columns, collapsed_members, group_columns
from jobledger.view.graph.model import Graph, Members, Node, after_of, job_node
from jobledger.view.status import job_row, settled_row


@attrs.define
class ReportJobs:
    """Every job of the report: ``keys[p]`` is the job at position ``p``; each other list
    holds one field of its status row (``exits``: the exit column's text, ``labels``: the
    state badge's, ``attempts``: the number of attempts shown, ``hosts`` and
    ``scheduler_ids`` ``""`` for none)."""

    state: ProjectState
    now: float
    keys: list[str]
    names: list[str]
    workflows: list[str]
    states: list[str]
    reused: list[bool]
    exits: list[str]
    labels: list[str]
    attempts: list[int]
    elapsed: list[float | None]
    started: list[float | None]
    hosts: list[str]
    scheduler_ids: list[str]
    index: ViewIndex | None
    at: list[int]
    """Per position: the job's row in ``index``, ``-1`` for a job read in full."""
    full: dict[int, dict[str, Any]]
    """Position -> status row, for the jobs read in full (and those :meth:`row` read)."""
    aligned: bool = False
    """True when ``at[p]`` is ``p`` wherever it is not ``-1``."""

    def pick(self, column: list[Any]) -> list[Any]:
        """``column[at[p]]`` for each position ``p`` (anything where ``at[p]`` is ``-1``)."""
        return _pick(column, self.at, self.aligned)

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, p: int) -> dict[str, Any]:
        """The status row of the job at position ``p`` (as ``status_rows`` gives it)."""
        found = self.full.get(p)
        if found is None:
            brief = settled_job(self.state.model, self.keys[p])
            assert brief is not None, self.keys[p]  # the index covers only such jobs
            found = self.full[p] = settled_row(brief, self.workflows[p], self.now, self.reused[p])
        return found

    def idents(self) -> list[str]:
        """Each job's id in the page: its name, with its key's start when jobs share it."""
        shared = {name for name, n in Counter(self.names).items() if n > 1}
        if not shared:
            return list(self.names)
        return [f"{n}-{k[:8]}" if n in shared else n for n, k in zip(self.names, self.keys, strict=True)]


def exit_text(exit_code: int | None, signal: int | None) -> str:
    """The exit column: the code, and the signal that ended the job."""
    text = "" if exit_code is None else str(exit_code)
    return f"{text} (signal {signal})" if signal else text


def row_exit(row: Mapping[str, Any]) -> str:
    """:func:`exit_text` of a status row."""
    return exit_text(row["exit_code"], row.get("signal"))


def label(row: Mapping[str, Any]) -> str:
    """The state badge's text: the state, and the elements completed of an array."""
    text = str(row["state"])
    if row.get("array"):
        done = sum(1 for e in row["array"] if e["state"] == "completed")
        text = f"{row['state']} ({done}/{len(row['array'])})"
    return text


def report_jobs(state: ProjectState, workflows: Mapping[str, WorkflowInfo]) -> ReportJobs:
    """The jobs of the current definitions of ``workflows``, each once, as columns."""
    now = time.time()
    keys: list[str] = []
    of: list[str] = []
    reused: list[bool] = []
    seen: set[str] = set()
    for name, wf in workflows.items():
        again = state.reused(name)
        fresh = [key for key in wf.job_keys if key not in seen] if seen else list(wf.job_keys)
        seen.update(fresh)
        keys += fresh
        of += [name] * len(fresh)
        reused += [key in again for key in fresh]
    with gc_paused():
        return _columns(state, now, keys, of, reused)


def members_of(jobs: ReportJobs, workflows: Iterable[str]) -> Members:
    """The graph's :class:`~jobledger.view.graph.model.Members` of ``jobs`` (the same as
    :func:`~jobledger.view.graph.model.members` of their ``workflows``)."""
    index, state = jobs.index, jobs.state
    found: list[Any]
    with gc_paused():
        if index is not None:
            names, hosts, exits, after = index.name, index.host, index.exit_code, index.after
            finals = {s.value: s for s in JobState}
            found = [
                SettledNode(key, names[i], hosts[i] or "local", finals[s], exits[i], after[i])
                if i >= 0
                else None
                for key, i, s in zip(jobs.keys, jobs.at, jobs.states, strict=True)
            ]
        else:
            found = [None] * len(jobs)
        for p in jobs.full:
            info = state.job(jobs.keys[p])
            assert info is not None
            found[p] = info
        by_name = dict(Counter(jobs.names))
    reused = {key for key, again in zip(jobs.keys, jobs.reused, strict=True) if again}
    nodes: list[SettledNode | JobInfo] = found
    return Members(", ".join(workflows) or "(no workflow)", nodes, reused, by_name)


def report_graph(jobs: ReportJobs, title: str, idents: Sequence[str]) -> Graph:
    """``collapsed_members(members_of(jobs, [title]))``: the graph of ``jobs`` (``idents``:
    each one's id), grouped by name pattern from the columns past
    :data:`~jobledger.view.graph.groups.COLLAPSE_AT` jobs."""
    if len(jobs) <= COLLAPSE_AT or jobs.index is None:
        return collapsed_members(members_of(jobs, [title]))
    index, state, keys, at, reused = jobs.index, jobs.state, jobs.keys, jobs.at, jobs.reused
    special: dict[int, Node] = {}
    afters: list[Any]
    with gc_paused():
        hosts = [host or "local" for host in jobs.pick(index.host)]
        afters = jobs.pick(index.after)
        for p in jobs.full:
            info = state.job(keys[p])
            assert info is not None
            special[p] = job_node(info, idents[p], reused[p])
            hosts[p], afters[p] = special[p].host, after_of(info)
    exits = index.exit_code

    def node_at(p: int) -> Node:
        if p in special:
            return special[p]
        i = at[p]
        return Node(
            keys[p], idents[p], jobs.names[p], jobs.states[p], hosts[p], 1, exits[i], 0, (), reused[p]
        )

    columns = Columns(keys, jobs.names, jobs.states, hosts, reused, afters)
    return group_columns(title, columns, node_at, special)


def _columns(
    state: ProjectState, now: float, keys: list[str], of: list[str], reused: list[bool]
) -> ReportJobs:
    covered = view_rows(state.model, keys)
    at = covered.rows if covered is not None else [-1] * len(keys)
    finals = covered.states if covered is not None else [None] * len(keys)
    aligned = covered is not None and covered.aligned
    full: dict[int, dict[str, Any]] = {}
    unknown = set()
    for p, i in enumerate(at):
        if i >= 0:
            continue
        brief = settled_job(state.model, keys[p])
        if brief is not None:
            full[p] = settled_row(brief, of[p], now, reused[p])
        elif (info := state.job(keys[p])) is not None:
            full[p] = job_row(info, of[p], now, reused[p])
        else:
            unknown.add(p)
    if unknown:  # keys the ledger does not know: not listed
        keep = [p for p in range(len(keys)) if p not in unknown]
        keys, of, reused = [keys[p] for p in keep], [of[p] for p in keep], [reused[p] for p in keep]
        at, finals = [at[p] for p in keep], [finals[p] for p in keep]
        full = {new: full[old] for new, old in enumerate(keep) if old in full}
        aligned = False
    n = len(keys)
    index = covered.view if covered is not None else None
    attempts = [1] * n
    value_of: dict[JobState | None, str] = {s: s.value for s in JobState}
    value_of[None] = ""
    states = list(map(value_of.__getitem__, finals))
    labels = list(states)
    if index is None:
        names, exits, hosts, ids = [""] * n, [""] * n, [""] * n, [""] * n
        elapsed: list[float | None] = [None] * n
        started: list[float | None] = [None] * n
    else:
        names = _pick(index.name, at, aligned)
        pairs = list(zip(_pick(index.exit_code, at, aligned), _pick(index.signal, at, aligned), strict=True))
        texts = {pair: exit_text(*pair) for pair in set(pairs)}
        exits = list(map(texts.__getitem__, pairs))
        started = _pick(index.started_at, at, aligned)
        ends = _pick(index.ended_at, at, aligned)
        elapsed = [
            None if s is None else round((e if e is not None else now) - s, 3)
            for s, e in zip(started, ends, strict=True)
        ]
        hosts, ids = _pick(index.host, at, aligned), _pick(index.scheduler_id, at, aligned)
        for column in (names, hosts, ids):
            if None in column:
                column[:] = [value or "" for value in column]
    for p, row in full.items():
        names[p], states[p], exits[p], labels[p] = row["name"], row["state"], row_exit(row), label(row)
        attempts[p], elapsed[p], started[p] = len(row["attempts"]), row["elapsed"], row["started"]
        hosts[p], ids[p] = row["host"] or "", row["scheduler_id"] or ""
    return ReportJobs(state, now, keys, names, of, states, reused, exits, labels, attempts, elapsed,
                      started, hosts, ids, index, at, full, aligned)  # fmt: skip


def _pick(column: list[Any], at: list[int], aligned: bool) -> list[Any]:
    """``column[i]`` for each ``i`` of ``at`` (``aligned``: see :attr:`ReportJobs.aligned`)."""
    return column[: len(at)] if aligned else list(map(column.__getitem__, at))
