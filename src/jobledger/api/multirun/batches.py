"""A sweep's batches: the array jobs that ran its runs, call after call.

Each call of :func:`multirun` submits the runs left to do as ONE array job (a *batch*).
The sweep's workflow holds every batch that last ran one of its runs, so ``jobledger
status`` shows the whole sweep after any re-run, reused runs included. A batch's
:class:`~jobledger.Job` is kept beside its run directory (``multirun-batch.pkl``, with
which run folder each index ran), so a later call can name the same job again (same
key: reused, or followed while it still runs) instead of running its runs twice.
"""

from __future__ import annotations

import os
import pickle
import secrets
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from jobledger.api.multirun.layout import INDEX_ENV, INPUTS_FILE, RESULTS_FILE, RUN_DIR_ENV, STATUS_FILE
from jobledger.engine.scope import is_open
from jobledger.ledger.state import job_phase
from jobledger.model.job import Job
from jobledger.model.workflow import Workflow
from jobledger.project import Project
from jobledger.session.session import Session

#: The file beside a batch's run directory that describes it.
BATCH_FILE = "multirun-batch.pkl"


@attrs.frozen
class Batch:
    """One array job of a sweep: its job, key, and the run folder of each index."""

    job: Job
    key: str
    runs: Mapping[int, str]
    """Array index -> absolute run folder."""
    created: int = 0


def batch_command(entries: Sequence[tuple[int, str, Sequence[str]]], inputs: str | None) -> str:
    """The script of a batch: ``(index, folder relative to the job's workdir, argv)`` each.

    Index *i* changes into its folder, runs its command and records the digest of the
    inputs it ran with (``run_inputs.txt``), then its exit code (``run_status.json``). A nonce makes each
    batch a job of its own (its key never equals an earlier batch's).
    """
    same = all(e[2] == entries[0][2] for e in entries)
    lines = [f"# multirun batch {secrets.token_hex(6)}", 'case "${JOBLEDGER_ARRAY_INDEX:-}" in']
    for index, folder, argv in entries:
        entry = f"  {index}) jl_dir={shlex.quote(folder)}"
        if not same:
            entry += f"; set -- {shlex.join(argv)}"
        lines.append(entry + " ;;")
    lines += [
        '  *) echo "multirun: no run for array index ${JOBLEDGER_ARRAY_INDEX:-?}" >&2',
        "     exit 2 ;;",
        "esac",
    ]
    if same:
        lines.append(f"set -- {shlex.join(entries[0][2])}")
    lines += [
        'cd -- "$jl_dir" || exit 1',
        f"rm -f -- {STATUS_FILE} {RESULTS_FILE} {INPUTS_FILE}",
        f'export {RUN_DIR_ENV}="$PWD" {INDEX_ENV}="$JOBLEDGER_ARRAY_INDEX"',
        '"$@"',
        "jl_rc=$?",
    ]
    if inputs:
        lines.append(f"echo {shlex.quote(inputs)} > {INPUTS_FILE}")
    lines += [
        f'printf \'{{"exit_code": %d}}\\n\' "$jl_rc" > .{STATUS_FILE}.tmp '
        f"&& mv -f -- .{STATUS_FILE}.tmp {STATUS_FILE}",
        'exit "$jl_rc"',
    ]
    return "\n".join(lines)


def key_of(job: Job) -> str:
    """The key the ledger gives ``job`` (a batch depends on nothing)."""
    return Workflow([job], name="_").keys()[job.name]


def keep(project: Project, job: Job, runs: Mapping[int, Path]) -> Batch:
    """Write the batch's description beside its run directory (before it is submitted)."""
    key = key_of(job)
    batch = Batch(job, key, {i: str(p) for i, p in runs.items()}, created=time.time_ns())
    folder = project.root / project.run_dir_name(job.name, key)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{BATCH_FILE}.{os.getpid()}.tmp"
    tmp.write_bytes(pickle.dumps({"job": job, "runs": dict(batch.runs), "created": batch.created}))
    tmp.replace(folder / BATCH_FILE)
    return batch


def recorded(session: Session, workflow: str) -> list[Batch]:
    """The batches of the current definition of ``workflow``, oldest first (those whose
    description is unreadable, e.g. written by an older version, are left out)."""
    state = session.state
    info = state.workflow(workflow)
    out = []
    for key in info.job_keys if info is not None else ():
        job = state.job(key)
        if job is None or not job.run_dir:
            continue
        try:
            data = pickle.loads((session.project.root / job.run_dir / BATCH_FILE).read_bytes())  # noqa: S301
            batch = Batch(data["job"], key, dict(data["runs"]), int(data.get("created", 0)))
        except (OSError, pickle.UnpicklingError, AttributeError, ImportError, KeyError, TypeError, EOFError):
            continue
        if key_of(batch.job) == key:
            out.append(batch)
    return sorted(out, key=lambda b: b.created)


def latest(batches: Iterable[Batch]) -> dict[str, tuple[Batch, int]]:
    """Run folder -> the batch (and index) that ran it last."""
    out: dict[str, tuple[Batch, int]] = {}
    for batch in batches:
        for index, folder in batch.runs.items():
            out[folder] = (batch, index)
    return out


def in_flight(session: Session, key: str, index: int) -> bool:
    """True while element ``index`` of batch ``key`` may still run (or run again)."""
    record = session.state.record(key)
    if record is None or not is_open(record):
        return False
    if job_phase(record)[2].is_final:
        return True  # final with a retry to come: every element runs again
    info = session.state.job(key)
    current = info.current if info is not None else None
    for element in current.elements if current is not None else ():
        if element.index == index:
            return not element.state.is_final
    return True


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` ... when a kept batch has it."""
    used = set(taken)
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{name}-{number}"
    return candidate
