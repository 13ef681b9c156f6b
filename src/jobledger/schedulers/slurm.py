"""SLURM: ``#SBATCH`` directives, sbatch/squeue/sacct/scontrol/scancel argv, and parsers.

Everything here is pure: the engine runs the argv lists on a host and hands the output back.
Parsers were checked against output captured on SLURM 22.05 (``fixtures/slurm/``) and
against recordings from production clusters of other versions.

What the engine should know (seen on 22.05, see ``fixtures/slurm/README.md``):

* ``squeue -t all`` shows finished jobs only for ``MinJobAge`` seconds (300 by default);
  after that ``squeue``/``scontrol`` forget them and only ``sacct`` (with slurmdbd) or the
  ``jobcomp/filetxt`` file still know the outcome. ``squeue -j <one unknown id>`` exits 1
  (``Invalid job id specified``); with two or more ids, or with ``-u``, it exits 0.
* ``squeue -O exit_code`` is the raw wait status (768 = exit 3, 9 = SIGKILL); ``sacct`` and
  ``scontrol`` print ``exit:signal`` (``3:0``, ``0:9``). Both become
  :attr:`Observation.exit_code` (``128 + signal`` when a signal ended the job, like a shell)
  and :attr:`Observation.signal`. Exit codes are only reported for final states.
* Pending array elements keep the array's own job id; each element gets its own id when it
  starts. Keys are therefore always built from ``ArrayJobID``/``ArrayTaskID``.
* An ``afterok`` dependent of a failed job stays ``PENDING`` with reason
  ``DependencyNeverSatisfied`` forever; with ``--kill-on-invalid-dep=yes`` (always set here
  when a job has dependencies) it becomes ``CANCELLED`` with that reason. Both map to
  :attr:`JobState.DEPENDENCY_FAILED`.
* Times are requested as epoch seconds (``SLURM_TIME_FORMAT=%s`` through ``env``), so
  the engine's and the cluster's time zones never matter; ISO times (other tools'
  recordings) are read as local time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from jobledger.errors import (
    ModelError,
    ResourceError,
    SchedulerError,
    SubmitError,
    UnsupportedResource,
)
from jobledger.model.array import ArraySpec
from jobledger.schedulers.base import (
    SIGNAL_EXIT_OFFSET,
    BatchSpec,
    NativeDependency,
    Observation,
    SchedulerAdapter,
    element_key,
    state_from_map,
)
from jobledger.states import JobState

__all__ = [
    "ACCOUNTING_COLUMNS",
    "STATE_MAP",
    "STATUS_COLUMNS",
    "SlurmAdapter",
    "format_time_limit",
    "is_submit_limit",
    "parse_sacct",
    "parse_sacct_json",
    "parse_scontrol",
    "parse_squeue",
    "sbatch_quote",
]

_S = JobState
#: SLURM job states (long and compact spellings) -> :class:`JobState`.
STATE_MAP: dict[str, JobState] = {
    # waiting
    "PENDING": _S.SUBMITTED, "PD": _S.SUBMITTED,
    "CONFIGURING": _S.SUBMITTED, "CF": _S.SUBMITTED,
    "REQUEUED": _S.SUBMITTED, "RQ": _S.SUBMITTED,
    "REQUEUE_FED": _S.SUBMITTED, "RF": _S.SUBMITTED,
    "REQUEUE_HOLD": _S.SUBMITTED, "RH": _S.SUBMITTED,
    "RESV_DEL_HOLD": _S.SUBMITTED, "RD": _S.SUBMITTED,
    # holding an allocation, outcome not known yet
    "RUNNING": _S.RUNNING, "R": _S.RUNNING,
    "COMPLETING": _S.RUNNING, "CG": _S.RUNNING,
    "RESIZING": _S.RUNNING, "RS": _S.RUNNING,
    "SIGNALING": _S.RUNNING, "SI": _S.RUNNING,
    "STAGE_OUT": _S.RUNNING, "SO": _S.RUNNING,
    "STOPPED": _S.RUNNING, "ST": _S.RUNNING,
    "SUSPENDED": _S.RUNNING, "S": _S.RUNNING,
    # final
    "COMPLETED": _S.COMPLETED, "CD": _S.COMPLETED,
    "FAILED": _S.FAILED, "F": _S.FAILED,
    "SPECIAL_EXIT": _S.FAILED, "SE": _S.FAILED,
    "CANCELLED": _S.CANCELLED, "CA": _S.CANCELLED,
    "REVOKED": _S.CANCELLED, "RV": _S.CANCELLED,
    "TIMEOUT": _S.TIMEOUT, "TO": _S.TIMEOUT,
    "DEADLINE": _S.TIMEOUT, "DL": _S.TIMEOUT,
    "OUT_OF_MEMORY": _S.OUT_OF_MEMORY, "OOM": _S.OUT_OF_MEMORY,
    "NODE_FAIL": _S.NODE_FAIL, "NF": _S.NODE_FAIL,
    "PREEMPTED": _S.PREEMPTED, "PR": _S.PREEMPTED,
    "BOOT_FAIL": _S.BOOT_FAIL, "BF": _S.BOOT_FAIL,
}  # fmt: skip

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

_TIME_ENV = ("env", "SLURM_TIME_FORMAT=%s")
_NA = frozenset({"", "n/a", "na", "none", "unknown", "(null)", "null"})
_DEP_KINDS = ("afterok", "afterany", "afternotok", "after", "aftercorr")
_NEVER = "DependencyNeverSatisfied"

# ---------------------------------------------------------------------------- quoting
# sbatch splits an #SBATCH line into words itself (src/sbatch/opt.c _get_argument): ' and "
# group, a backslash escapes the next character except whitespace (so "a\ b" is two words),
# an unquoted # starts a comment. Older sbatch blank out "packjob" anywhere on the line and
# treat "hetjob"/"packjob" lines as component separators; a backslash inside the word keeps
# the text and defeats that scan.
_SAFE_WORD = re.compile(r"[A-Za-z0-9._,:=/@+%^~-]+")
_HET_WORD = re.compile(r"(het|pack)(j)(ob)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_line(value: str, field: str) -> None:
    if _CONTROL.search(value):
        what = "a newline" if ("\n" in value or "\r" in value) else "a control character"
        raise ModelError(f"slurm: {field}={value!r} contains {what}; it cannot be put on an #SBATCH line")


def sbatch_quote(value: str, field: str = "value") -> str:
    """``value`` as one word of an ``#SBATCH`` line that sbatch reads back unchanged.

    Plain words stay as they are; anything else is double-quoted with ``\\`` and ``"``
    escaped, so spaces, quotes, ``#``, ``$()`` and backticks are inert text. Newlines and
    control characters raise :class:`~jobledger.errors.ModelError` naming ``field``.
    """
    _check_line(value, field)
    if _SAFE_WORD.fullmatch(value):
        word = value
    else:
        word = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _HET_WORD.sub(r"\1\\\2\3", word)


def format_time_limit(seconds: int) -> str:
    """``--time`` value ``D-HH:MM:SS`` (SLURM rounds seconds up to whole minutes)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"


