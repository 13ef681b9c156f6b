"""Rows of SLURM output (``squeue``/``sacct`` columns, ``scontrol`` pairs, JSON) ->
:class:`~jobledger.schedulers.base.Observation`, keyed per job or array element.

A row is a mapping of canonical field names (``id``, ``array_job``, ``state``, ``exit_pair``
...) to text; :func:`_collect` turns rows into observations, later rows winning.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from jobledger.errors import ModelError
from jobledger.model.array import ArraySpec
from jobledger.schedulers.base import SIGNAL_EXIT_OFFSET, Observation, element_key
from jobledger.schedulers.slurm.states import _state
from jobledger.states import JobState

_NA = frozenset({"", "n/a", "na", "none", "unknown", "(null)", "null"})
_JOBID = re.compile(r"(\d+)(?:_(\d+|\[[^\]]*\]))?(?:\+(\d+))?(?:\.(\S+))?")
_COLUMN_KEYS: dict[str, str] = {
    "jobid": "id", "jobidraw": "raw_id", "arrayjobid": "array_job",
    "arraytaskid": "array_task", "state": "state", "statecompact": "state",
    "jobstate": "state", "st": "state", "reason": "reason", "exit_code": "exit_status",
    "exitcode": "exit_pair", "starttime": "start", "start": "start", "endtime": "end",
    "end": "end", "name": "name", "jobname": "name", "comment": "comment",
    "username": "user", "user": "user", "userid": "user",
}  # fmt: skip
#: ``squeue -o`` letters (``%i``, ``%.15j`` ...) for the same fields.
_PERCENT_KEYS: dict[str, str] = {
    "i": "id", "A": "raw_id", "F": "array_job", "K": "array_task", "t": "state",
    "T": "state", "r": "reason", "j": "name", "k": "comment", "u": "user",
    "S": "start", "e": "end",
}  # fmt: skip


def _column_key(column: str) -> str:
    text = column.strip()
    if text.startswith("%"):
        return _PERCENT_KEYS.get(re.sub(r"^%\.?\d*", "", text), "")
    return _COLUMN_KEYS.get(text.lower(), "")


def _parse_time(text: str | None) -> float | None:
    value = (text or "").strip()
    if value.lower() in _NA or value == "0":
        return None
    if value.isdigit():
        return float(value)
    try:
        return time.mktime(time.strptime(value, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def _exit_from_signal(code: int, signal: int) -> tuple[int, int | None]:
    if signal:
        return SIGNAL_EXIT_OFFSET + signal, signal
    return code, None


def _parse_exit(fields: Mapping[str, str]) -> tuple[int | None, int | None]:
    """(exit code, signal) from ``exit:signal`` or a raw wait status."""
    pair = fields.get("exit_pair", "").strip()
    m = re.fullmatch(r"(\d+):(\d+)", pair)
    if m:
        return _exit_from_signal(int(m.group(1)), int(m.group(2)))
    raw = fields.get("exit_status", "").strip()
    if raw.isdigit():
        status = int(raw)
        return _exit_from_signal((status >> 8) & 0xFF, status & 0x7F)
    m = re.fullmatch(r"(\d+):(\d+)", raw)  # some versions print exit:signal here too
    if m:
        return _exit_from_signal(int(m.group(1)), int(m.group(2)))
    return None, None


def _expand(task: str) -> list[int]:
    """Array indices in ``4``, ``[2-5%2]``, ``1,3,5-7`` (empty if unreadable)."""
    text = task.strip().strip("[]")
    try:
        return list(ArraySpec.parse(text).indices)
    except ModelError:
        return []


def _targets(fields: Mapping[str, str]) -> list[tuple[str, int | None]]:
    """(base id, array index) pairs a row speaks about; empty for steps and odd ids."""
    array_job = fields.get("array_job", "").strip()
    array_task = fields.get("array_task", "").strip()
    if array_job.isdigit() and array_job != "0" and array_task.lower() not in _NA:
        return [(array_job, index) for index in _expand(array_task)]
    job = (fields.get("id") or fields.get("raw_id") or "").strip()
    m = _JOBID.fullmatch(job)
    if not m or m.group(4) is not None or (m.group(3) not in (None, "0")):
        return []
    base, task = m.group(1), m.group(2)
    if task is None:
        return [(base, None)]
    return [(base, index) for index in _expand(task)]


def _clean(value: str | None) -> str:
    text = (value or "").strip()
    return "" if text.lower() in ("(null)", "none") else text


def _observations(fields: Mapping[str, str], sacct: bool = False) -> Iterator[Observation]:
    native = fields.get("state", "").strip()
    reason = _clean(fields.get("reason"))
    state = _state(native, reason)
    started = _parse_time(fields.get("start")) if state is not JobState.SUBMITTED else None
    ended = _parse_time(fields.get("end")) if state.is_final else None
    if sacct and native == "CANCELLED" and (started is None or started == ended):
        # sacct keeps no DependencyNeverSatisfied: a user's scancel reads "CANCELLED by
        # <uid>", a plain "CANCELLED" that never started is slurmctld's own kill, which
        # for jobledger's jobs (always --kill-on-invalid-dep=yes) is a failed dependency.
        state = JobState.DEPENDENCY_FAILED
    exit_code, signal = _parse_exit(fields) if state.is_final else (None, None)
    if state is JobState.DEPENDENCY_FAILED:
        exit_code, signal, started = None, None, None
    for base, index in _targets(fields):
        yield Observation(
            key=element_key(base, index),
            state=state,
            native=native,
            reason=reason,
            exit_code=exit_code,
            signal=signal,
            name=_clean(fields.get("name")),
            comment=_clean(fields.get("comment")),
            base_id=base,
            array_index=index,
            started=started,
            ended=ended,
        )


def _rows(text: str, columns: Sequence[str], sep: str) -> Iterator[dict[str, str]]:
    keys = [_column_key(c) for c in columns]
    count = len(keys)
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(sep, count - 1)
        if len(parts) < count:
            continue  # an error message or a truncated line, not a record
        yield {key: value for key, value in zip(keys, parts, strict=True) if key}


def _collect(rows: Iterable[Mapping[str, str]], sacct: bool = False) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for fields in rows:
        for obs in _observations(fields, sacct):
            out[obs.key] = obs
    return out
