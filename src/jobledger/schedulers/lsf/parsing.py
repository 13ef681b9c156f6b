"""Reading what LSF prints: ``bjobs`` in its JSON, delimited, table and long forms, and
the observations made of its records (states, ``TERM_*`` exit reasons, pending reasons)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from jobledger.schedulers.base import Observation, element_key
from jobledger.states import JobState

#: ``bjobs -o`` fields of the status call, free text last (the delimited form splits on
#: the first ``len - 1`` delimiters only).
STATUS_FIELDS: tuple[str, ...] = (
    "jobid",
    "jobindex",
    "stat",
    "exit_code",
    "job_name",
    "job_description",
    "dependency",
    "exit_reason",
    "pend_reason",
)

_STATES: dict[str, JobState] = {
    "PEND": JobState.SUBMITTED,
    "PROV": JobState.SUBMITTED,  # dispatched to a host being powered up
    "PSUSP": JobState.SUBMITTED,  # suspended (held) while pending
    "WAIT": JobState.SUBMITTED,  # chunk-job member waiting its turn
    "RUN": JobState.RUNNING,
    "USUSP": JobState.RUNNING,  # suspended by its owner while running
    "SSUSP": JobState.RUNNING,  # suspended by LSF while running
    "UNKWN": JobState.RUNNING,  # sbatchd lost contact; LSF decides later
    "ZOMBI": JobState.RUNNING,  # killed while UNKWN; ends as EXIT
    "DONE": JobState.COMPLETED,
    "EXIT": JobState.FAILED,  # refined by exit_reason
}

#: ``TERM_*`` exit reasons that say more than "failed".
TERM_REASONS: dict[str, JobState] = {
    "TERM_RUNLIMIT": JobState.TIMEOUT,
    "TERM_CPULIMIT": JobState.TIMEOUT,
    "TERM_DEADLINE": JobState.TIMEOUT,
    "TERM_MEMLIMIT": JobState.OUT_OF_MEMORY,
    "TERM_SWAP": JobState.OUT_OF_MEMORY,
    "TERM_OWNER": JobState.CANCELLED,
    "TERM_ADMIN": JobState.CANCELLED,
    "TERM_FORCE_OWNER": JobState.CANCELLED,
    "TERM_FORCE_ADMIN": JobState.CANCELLED,
    "TERM_BUCKET_KILL": JobState.CANCELLED,
    "TERM_REMOVE_HUNG_JOB": JobState.CANCELLED,
    "TERM_PREEMPT": JobState.PREEMPTED,
    "TERM_ORPHAN_SYSTEM": JobState.DEPENDENCY_FAILED,
    "TERM_HOST_FAILURE": JobState.NODE_FAIL,
}

#: Field aliases ``bjobs -o`` accepts, mapped to the JSON key LSF prints.
_ALIASES = {"id": "JOBID", "name": "JOB_NAME", "desc": "JOB_DESCRIPTION"}
_DEPENDENCY_KIND = {"afterok": "done", "afterany": "ended", "afternotok": "exit"}
_SUBMIT_RE = re.compile(r"Job <(\d+)> is submitted")
_INDEXED_RE = re.compile(r"^(?P<id>\d+)\[(?P<idx>\d+)\]$")
_JOB_ID_RE = re.compile(r"^\d+(?:\[\d+\])?$")
_LONG_HEAD_RE = re.compile(r"^Job <[^>]+>,")
_NAME_INDEX_RE = re.compile(r"\[(\d+)\]$")
_LONG_CONTINUATION = " " * 21
_ENDED_MARKERS = ("already finished", "no matching job", "is not found")


# ---------------------------------------------------------------------------- parsing
def parse_bjobs(stdout: str, fields: Sequence[str] = STATUS_FIELDS) -> list[dict[str, str]]:
    """Records of ``bjobs`` output, keyed like the JSON form (``JOBID``, ``STAT`` ...).

    Reads ``-json``, ``bjobs -l`` long output, the default table, and ``-noheader -o``
    with ``delimiter='|'`` (``fields`` says which columns; ``-`` means empty there).
    """
    head = stdout.lstrip()
    if not head:
        return []
    if head.startswith("{"):
        data = json.loads(head, strict=False)
        return [{k: str(v) for k, v in r.items()} for r in data.get("RECORDS", [])]
    if _LONG_HEAD_RE.match(head):
        return _parse_long(head)
    if head.startswith("JOBID"):
        return _parse_table(head)
    return _parse_delimited(stdout, fields)


def _parse_delimited(stdout: str, fields: Sequence[str]) -> list[dict[str, str]]:
    keys = [_ALIASES.get(f.lower(), f.upper()) for f in fields]
    out = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.strip().split("|", len(keys) - 1)]
        record = {k: ("" if v == "-" else v) for k, v in zip(keys, values, strict=False)}
        out.append(record)
    return out


def _parse_table(text: str) -> list[dict[str, str]]:
    """The default ``bjobs`` table: columns sliced at the header's word starts; an
    indented line continues ``EXEC_HOST`` of the job above."""
    lines = text.splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    out: list[dict[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0].isspace():
            if out:
                out[-1]["EXEC_HOST"] = (out[-1].get("EXEC_HOST", "") + " " + line.strip()).strip()
            continue
        bounds = [*starts[1:], None]
        record = {
            name: line[start:end].strip() for name, start, end in zip(names, starts, bounds, strict=False)
        }
        out.append(record)
    return out


def _parse_long(text: str) -> list[dict[str, str]]:
    """``bjobs -l``: 80-column lines whose 21-space continuations split words."""
    out = []
    for block in re.split(r"^-{10,}\s*$", text, flags=re.MULTILINE):
        lines: list[str] = []
        for line in block.splitlines():
            if line.startswith(_LONG_CONTINUATION) and lines:
                lines[-1] += line[len(_LONG_CONTINUATION) :]
            else:
                lines.append(line)
        joined = "\n".join(lines)
        job = re.search(r"Job <(\d+)(?:\[(\d+)\])?>", joined)
        if not job:
            continue
        record = {"JOBID": job.group(1), "JOBINDEX": job.group(2) or ""}
        for key, pattern in (
            ("JOB_NAME", r"Job Name <([^>]*)>"),
            ("STAT", r"Status <(\w+)>"),
            ("JOB_DESCRIPTION", r"Job Description <([^>]*)>"),
            ("EXIT_CODE", r"Exited with exit code (\d+)"),
            ("EXIT_REASON", r"(TERM_\w+: [^;\n]*)"),
            ("DEPENDENCY", r"Dependency Condition <([^>]*)>"),
            ("PEND_REASON", r"PENDING REASONS:\n\s*([^\n]+)"),
        ):
            m = re.search(pattern, joined)
            record[key] = m.group(1).strip() if m else ""
        out.append(record)
    return out


def lsf_observation(record: Mapping[str, str]) -> Observation | None:
    """One ``bjobs`` record as an :class:`Observation`; ``None`` without a ``JOBID``."""
    job_id = record.get("JOBID", "").strip()
    if not _JOB_ID_RE.match(job_id) or record.get("ERROR"):
        return None
    index: int | None = None
    indexed = _INDEXED_RE.match(job_id)
    if indexed:
        job_id, index = indexed.group("id"), int(indexed.group("idx"))
    raw_index = record.get("JOBINDEX", "").strip()
    if raw_index.isdigit() and int(raw_index) > 0:
        index = int(raw_index)
    name = record.get("JOB_NAME", "").strip()
    if index is None and "JOBINDEX" not in record:
        in_name = _NAME_INDEX_RE.search(name)
        index = int(in_name.group(1)) if in_name else None
    native = record.get("STAT", "").strip().upper()
    state = _STATES.get(native, JobState.SUBMITTED)
    exit_text = record.get("EXIT_CODE", "").strip()
    exit_code = int(exit_text) if exit_text.lstrip("-").isdigit() else None
    exit_reason = record.get("EXIT_REASON", "").strip()
    reason = ""
    if native == "DONE":
        exit_code = 0
    elif native == "EXIT":
        term = exit_reason.split(":", 1)[0].strip()
        state = TERM_REASONS.get(term, JobState.FAILED)
        reason = exit_reason
    elif state is JobState.SUBMITTED:
        reason = _pending_reason(native, record.get("PEND_REASON", ""))
    elif native != "RUN":
        reason = native
    return Observation(
        key=element_key(job_id, index),
        state=state,
        native=native,
        reason=reason,
        exit_code=exit_code if state is not JobState.SUBMITTED else None,
        name=name,
        comment=record.get("JOB_DESCRIPTION", "").strip(),
        base_id=job_id,
        array_index=index,
    )


def _pending_reason(native: str, pend_reason: str) -> str:
    text = pend_reason.strip().rstrip(";")
    lowered = text.lower()
    if "never satisfied" in lowered or "dependency condition invalid" in lowered:
        return "DependencyNeverSatisfied"
    if "dependency" in lowered:
        return "Dependency"
    if native == "PSUSP":
        return text or "Held"
    return text


def observations(records: Iterable[Mapping[str, str]]) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for record in records:
        obs = lsf_observation(record)
        if obs is not None:
            out[obs.key] = obs
    return out