# Options that carry the engine's identity tags or the workflow graph: raw extras may not
# override them (getopt also accepts unambiguous prefixes such as --comm for --comment).
_RESERVED_LONG = ("job-name", "comment", "array", "dependency", "kill-on-invalid-dep",
                  "parsable", "wrap", "hetjob", "packjob")  # fmt: skip
_RESERVED_SHORT = frozenset("Jad")
_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _raw_directive(item: str, field: str) -> str:
    """One raw extra (``--foo=bar``, ``foo=bar``, ``--flag``, ``-p x``) as an #SBATCH body."""
    _check_line(item, field)
    text = item.strip()
    if text.startswith("#SBATCH"):
        text = text[len("#SBATCH") :].strip()
    if not text:
        raise ResourceError(field, item, "empty raw directive")
    if text.startswith("-") and not text.startswith("--"):
        letter, rest = text[1:2], text[2:].strip()
        if not letter.isalpha():
            raise ResourceError(field, item, "expected -X [value], --name[=value] or name=value")
        if letter in _RESERVED_SHORT:
            raise UnsupportedResource(
                f"slurm: raw directive {item!r} would override -{letter}, which jobledger "
                "sets itself (job name, comment, array, dependencies)"
            )
        return f"-{letter}" + (f" {sbatch_quote(rest, field)}" if rest else "")
    body = text[2:] if text.startswith("--") else text
    if "=" in body:
        name, _, value = body.partition("=")
        has_value = True
    else:
        name, _, value = body.partition(" ")
        has_value = bool(value.strip())
    name, value = name.strip(), value.strip()
    if not _OPTION_NAME.fullmatch(name):
        raise ResourceError(field, item, "expected -X [value], --name[=value] or name=value")
    if any(reserved.startswith(name.lower()) for reserved in _RESERVED_LONG):
        raise UnsupportedResource(
            f"slurm: raw directive {item!r} would override --{name}, which jobledger sets "
            "itself (job name, comment, array, dependencies)"
        )
    return f"--{name}" + (f"={sbatch_quote(value, field)}" if has_value else "")


