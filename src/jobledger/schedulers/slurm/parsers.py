"""The public SLURM parsers: ``squeue``, ``sacct`` (``--parsable2`` and ``--json``) and
``scontrol show job`` (also ``jobcomp/filetxt`` lines), each returning observations by key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from jobledger.schedulers.base import Observation
from jobledger.schedulers.slurm.records import _collect, _rows

#: ``squeue -O`` fields of :meth:`SlurmAdapter.status_argv`, in output order. ``Comment`` is
#: last so it may contain the separator.
STATUS_COLUMNS: tuple[str, ...] = (
    "JobID", "ArrayJobID", "ArrayTaskID", "State", "Reason", "exit_code",
    "StartTime", "EndTime", "UserName", "Name", "Comment",
)  # fmt: skip
#: ``sacct -o`` fields of :meth:`SlurmAdapter.accounting_argv`, in output order.
ACCOUNTING_COLUMNS: tuple[str, ...] = (
    "JobID", "JobIDRaw", "State", "ExitCode", "Reason", "Start", "End", "User",
    "JobName", "Comment",
)  # fmt: skip


def parse_squeue(
    text: str, columns: Sequence[str] = STATUS_COLUMNS, sep: str = "|"
) -> dict[str, Observation]:
    """Observations from ``squeue -h`` output whose fields are ``columns`` joined by ``sep``.

    ``columns`` are ``squeue -O``/``sacct -o`` field names (``JobID``, ``ArrayJobID``,
    ``ArrayTaskID``, ``State`` or ``StateCompact``, ``Reason``, ``exit_code``,
    ``StartTime``, ``EndTime``, ``UserName``, ``Name``, ``Comment``) or ``squeue -o``
    letters (``%i``, ``%t``, ``%r``, ``%.15j`` ...); other columns are skipped.
    The last column may contain ``sep``. Lines with too few fields are ignored.
    """
    return _collect(_rows(text, columns, sep))


def parse_sacct(
    text: str, columns: Sequence[str] = ACCOUNTING_COLUMNS, sep: str = "|"
) -> dict[str, Observation]:
    """Observations from ``sacct -n -P`` output (job steps such as ``123.batch`` skipped;
    a still-pending array range ``123_[4-9%2]`` is expanded). sacct forgets the reason
    ``DependencyNeverSatisfied``; a plain ``CANCELLED`` (not ``CANCELLED by <uid>``) that
    never started is read as :attr:`JobState.DEPENDENCY_FAILED`."""
    return _collect(_rows(text, columns, sep), sacct=True)


_PAIR = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:/]*)=")
_SCONTROL_KEYS: dict[str, str] = {
    "JobId": "id", "ArrayJobId": "array_job", "ArrayTaskId": "array_task",
    "JobName": "name", "Name": "name", "JobState": "state", "Reason": "reason",
    "ExitCode": "exit_pair", "StartTime": "start", "EndTime": "end",
    "Comment": "comment", "UserId": "user",
}  # fmt: skip


def _pairs(line: str) -> Iterator[tuple[str, str]]:
    matches = list(_PAIR.finditer(line))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        yield m.group(1), line[m.end() : end].strip()


def parse_scontrol(text: str) -> dict[str, Observation]:
    """Observations from ``scontrol show job`` in multi-line or ``-o`` (one-line) form,
    also ``-d``/``-dd`` detail, and from ``jobcomp/filetxt`` lines (same ``Key=Value``
    shape). An array's records are keyed per element via ``ArrayJobId``/``ArrayTaskId``."""
    records: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("JobId="):
            current = {}
            records.append(current)
        if current is None or not stripped:
            continue
        for key, value in _pairs(stripped):
            canonical = _SCONTROL_KEYS.get(key)
            if canonical and canonical not in current:
                current[canonical] = value
    return _collect(records)


def _json_number(value: Any) -> int | None:
    """An int from SLURM's JSON (plain, or ``{"set": true, "number": n}`` since v0.0.39)."""
    if isinstance(value, dict):
        return int(value["number"]) if value.get("set", True) and "number" in value else None
    if isinstance(value, bool) or value is None:
        return None
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None


def parse_sacct_json(text: str) -> dict[str, Observation]:
    """Observations from ``sacct --json`` (openapi dbv0.0.37 of 22.05 and later shapes).
    When a job id has several records (requeued), the last one wins."""
    data = json.loads(text)
    rows: list[dict[str, str]] = []
    for job in data.get("jobs", []):
        state = job.get("state") or {}
        current = state.get("current", "")
        native = " ".join(current) if isinstance(current, list) else str(current)
        array = job.get("array") or {}
        array_job = _json_number(array.get("job_id")) or 0
        task_id = _json_number(array.get("task_id"))
        task = str(task_id) if task_id is not None else str(array.get("task") or "")
        exit_info = job.get("exit_code") or {}
        status = exit_info.get("status", "")
        status = " ".join(status) if isinstance(status, list) else str(status)
        code = _json_number(exit_info.get("return_code")) or 0
        signal = _json_number((exit_info.get("signal") or {}).get("signal_id")) or 0
        if "SIGNALED" not in status:
            signal = 0
        times = job.get("time") or {}
        comment = job.get("comment") or {}
        rows.append({
            "id": str(_json_number(job.get("job_id")) or ""),
            "array_job": str(array_job) if array_job else "",
            "array_task": task if array_job else "",
            "state": native,
            "reason": str(state.get("reason") or ""),
            "exit_pair": f"{code}:{signal}",
            "start": str(_json_number(times.get("start")) or ""),
            "end": str(_json_number(times.get("end")) or ""),
            "name": str(job.get("name") or ""),
            "comment": str(comment.get("job") or "") if isinstance(comment, dict) else "",
            "user": str(job.get("user") or ""),
        })  # fmt: skip
    return _collect(rows)
