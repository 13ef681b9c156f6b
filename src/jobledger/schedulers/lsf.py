"""IBM Spectrum LSF adapter (``lsf``).

Choices, with the LSF 10.1 command reference as the source:

- **Submission on stdin** (``bsub < script``): ``bsub script`` treats the file as a command
  and ignores its ``#BSUB`` lines unless the site sets ``LSB_BSUB_PARSE_SCRIPT=Y``, so
  :attr:`LsfAdapter.submit_uses_stdin` is true and :meth:`LsfAdapter.submit_argv` is just
  ``bsub``; the engine feeds the script file to its standard input.
- **Key tag** in the job description (``-Jd``), which ``bjobs -o job_description`` prints,
  so the status call reveals it.
- **Arrays** ``-J "name[1-10:2,15]%3"``; LSF indices are positive, so an array holding
  index 0 is rejected (:class:`~jobledger.errors.UnsupportedResource`). The element's
  index is ``$LSB_JOBINDEX``; its key is ``<jobid>[<index>]``.
- **Status** in one call: ``bjobs -a -o "<fields>" -json [ids]`` (LSF >= 10.1); the
  fallback ``bjobs -a -noheader -o "<fields> delimiter='|'"`` for older servers. The parser
  also reads the default ``bjobs`` table and ``bjobs -l`` long output.
- **Memory**: ``Resources.memory`` (per node) becomes ``-M`` and a per-slot
  ``rusage[mem=...]``; ``memory_per_cpu`` is the per-slot reservation. Units are given
  explicitly (``MB``) so ``LSF_UNIT_FOR_LIMITS`` does not matter.
- **Exit reasons** (``exit_reason``, "Termination reasons displayed by bacct, bhist and
  bjobs"): ``TERM_RUNLIMIT`` -> timeout, ``TERM_MEMLIMIT``/``TERM_SWAP`` -> out of memory,
  ``TERM_OWNER``/``TERM_ADMIN``/``TERM_FORCE_*`` -> cancelled, ``TERM_PREEMPT`` ->
  preempted, ``TERM_ORPHAN_SYSTEM`` -> dependency failed. A job whose dependency can never
  be met stays ``PEND``; it is reported with reason ``DependencyNeverSatisfied``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from jobledger.errors import SchedulerError, UnsupportedResource
from jobledger.model.array import ArraySpec, compress_indices
from jobledger.model.resources import Resources
from jobledger.schedulers.base import (
    BatchSpec,
    Observation,
    SchedulerAdapter,
    Template,
    element_key,
)
from jobledger.states import JobState

__all__ = ["STATUS_FIELDS", "LsfAdapter", "lsf_observation", "parse_bjobs"]

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


# ---------------------------------------------------------------------------- adapter
class LsfAdapter(SchedulerAdapter):
    """IBM Spectrum LSF.

    ``json_status=False`` switches :meth:`status_argv` to the delimited form for LSF
    older than 10.1 (no ``-json``); :meth:`parse_status` reads every form.
    """

    array_base: ClassVar[int] = 1

    name: ClassVar[str] = "lsf"
    submit_uses_stdin: ClassVar[bool] = True
    extra_markers: ClassVar[tuple[str, ...]] = (
        "not responding",
        "please wait",
        "failed in an lsf library call",
        "timed out",
    )

    def __init__(self, template: Template | None = None, *, json_status: bool = True) -> None:
        super().__init__(template)
        self.json_status = json_status

    # ------------------------------------------------------------------ scripts
    def directives(self, spec: BatchSpec) -> list[str]:
        """``#BSUB`` lines for ``spec``."""
        res = spec.resources
        if res.qos:
            raise self._unsupported("qos", "LSF has no quality-of-service setting")
        if '"' in spec.comment or "\n" in spec.comment:
            raise self._unsupported("comment", f"-Jd cannot carry {spec.comment!r}")
        for label, text in (("run_dir", spec.run_dir), ("workdir", spec.workdir)):
            if '"' in text or "\\" in text:
                raise self._unsupported(label, f'#BSUB cannot carry a " or \\ in a path: {text!r}')
        for label, word in (("partition", res.partition), ("account", res.account)):
            if word is not None and (not word.strip() or any(c.isspace() or c in "\"'" for c in word)):
                raise self._unsupported(label, f"{word!r} must be one word")
        run_dir = spec.run_dir.rstrip("/")
        log = "lsf-%J_%I.out" if spec.array else "lsf-%J.out"
        lines = [
            f"#BSUB -J {self._job_name(spec.job_name, spec.array)}",
            f'#BSUB -Jd "{spec.comment}"',
            f'#BSUB -o "{run_dir}/{log}"',
            f'#BSUB -cwd "{spec.workdir}"',
        ]
        lines.extend(f"#BSUB {option}" for option in self._resource_options(res))
        if res.partition:
            lines.append(f"#BSUB -q {res.partition}")
        if res.account:
            lines.append(f"#BSUB -P {res.account}")
        if spec.dependencies:
            terms = []
            for dep in spec.dependencies:
                if dep.kind not in _DEPENDENCY_KIND:
                    raise self._unsupported("dependency", f"unknown kind {dep.kind!r}")
                terms.append(f"{_DEPENDENCY_KIND[dep.kind]}({dep.scheduler_id})")
            lines.append(f'#BSUB -w "{" && ".join(terms)}"')
        lines.extend(f"#BSUB {raw}" for raw in (*res.extra, *spec.raw_args))
        return lines

    def _job_name(self, name: str, array: ArraySpec | None) -> str:
        if array is None:
            return name
        if min(array.indices) < 1:
            raise self._unsupported("array", "LSF array indices start at 1 (index 0 given)")
        throttle = f"%{array.max_concurrent}" if array.max_concurrent else ""
        return f'"{name}[{compress_indices(array.indices)}]{throttle}"'

    def _resource_options(self, res: Resources) -> list[str]:
        """``-n`` slots, one ``-R`` string (select, rusage, span), ``-M``, ``-W``, ``-gpu``."""
        tasks = res.tasks or 1
        slots = tasks * (res.cpus or 1)
        nodes = res.nodes or 1
        if slots % nodes:
            raise self._unsupported("nodes", f"{slots} slots do not split over {nodes} hosts")
        per_host = slots // nodes
        options: list[str] = []
        if res.tasks or res.cpus:
            options.append(f"-n {slots}")
        sections = []
        if res.constraint:
            sections.append(f"select[{res.constraint}]")
        per_slot = res.memory_per_cpu or (math.ceil(res.memory / per_host) if res.memory else None)
        if per_slot:
            sections.append(f"rusage[mem={per_slot}MB]")
        if res.nodes:
            sections.append(f"span[ptile={per_host}]")
        elif slots > 1:
            sections.append("span[hosts=1]")
        if sections:
            options.append(f'-R "{" ".join(sections)}"')
        limit = res.memory or (res.memory_per_cpu * per_host if res.memory_per_cpu else None)
        if limit:
            options.append(f"-M {limit}MB")
        if res.time:
            minutes = math.ceil(res.time / 60)
            options.append(f"-W {minutes // 60}:{minutes % 60:02d}")
        if res.gpus:
            options.append(f'-gpu "num={res.gpus}"')
        if res.exclusive:
            options.append("-x")
        return options

    def _unsupported(self, keyword: str, why: str) -> UnsupportedResource:
        return UnsupportedResource(f"{self.name} cannot express {keyword}: {why}")

    # ------------------------------------------------------------------ submission
    def submit_argv(self, script_path: str) -> list[str]:
        """``bsub`` (the engine redirects ``script_path`` to its standard input)."""
        return ["bsub"]

    def parse_submit(self, returncode: int, stdout: str, stderr: str) -> str:
        """The id in ``Job <123> is submitted to queue <normal>.``"""
        m = _SUBMIT_RE.search(stdout) or _SUBMIT_RE.search(stderr)
        if returncode == 0 and m:
            return m.group(1)
        raise self.submit_error(returncode, stdout, stderr)

    def is_transient(self, text: str) -> bool:
        """Base markers plus LSF's ``... not responding`` / ``Please wait``."""
        lowered = text.lower()
        return super().is_transient(text) or any(m in lowered for m in self.extra_markers)

    # ------------------------------------------------------------------ observation
    def status_argv(self, user: str | None, ids: Sequence[str]) -> list[str]:
        """``bjobs -a -o "<fields>" -json [-u user]``: all the user's jobs, finished ones
        while LSF remembers them (``CLEAN_PERIOD``).

        ``ids`` are not passed: ``bjobs`` exits 255 as soon as one id is unknown (a job
        older than ``CLEAN_PERIOD``), and one listing per host serves any number of jobs.
        """
        argv = ["bjobs", "-a"]
        if self.json_status:
            argv += ["-o", " ".join(STATUS_FIELDS), "-json"]
        else:
            argv += ["-noheader", "-o", " ".join(STATUS_FIELDS) + " delimiter='|'"]
        return argv + (["-u", user] if user else [])

    def parse_status(self, stdout: str) -> dict[str, Observation]:
        """Observations from any ``bjobs`` form :func:`parse_bjobs` reads."""
        return _observations(parse_bjobs(stdout))

    def lookup_argv(self, user: str | None, job_name: str) -> list[str]:
        """``bjobs -a -J <name> ...``: LSF filters by name itself."""
        argv = self.status_argv(user, ())
        return [*argv, "-J", job_name]

    # ------------------------------------------------------------------ cancellation
    def cancel_argv(self, ids: Sequence[str]) -> list[str]:
        """``bkill`` on job ids (whole arrays) or elements (``123[4]``)."""
        return ["bkill", *ids]

    def parse_cancel(self, returncode: int, stdout: str, stderr: str) -> None:
        """Accept ``is being terminated`` and jobs that already ended; raise otherwise."""
        lines = [ln.strip() for ln in (stdout + "\n" + stderr).splitlines() if ln.strip()]
        ok = ("is being terminated", "is being signaled", *_ENDED_MARKERS)
        if all(any(m in ln.lower() for m in ok) for ln in lines) and (lines or returncode == 0):
            return
        detail = "; ".join(lines) or f"exit code {returncode}"
        raise SchedulerError(f"{self.name}: bkill failed: {detail}")

    # ------------------------------------------------------------------ misc
    def version_argv(self) -> list[str]:
        """``bjobs -V`` (prints ``IBM Spectrum LSF 10.1...`` on stderr)."""
        return ["bjobs", "-V"]


def _observations(records: Iterable[Mapping[str, str]]) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for record in records:
        obs = lsf_observation(record)
        if obs is not None:
            out[obs.key] = obs
    return out