def _native_id(job_id: str) -> str:
    """``123``, ``123_4`` or ``123[4]`` as SLURM spells it (``123``/``123_4``)."""
    text = job_id.strip()
    m = re.fullmatch(r"(\d+)(?:\[(\d+)\]|_(\d+))?", text)
    if not m:
        raise SchedulerError(f"slurm: {job_id!r} is not a SLURM job id")
    index = m.group(2) or m.group(3)
    return m.group(1) if index is None else f"{m.group(1)}_{index}"


def _dependency_value(deps: Sequence[NativeDependency]) -> str:
    groups: dict[str, list[str]] = {}
    for dep in deps:
        kind = dep.kind.strip().lower()
        if kind not in _DEP_KINDS:
            raise UnsupportedResource(
                f"slurm: dependency kind {dep.kind!r} is not supported; use one of {', '.join(_DEP_KINDS)}"
            )
        ids = groups.setdefault(kind, [])
        native = _native_id(dep.scheduler_id)
        if native not in ids:
            ids.append(native)
    return ",".join(f"{kind}:{':'.join(ids)}" for kind, ids in groups.items())


# ---------------------------------------------------------------------------- parsing
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


def _state(native: str, reason: str) -> JobState:
    words = native.split(maxsplit=1)
    word = words[0].rstrip("+") if words else ""
    state = state_from_map(word, STATE_MAP, JobState.SUBMITTED)
    if reason == _NEVER and state in (JobState.SUBMITTED, JobState.CANCELLED):
        return JobState.DEPENDENCY_FAILED
    return state


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


# ---------------------------------------------------------------------------- messages
_SUBMITTED = re.compile(r"(?:Submitted batch job\s+)?(\d+)(?:;\S+)?")
_SLURM_TRANSIENT = (
    "socket timed out",
    "unable to contact slurm controller",
    "resource temporarily unavailable",
    "temporarily unable to accept job",
    "zero bytes were transmitted or received",
    "communication connection failure",
    "slurm backup controller in standby mode",
    "slurmctld is not responding",
    "connection reset by peer",
    "transport endpoint is not connected",
    "protocol authentication error",  # munged restarting
)
_SUBMIT_LIMIT = re.compile(
    r"MaxSubmitJob|GrpSubmitJob|MaxSubmitLimit|job submit limit|SubmitJobsLimit",
    re.IGNORECASE,
)
_CANCEL_IGNORABLE = (
    "already completing or completed",
    "job/step already completing",
    "invalid job id specified",
    "job has already finished",
)


def is_submit_limit(text: str) -> bool:
    """True when sbatch refused because a per-user/account/QOS submit limit is reached
    (``QOSMaxSubmitJobPerUserLimit``, ``AssocMaxSubmitJobLimit``, ...): throttle and retry
    once some jobs have left the queue. SLURM's generic line "Job violates accounting/QOS
    policy (job submit limit, user's size and/or time limits)" alone is not enough (size
    and time limits share it), so the specific reason code must be present."""
    for line in text.splitlines():
        if "violates accounting/qos policy" in line.lower():
            continue
        if _SUBMIT_LIMIT.search(line):
            return True
    return False


# ---------------------------------------------------------------------------- adapter
class SlurmAdapter(SchedulerAdapter):
    """SLURM (``sbatch``/``squeue``/``sacct``/``scontrol``/``scancel``)."""

    name: ClassVar[str] = "slurm"

    # ------------------------------------------------------------------ scripts
    def directives(self, spec: BatchSpec) -> list[str]:
        """``#SBATCH`` lines for ``spec``, every value quoted for sbatch's own word splitter."""
        res = spec.resources
        lines = [f"--job-name={sbatch_quote(spec.job_name, 'job_name')}"]
        if spec.comment:
            lines.append(f"--comment={sbatch_quote(spec.comment, 'comment')}")
        _check_line(spec.run_dir, "run_dir")
        if "\\" in spec.run_dir:
            raise ModelError(
                f"slurm: run_dir={spec.run_dir!r} contains a backslash, which turns off "
                "SLURM's %j/%A/%a file name patterns"
            )
        pattern = "slurm-%A_%a.out" if spec.array is not None else "slurm-%j.out"
        log = spec.run_dir.rstrip("/").replace("%", "%%") + "/" + pattern
        lines.append(f"--output={sbatch_quote(log, 'run_dir')}")
        lines.append(f"--chdir={sbatch_quote(spec.workdir, 'workdir')}")
        if spec.array is not None:
            lines.append(f"--array={spec.array.compact()}")
        if spec.dependencies:
            lines.append(f"--dependency={_dependency_value(spec.dependencies)}")
            lines.append("--kill-on-invalid-dep=yes")
        for option, value in (
            ("partition", res.partition),
            ("account", res.account),
            ("qos", res.qos),
        ):
            if value is not None:
                lines.append(f"--{option}={sbatch_quote(value, option)}")
        if res.nodes is not None:
            lines.append(f"--nodes={res.nodes}")
        if res.tasks is not None:
            lines.append(f"--ntasks={res.tasks}")
        if res.cpus is not None:
            lines.append(f"--cpus-per-task={res.cpus}")
        if res.memory is not None:
            lines.append(f"--mem={res.memory}M")
        if res.memory_per_cpu is not None:
            lines.append(f"--mem-per-cpu={res.memory_per_cpu}M")
        if res.gpus:
            lines.append(f"--gpus={res.gpus}")
        if res.time is not None:
            lines.append(f"--time={format_time_limit(res.time)}")
        if res.constraint is not None:
            lines.append(f"--constraint={sbatch_quote(res.constraint, 'constraint')}")
        if res.exclusive:
            lines.append("--exclusive")
        lines.extend(_raw_directive(item, "extra") for item in res.extra)
        lines.extend(_raw_directive(item, "slurm_args") for item in spec.raw_args)
        return [f"#SBATCH {line}" for line in lines]

    # ------------------------------------------------------------------ submission
    def submit_argv(self, script_path: str) -> list[str]:
        """``sbatch --parsable <script>``: prints ``<id>`` or ``<id>;<cluster>``."""
        return ["sbatch", "--parsable", script_path]

    def parse_submit(self, returncode: int, stdout: str, stderr: str) -> str:
        """The job id from ``123``, ``123;cluster`` or ``Submitted batch job 123``."""
        if returncode == 0:
            for line in stdout.splitlines():
                m = _SUBMITTED.fullmatch(line.strip())
                if m:
                    return m.group(1)
            raise SubmitError(
                f"slurm: sbatch exited 0 without a job id (stdout {stdout.strip()!r}, "
                f"stderr {stderr.strip()!r}); the job may exist: look it up by name",
                transient=False,
            )
        raise self.submit_error(returncode, stdout, stderr)

    def is_transient(self, text: str) -> bool:
        """Controller/daemon hiccups and submit limits are worth retrying later."""
        lowered = text.lower()
        if any(marker in lowered for marker in _SLURM_TRANSIENT):
            return True
        return is_submit_limit(text) or super().is_transient(text)

    @staticmethod
    def is_submit_limit(text: str) -> bool:
        """See :func:`is_submit_limit`."""
        return is_submit_limit(text)

    # ------------------------------------------------------------------ observation
    def _squeue(self, user: str | None, extra: Sequence[str]) -> list[str]:
        fmt = ",".join(f"{c}:0|" for c in STATUS_COLUMNS[:-1]) + f",{STATUS_COLUMNS[-1]}:0"
        who = ["--user", user] if user else ["--me"]
        return [*_TIME_ENV, "squeue", "--noheader", "--array", "--states=all", *who,
                *extra, f"--Format={fmt}"]  # fmt: skip

    def status_argv(self, user: str | None, ids: Sequence[str]) -> list[str]:
        """One ``squeue`` listing every job of ``user`` (``--me`` when ``None``), array
        elements one per line, finished jobs included while SLURM remembers them
        (``MinJobAge``). ``ids`` are not passed: one call per host, any number of jobs."""
        return self._squeue(user, ())

    def parse_status(self, stdout: str) -> dict[str, Observation]:
        """Observations from :meth:`status_argv` / :meth:`lookup_argv` output."""
        return parse_squeue(stdout)

    def lookup_argv(self, user: str | None, job_name: str) -> list[str]:
        """``squeue`` restricted to jobs named ``job_name`` (parse with :meth:`parse_status`)."""
        _check_line(job_name, "job_name")
        return self._squeue(user, (f"--name={job_name}",))

    def accounting_argv(self, ids: Sequence[str]) -> list[str] | None:
        """``sacct`` for the allocations (``-X``: no steps) of ``ids`` (arrays expand to
        ``ID_N`` lines), parsable, ``exit:signal`` exit codes. Needs slurmdbd."""
        if not ids:
            return None
        native = ",".join(_native_id(i) for i in ids)
        return [*_TIME_ENV, "sacct", "--noheader", "--parsable2", "--allocations",
                f"--jobs={native}", f"--format={','.join(ACCOUNTING_COLUMNS)}"]  # fmt: skip

    def parse_accounting(self, stdout: str) -> dict[str, Observation]:
        """Observations from :meth:`accounting_argv` output."""
        return parse_sacct(stdout)

    def scontrol_argv(self, job_id: str) -> list[str]:
        """``scontrol -o show job ID`` (one line per job or array element)."""
        return [*_TIME_ENV, "scontrol", "--oneliner", "show", "job", _native_id(job_id)]

    @staticmethod
    def parse_scontrol(text: str) -> dict[str, Observation]:
        """See :func:`parse_scontrol`."""
        return parse_scontrol(text)

    def detail_argv(self, job_id: str) -> list[str] | None:
        """``scontrol show job`` (SLURM knows a job until ``MinJobAge`` after it ends)."""
        return self.scontrol_argv(job_id)

    def parse_detail(self, stdout: str) -> dict[str, Observation]:
        """See :func:`parse_scontrol`."""
        return parse_scontrol(stdout)

    def jobcomp_argv(self, path: str, ids: Sequence[str]) -> list[str] | None:
        """``grep`` for the ``jobcomp/filetxt`` lines of ``ids`` (arrays included) in the
        file at ``path`` (``JobCompLoc``, on the controller host). grep exits 1 when
        nothing matched. Parse with :func:`parse_scontrol`."""
        bases = sorted({_native_id(i).split("_")[0] for i in ids})
        if not bases:
            return None
        alternatives = "|".join(bases)
        pattern = f"^JobId=({alternatives}) | ArrayJobId=({alternatives}) "
        return ["grep", "-E", "--", pattern, path]

    # ------------------------------------------------------------------ cancellation
    def cancel_argv(self, ids: Sequence[str]) -> list[str]:
        """``scancel`` of base ids (whole arrays) and element keys (``123[4]`` -> ``123_4``)."""
        if not ids:
            raise SchedulerError("slurm: nothing to cancel")
        return ["scancel", *(_native_id(i) for i in ids)]

    def parse_cancel(self, returncode: int, stdout: str, stderr: str) -> None:
        """Accept success and jobs that had already ended; raise otherwise."""
        errors = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if "error" in line.lower()]
        remaining = [line for line in errors if not any(m in line.lower() for m in _CANCEL_IGNORABLE)]
        if remaining or (returncode != 0 and not errors):
            detail = "; ".join(remaining) or stderr.strip() or f"exit code {returncode}"
            raise SchedulerError(f"slurm: scancel failed: {detail}")

    # ------------------------------------------------------------------ misc
    def version_argv(self) -> list[str]:
        """``sbatch --version`` (prints ``slurm 22.05.8``)."""
        return ["sbatch", "--version"]

    @staticmethod
    def parse_version(text: str) -> str:
        """``'22.05.8'`` from ``slurm 22.05.8`` (or ``slurm-wlm 22.05.8``); ``''`` if absent."""
        m = re.search(r"\bslurm(?:-wlm)?\s+(\d+(?:\.\d+)*)", text)
        return m.group(1) if m else ""
