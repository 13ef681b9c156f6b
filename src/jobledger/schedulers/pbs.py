"""PBS Professional / OpenPBS (``pbs``) and Torque (``torque``) adapters.

Both families share ``qsub``/``qstat``/``qdel``, job ids (``123.server``, arrays
``123[].server`` with elements ``123[4].server``) and the ``qstat -f`` attribute format.
They differ in *data*, which is all :class:`TorqueAdapter` overrides:

=====================  ===============================  ==================================
                       PBS Pro / OpenPBS                Torque
=====================  ===============================  ==================================
resources              ``-l select=N:ncpus=..:mem=..``  ``-l nodes=N:ppn=..``, ``-l mem=``
array                  ``-J 1-9:2%3`` (one range)       ``-t 1-3,7%2`` (lists allowed)
element env            ``PBS_ARRAY_INDEX``              ``PBS_ARRAYID``
status (one call)      ``qstat -f -F json -x -t ids``   ``qstat -f -t ids`` (``-x`` = XML)
finished state         ``F`` (``X`` for subjobs)        ``C``
scheduler exit codes   ``-29`` walltime, ``-27`` mem    ``-11`` walltime, ``-10`` mem
=====================  ===============================  ==================================

Working directory: PBS Pro has no chdir directive (jobs start in ``$HOME``); the body the
engine passes already ``cd``\\ s into ``BatchSpec.workdir``. Torque gets ``-d workdir`` too.

Key tag: PBS has no submit-time comment, and job names are short on old servers, so the
``jl:<key>:<attempt>`` tag is passed as ``-v JL_TAG=...``. It appears in ``Variable_List``,
which every ``qstat -f`` form (text, JSON, Torque XML) prints, so one status call reveals it
(and the job sees it as ``$JL_TAG``).

Exit status: ``0`` success; a positive value up to 255 is what the job's shell returned
(the PBS Pro reference guide reads 128-253 as "top process killed by signal X % 128"; we
keep it as an exit code, since a shell returns 128+N for a child killed by signal N too);
above 256 the top process itself died of signal ``X - 256`` (psij-python reads 265 so,
and recorded Torque output shows 271); negative values are the scheduler's own
``JOB_EXEC_*`` codes (tables below: ``-29``/``-11`` walltime, ``-27``/``-10`` memory).
Older PBS Pro servers report a walltime kill as a signal death (271), not ``-29``.
A finished job without any exit status was deleted before it ran. PBS Pro's history
substate ``91`` (``JOB_SUBSTATE_TERMINATED`` in OpenPBS ``job.h``) marks a deleted job;
Torque has no such marker, so a Torque job killed by ``qdel`` while running reads as a
signal death (the engine knows it asked for the cancel).
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from jobledger.errors import SchedulerError, UnsupportedResource
from jobledger.model.array import ArraySpec, compress_indices
from jobledger.model.resources import Resources
from jobledger.schedulers.base import (
    SIGNAL_EXIT_OFFSET,
    BatchSpec,
    Observation,
    SchedulerAdapter,
    Template,
    element_key,
)
from jobledger.states import JobState

__all__ = ["PbsAdapter", "TorqueAdapter", "native_id", "parse_qstat", "split_job_id"]

#: ``job_state`` letters of both families. ``F``/``X``/``C`` are final and refined by
#: :meth:`PbsAdapter._ended`; ``E`` (exiting) is still running.
_STATES: dict[str, JobState] = {
    "Q": JobState.SUBMITTED,  # queued
    "H": JobState.SUBMITTED,  # held (user/system/dependency)
    "W": JobState.SUBMITTED,  # waiting for its start time / stage-in
    "T": JobState.SUBMITTED,  # in transit between servers
    "M": JobState.SUBMITTED,  # moved to another server (PBS Pro)
    "B": JobState.RUNNING,  # array begun: at least one subjob left the queue (PBS Pro)
    "R": JobState.RUNNING,
    "E": JobState.RUNNING,  # exiting: ran, output being staged back
    "S": JobState.RUNNING,  # suspended by the server
    "U": JobState.RUNNING,  # suspended, workstation busy (PBS Pro)
    "F": JobState.COMPLETED,  # finished (PBS Pro history) -> refined
    "X": JobState.COMPLETED,  # subjob finished (PBS Pro) -> refined
    "C": JobState.COMPLETED,  # completed (Torque) -> refined
}
_FINAL_LETTERS = frozenset("FXC")

#: PBS Pro / OpenPBS ``JOB_EXEC_*`` codes (``src/include/job.h``; reference guide table
#: "Job Exit Codes").
PBSPRO_EXEC_CODES: dict[int, tuple[str, JobState]] = {
    -1: ("JOB_EXEC_FAIL1", JobState.FAILED),
    -2: ("JOB_EXEC_FAIL2", JobState.FAILED),
    -3: ("JOB_EXEC_RETRY", JobState.FAILED),
    -4: ("JOB_EXEC_INITABT", JobState.NODE_FAIL),
    -5: ("JOB_EXEC_INITRST", JobState.NODE_FAIL),
    -6: ("JOB_EXEC_INITRMG", JobState.NODE_FAIL),
    -7: ("JOB_EXEC_BADRESRT", JobState.FAILED),
    -10: ("JOB_EXEC_FAILUID", JobState.FAILED),
    -11: ("JOB_EXEC_RERUN", JobState.FAILED),
    -12: ("JOB_EXEC_CHKP", JobState.FAILED),
    -13: ("JOB_EXEC_FAIL_PASSWORD", JobState.FAILED),
    -14: ("JOB_EXEC_RERUN_SIS_FAIL", JobState.NODE_FAIL),
    -15: ("JOB_EXEC_QUERST", JobState.FAILED),
    -16: ("JOB_EXEC_FAILHOOK_RERUN", JobState.FAILED),
    -17: ("JOB_EXEC_FAILHOOK_DELETE", JobState.FAILED),
    -18: ("JOB_EXEC_HOOK_RERUN", JobState.FAILED),
    -19: ("JOB_EXEC_HOOK_DELETE", JobState.FAILED),
    -20: ("JOB_EXEC_RERUN_MS_FAIL", JobState.NODE_FAIL),
    -21: ("JOB_EXEC_FAIL_SECURITY", JobState.FAILED),
    -22: ("JOB_EXEC_HOOKERROR", JobState.FAILED),
    -23: ("JOB_EXEC_FAIL_KRB5", JobState.FAILED),
    -24: ("JOB_EXEC_KILL_NCPUS_BURST", JobState.FAILED),
    -25: ("JOB_EXEC_KILL_NCPUS_SUM", JobState.FAILED),
    -26: ("JOB_EXEC_KILL_VMEM", JobState.OUT_OF_MEMORY),
    -27: ("JOB_EXEC_KILL_MEM", JobState.OUT_OF_MEMORY),
    -28: ("JOB_EXEC_KILL_CPUT", JobState.TIMEOUT),
    -29: ("JOB_EXEC_KILL_WALLTIME", JobState.TIMEOUT),
    -30: ("JOB_EXEC_JOINJOB", JobState.FAILED),
}

#: Torque ``JOB_EXEC_*`` codes (Torque 6 admin guide, "Job Exit Status").
TORQUE_EXEC_CODES: dict[int, tuple[str, JobState]] = {
    -1: ("JOB_EXEC_FAIL1", JobState.FAILED),
    -2: ("JOB_EXEC_FAIL2", JobState.FAILED),
    -3: ("JOB_EXEC_RETRY", JobState.FAILED),
    -4: ("JOB_EXEC_INITABT", JobState.NODE_FAIL),
    -5: ("JOB_EXEC_INITRST", JobState.NODE_FAIL),
    -6: ("JOB_EXEC_INITRMG", JobState.NODE_FAIL),
    -7: ("JOB_EXEC_BADRESRT", JobState.FAILED),
    -8: ("JOB_EXEC_CMDFAIL", JobState.FAILED),
    -9: ("JOB_EXEC_STDOUTFAIL", JobState.FAILED),
    -10: ("JOB_EXEC_OVERLIMIT_MEM", JobState.OUT_OF_MEMORY),
    -11: ("JOB_EXEC_OVERLIMIT_WT", JobState.TIMEOUT),
    -12: ("JOB_EXEC_OVERLIMIT_CPUT", JobState.TIMEOUT),
    -13: ("JOB_EXEC_RETRY_CGROUP", JobState.FAILED),
    -14: ("JOB_EXEC_RETRY_PROLOGUE", JobState.FAILED),
}

_SUBSTATE_DEPNHOLD = 22
_SUBSTATE_TERMINATED = 91
_PBS_SIGNAL_BASE = 256

_JOB_ID_RE = re.compile(r"^(?P<seq>\d+)(?:\[(?P<idx>\d*)\])?(?P<rest>\S*)$")
_ELEMENT_KEY_RE = re.compile(r"^(?P<base>.+)\[(?P<idx>\d+)\]$")
_SUBMIT_ID_RE = re.compile(r"^\d+(?:\[\])?(?:\.\S+)?$")
_ATTR_RE = re.compile(r"^ {4}(?P<name>[A-Za-z_][\w.]*) = ?(?P<value>.*)$")
_JOB_HEAD_RE = re.compile(r"^Job Id: (?P<id>\S+)\s*$")
_BAD_ESCAPE_RE = re.compile(r'\\(?!["\\/bfnrtu])')
_TAG_VARIABLE = "JL_TAG"
#: ``sh -c`` script running ``qstat "$@"``, mapping "unknown/historical job id" to success.
_TOLERANT_QSTAT = 'qstat "$@"; rc=$?; case $rc in 35|153) exit 0;; esac; exit $rc'


# ---------------------------------------------------------------------------- ids
def split_job_id(job_id: str) -> tuple[str, int | None]:
    """``123[4].srv`` -> (``123[].srv``, 4); ``123.srv`` -> (``123.srv``, None)."""
    m = _JOB_ID_RE.match(job_id.strip())
    if not m or m.group("idx") is None:
        return job_id.strip(), None
    base = f"{m.group('seq')}[]{m.group('rest')}"
    return base, int(m.group("idx")) if m.group("idx") else None


def native_id(key: str) -> str:
    """Inverse of :func:`split_job_id` on an engine key: ``123[].srv[4]`` -> ``123[4].srv``."""
    m = _ELEMENT_KEY_RE.match(key)
    if not m or "[]" not in m.group("base"):
        return key
    return m.group("base").replace("[]", f"[{m.group('idx')}]", 1)


# ---------------------------------------------------------------------------- parsing
def parse_qstat(stdout: str) -> dict[str, dict[str, Any]]:
    """Attributes of every job in ``qstat -f`` output, keyed by the printed job id.

    Accepts the three forms PBS prints: ``-F json`` (PBS Pro >= 19), the Torque ``-x``
    XML document, and the classic text form with its wrapped values. Text values are
    unwrapped: a tab continuation (or its space-expanded copy) is glued on as is; a line
    with less indent is a raw newline inside the value (an exported bash function in
    ``Variable_List``, a multi-line ``sched_hint``). Only ``Job Id:`` starts a job.
    """
    text = stdout.lstrip("\ufeff")
    head = text.lstrip()
    if head.startswith("{"):
        return _parse_json(head)
    if head.startswith("<"):
        return _parse_xml(head)
    return _parse_text(text)


def _parse_json(text: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError:
        # Some PBS versions print Variable_List values with unescaped backslashes.
        data = json.loads(_BAD_ESCAPE_RE.sub(r"\\\\", text), strict=False)
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else {}
    return {str(k): dict(v) for k, v in jobs.items() if isinstance(v, dict)}


def _parse_xml(text: str) -> dict[str, dict[str, Any]]:
    # The text is our own qstat's output, not untrusted input; ElementTree does not
    # resolve external entities.
    root = ET.fromstring(text)  # noqa: S314
    out: dict[str, dict[str, Any]] = {}
    for job in root.iter("Job"):
        attrs: dict[str, Any] = {}
        for child in job:
            if len(child):
                attrs[child.tag] = {sub.tag: (sub.text or "") for sub in child}
            else:
                attrs[child.tag] = child.text or ""
        job_id = str(attrs.get("Job_Id", "")).strip()
        if job_id:
            out[job_id] = attrs
    return out


def _parse_text(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    attrs: dict[str, Any] | None = None
    name = ""
    for line in text.splitlines():
        head = _JOB_HEAD_RE.match(line)
        if head:
            attrs = out.setdefault(head.group("id"), {})
            name = ""
            continue
        if attrs is None or not line.strip():
            continue
        attr = _ATTR_RE.match(line)
        if attr:
            name = attr.group("name")
            attrs[name] = attr.group("value")
        elif name:
            if line.startswith("\t"):
                attrs[name] += line[1:]
            elif line.startswith("    "):  # a tab expanded to spaces by a copy
                attrs[name] += line.lstrip(" ")
            else:  # a raw newline inside the value
                attrs[name] += "\n" + line
    return out


def _get(attrs: Mapping[str, Any], *names: str) -> Any:
    """First present attribute; ``a.b`` also looks into a nested JSON/XML ``a``."""
    for name in names:
        if name in attrs:
            return attrs[name]
        head, dot, tail = name.partition(".")
        nested = attrs.get(head)
        if dot and isinstance(nested, Mapping) and tail in nested:
            return nested[tail]
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    """Seconds since the epoch from ``1522939183`` or ``Fri Aug 20 23:14:08 2021``."""
    text = _text(value)
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        return time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None


def _variable(attrs: Mapping[str, Any], name: str) -> str:
    """One variable of ``Variable_List`` (a JSON object or a ``A=b,C=d`` string)."""
    variables = attrs.get("Variable_List")
    if isinstance(variables, Mapping):
        return _text(variables.get(name))
    if isinstance(variables, str):
        m = re.search(rf"(?:^|,){re.escape(name)}=([^,\n]*)", variables)
        return m.group(1).strip() if m else ""
    return ""


# ---------------------------------------------------------------------------- adapter
class PbsAdapter(SchedulerAdapter):
    """PBS Professional / OpenPBS.

    ``json_status=False`` switches :meth:`status_argv` to the text form ``qstat -f -x -t``
    for servers older than PBS Pro 19 (no ``-F json``); :meth:`parse_status` reads both.
    """

    name: ClassVar[str] = "pbs"
    exec_codes: ClassVar[Mapping[int, tuple[str, JobState]]] = PBSPRO_EXEC_CODES
    array_env: ClassVar[str] = "PBS_ARRAY_INDEX"
    #: ``qstat`` options: full, history (-x), subjobs expanded (-t); JSON where supported.
    status_options: ClassVar[tuple[str, ...]] = ("-f", "-F", "json", "-x", "-t")
    text_status_options: ClassVar[tuple[str, ...]] = ("-f", "-x", "-t")
    log_name: ClassVar[str] = "pbs.out"
    array_log_name: ClassVar[str] = "pbs-^array_index^.out"
    extra_markers: ClassVar[tuple[str, ...]] = ("end of file", "timed out", "pbs_iff")

    def __init__(self, template: Template | None = None, *, json_status: bool = True) -> None:
        super().__init__(template)
        self.json_status = json_status

    # ------------------------------------------------------------------ scripts
    def directives(self, spec: BatchSpec) -> list[str]:
        """``#PBS`` lines for ``spec`` (see the module docstring for the choices)."""
        res = spec.resources
        if res.qos:
            raise self._unsupported("qos", "PBS has no quality-of-service setting")
        for label, path in (("run_dir", spec.run_dir), ("workdir", spec.workdir)):
            if any(c.isspace() for c in path):
                raise self._unsupported(label, f"#PBS paths cannot contain spaces: {path!r}")
        if any(c in spec.comment for c in ",'\" \t\n"):
            raise self._unsupported("comment", f"-v cannot carry {spec.comment!r}")
        log = self.array_log_name if spec.array else self.log_name
        lines = [
            f"#PBS -N {spec.job_name}",
            "#PBS -j oe",
            f"#PBS -o {spec.run_dir.rstrip('/')}/{log}",
            *self._workdir_lines(spec.workdir),
            f"#PBS -v {_TAG_VARIABLE}={spec.comment}",
        ]
        if res.partition:
            lines.append(f"#PBS -q {res.partition}")
        if res.account:
            lines.append(f"#PBS -A {res.account}")
        lines.extend(f"#PBS {option}" for option in self._resource_options(res))
        if res.time:
            lines.append(f"#PBS -l walltime={_walltime(res.time)}")
        if spec.array:
            lines.append(f"#PBS {self._array_option(spec.array)}")
        if spec.dependencies:
            groups: dict[str, list[str]] = {}
            for dep in spec.dependencies:
                if dep.kind not in ("afterok", "afterany", "afternotok"):
                    raise self._unsupported("dependency", f"unknown kind {dep.kind!r}")
                groups.setdefault(dep.kind, []).append(dep.scheduler_id)
            depend = ",".join(f"{kind}:{':'.join(ids)}" for kind, ids in groups.items())
            lines.append(f"#PBS -W depend={depend}")
        lines.extend(f"#PBS {raw}" for raw in (*res.extra, *spec.raw_args))
        return lines

    def _workdir_lines(self, workdir: str) -> list[str]:
        """PBS Pro has no chdir directive: the body ``cd``\\ s."""
        return []

    def _resource_options(self, res: Resources) -> list[str]:
        """``-l select=N:ncpus=C:mpiprocs=T:mem=Xmb:ngpus=G`` (a chunk per node), ``-l place``."""
        if res.constraint:
            raise self._unsupported("constraint", "select host features with extra=")
        nodes, per_node_tasks, ncpus = self._layout(res)
        items: list[str] = []
        chunk = [str(nodes)]
        if ncpus:
            chunk.append(f"ncpus={ncpus}")
        if per_node_tasks:
            chunk.append(f"mpiprocs={per_node_tasks}")
        mem = res.memory or (res.memory_per_cpu * (ncpus or 1) if res.memory_per_cpu else None)
        if mem:
            chunk.append(f"mem={mem}mb")
        if res.gpus:
            chunk.append(f"ngpus={res.gpus}")
        if len(chunk) > 1 or res.nodes:
            items.append("-l select=" + ":".join(chunk))
        place = [p for p in ("scatter" if nodes > 1 else "", "excl" if res.exclusive else "") if p]
        if place:
            items.append("-l place=" + ":".join(place))
        return items

    def _layout(self, res: Resources) -> tuple[int, int | None, int | None]:
        """(nodes, tasks per node, cpus per node) from per-task cpus and total tasks."""
        nodes = res.nodes or 1
        if res.tasks and res.tasks % nodes:
            raise self._unsupported("tasks", f"{res.tasks} tasks do not split over {nodes} nodes")
        per_node_tasks = res.tasks // nodes if res.tasks else None
        ncpus = (res.cpus or 1) * (per_node_tasks or 1) if (res.cpus or per_node_tasks) else None
        return nodes, per_node_tasks, ncpus

    def _array_option(self, array: ArraySpec) -> str:
        """``-J start-end[:step][%max]``: PBS Pro takes one arithmetic range of 2+ indices."""
        span = array.as_range()
        if span is None or len(array) < 2:
            raise self._unsupported(
                "array", f"PBS Pro -J needs one range of two or more indices, not {array.compact()}"
            )
        start, end, step = span
        text = f"{start}-{end}" + (f":{step}" if step != 1 else "")
        if array.max_concurrent:
            text += f"%{array.max_concurrent}"
        return f"-J {text}"

    def _unsupported(self, keyword: str, why: str) -> UnsupportedResource:
        return UnsupportedResource(f"{self.name} cannot express {keyword}: {why}")

    # ------------------------------------------------------------------ submission
    def submit_argv(self, script_path: str) -> list[str]:
        """``qsub <script>``."""
        return ["qsub", script_path]

    def parse_submit(self, returncode: int, stdout: str, stderr: str) -> str:
        """The id ``qsub`` prints (``123.server``, ``123[].server`` or a bare ``123``)."""
        if returncode == 0:
            for line in reversed(stdout.splitlines()):
                if _SUBMIT_ID_RE.match(line.strip()):
                    return line.strip()
        raise self.submit_error(returncode, stdout, stderr)

    def is_transient(self, text: str) -> bool:
        """Base markers plus PBS client hiccups (``qsub: End of File``, ``pbs_iff``)."""
        lowered = text.lower()
        return super().is_transient(text) or any(m in lowered for m in self.extra_markers)

    # ------------------------------------------------------------------ observation
    def status_argv(self, user: str | None, ids: Sequence[str]) -> list[str]:
        """``qstat -f -F json -x -t [ids]`` (``-x``: finished jobs too; ``-t``: subjobs).

        ``qstat`` prints every job it knows but exits 153 (``PBSE_UNKJOBID`` 15001 mod 256)
        or 35 (``PBSE_HISTJOBID`` 15139 mod 256) as soon as one id is unknown, e.g. purged
        from history (PBS Pro keeps no history by default; Torque keeps ``C`` jobs only
        ``keep_completed`` seconds). With ids, the call is wrapped in ``sh -c`` so those two
        codes count as success and the engine parses what was printed; a missing id then
        reads as "no longer listed". ``user`` is not passed (``qstat -u`` is documented for
        the alternative display formats, not for ``-f``).
        """
        options = self.status_options if self.json_status else self.text_status_options
        native = [native_id(i) for i in ids]
        if not native:
            return ["qstat", *options]
        return ["sh", "-c", _TOLERANT_QSTAT, "qstat", *options, *native]

    def parse_status(self, stdout: str) -> dict[str, Observation]:
        """Observations from any ``qstat -f`` form (JSON, text or Torque XML)."""
        out: dict[str, Observation] = {}
        for job_id, attrs in parse_qstat(stdout).items():
            obs = self.observe(job_id, attrs)
            out[obs.key] = obs
        return out

    def observe(self, job_id: str, attrs: Mapping[str, Any]) -> Observation:
        """One job's attributes as an :class:`Observation`."""
        base, index = split_job_id(job_id)
        native = _text(_get(attrs, "job_state")).upper()
        state = _STATES.get(native, JobState.SUBMITTED)
        final = native in _FINAL_LETTERS
        fields: dict[str, Any] = {"reason": self._waiting_reason(native, attrs)}
        if final:
            fields = self._ended(attrs)
            state = fields.pop("state")
        elif native not in _STATES:
            fields["reason"] = f"unknown job_state {native!r}"
        return Observation(
            key=element_key(base, index),
            state=state,
            native=native,
            name=_text(_get(attrs, "Job_Name")),
            comment=_variable(attrs, _TAG_VARIABLE),
            base_id=base,
            array_index=index,
            started=_epoch(_get(attrs, "stime", "start_time")),
            ended=_epoch(_get(attrs, "obittime", "comp_time")) if final else None,
            **fields,
        )

    def _waiting_reason(self, native: str, attrs: Mapping[str, Any]) -> str:
        comment = _text(_get(attrs, "comment"))
        if native == "H":
            holds = _text(_get(attrs, "Hold_Types"))
            depend = _text(_get(attrs, "depend"))
            substate = _int(_get(attrs, "substate"))
            user_hold = any(h in holds for h in "uo")
            if substate == _SUBSTATE_DEPNHOLD or ("after" in depend and not user_hold):
                return "Dependency"
            return f"Held (Hold_Types={holds})" if holds else "Held"
        if native == "W":
            return comment or "Waiting for its start time"
        if native in ("Q", "T", "M"):
            return comment
        return ""

    def _ended(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """State, exit code, signal and reason of a finished job."""
        exit_status = _int(_get(attrs, "Exit_status", "exit_status"))
        substate = _int(_get(attrs, "substate"))
        comment = _text(_get(attrs, "comment"))
        deleted = substate == _SUBSTATE_TERMINATED
        if exit_status is None:
            if "dependency" in comment.lower():
                return {"state": JobState.DEPENDENCY_FAILED, "reason": comment}
            return {"state": JobState.CANCELLED, "reason": comment or "deleted before it ran"}
        if exit_status < 0:
            code_name, state = self.exec_codes.get(exit_status, ("JOB_EXEC", JobState.FAILED))
            return {"state": state, "reason": f"{code_name} (exit status {exit_status})"}
        if exit_status > _PBS_SIGNAL_BASE:
            signal = exit_status - _PBS_SIGNAL_BASE
            return {
                "state": JobState.CANCELLED if deleted else JobState.FAILED,
                "exit_code": SIGNAL_EXIT_OFFSET + signal,
                "signal": signal,
                "reason": f"killed by signal {signal}" + (" (deleted)" if deleted else ""),
            }
        if deleted:
            return {"state": JobState.CANCELLED, "exit_code": exit_status, "reason": "deleted"}
        if exit_status == 0:
            return {"state": JobState.COMPLETED, "exit_code": 0}
        return {"state": JobState.FAILED, "exit_code": exit_status, "reason": comment}

    # ------------------------------------------------------------------ cancellation
    def cancel_argv(self, ids: Sequence[str]) -> list[str]:
        """``qdel`` on base ids (whole arrays) or elements (``123[4].server``)."""
        return ["qdel", *(native_id(i) for i in ids)]

    def parse_cancel(self, returncode: int, stdout: str, stderr: str) -> None:
        """Accept success and jobs that already ended (``Job has finished``, or purged:
        ``Unknown Job Id``); raise on anything else (bad id, not authorised, usage)."""
        if returncode == 0:
            return
        lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
        ended = ("job has finished", "unknown job id", "request invalid for state of job")
        if lines and all(any(m in ln.lower() for m in ended) for ln in lines):
            return
        detail = "; ".join(lines) or f"exit code {returncode}"
        raise SchedulerError(f"{self.name}: qdel failed: {detail}")

    # ------------------------------------------------------------------ misc
    def version_argv(self) -> list[str]:
        """``qstat --version`` (``pbs_version = 19.1.3`` / ``Version: 6.1.3``)."""
        return ["qstat", "--version"]


class TorqueAdapter(PbsAdapter):
    """Torque: the PBS adapter with Torque's data (``nodes=N:ppn=C``, ``-t``, ``-d``).

    Torque keeps finished jobs (state ``C``) only for ``keep_completed`` seconds and has no
    history mode; its ``qstat -x`` means XML. ``json_status=False`` is implied: the status
    call is ``qstat -f -t``.
    """

    name: ClassVar[str] = "torque"
    exec_codes: ClassVar[Mapping[int, tuple[str, JobState]]] = TORQUE_EXEC_CODES
    array_env: ClassVar[str] = "PBS_ARRAYID"
    status_options: ClassVar[tuple[str, ...]] = ("-f", "-t")
    text_status_options: ClassVar[tuple[str, ...]] = ("-f", "-t")
    #: A directory: Torque names files ``<name>.o<seq>`` (``-<index>`` for elements).
    log_name: ClassVar[str] = ""
    array_log_name: ClassVar[str] = ""

    def _workdir_lines(self, workdir: str) -> list[str]:
        return [f"#PBS -d {workdir}"]

    def _resource_options(self, res: Resources) -> list[str]:
        """``-l nodes=N:ppn=C[:gpus=G][:feature]``, ``-l mem`` (job total) or ``pmem``, ``-n``."""
        nodes, _, ncpus = self._layout(res)
        items: list[str] = []
        spec = [str(nodes)]
        if ncpus:
            spec.append(f"ppn={ncpus}")
        if res.gpus:
            spec.append(f"gpus={res.gpus}")
        if res.constraint:
            if not re.fullmatch(r"[A-Za-z0-9_]+(?::[A-Za-z0-9_]+)*", res.constraint):
                raise self._unsupported("constraint", "only node properties like 'bigmem'")
            spec.append(res.constraint)
        if len(spec) > 1 or res.nodes:
            items.append("-l nodes=" + ":".join(spec))
        if res.memory:
            items.append(f"-l mem={res.memory * nodes}mb")
        if res.memory_per_cpu:
            items.append(f"-l pmem={res.memory_per_cpu}mb")
        if res.exclusive:
            items.append("-n")
        return items

    def _array_option(self, array: ArraySpec) -> str:
        """``-t 1-3,7%2``: Torque takes lists and ranges, but no steps."""
        parts = compress_indices(array.indices).split(",")
        flat: list[str] = []
        for part in parts:
            if ":" in part:
                flat.extend(str(i) for i in _expand(part))
            else:
                flat.append(part)
        text = ",".join(flat)
        if array.max_concurrent:
            text += f"%{array.max_concurrent}"
        return f"-t {text}"


def _expand(part: str) -> range:
    span, _, step = part.partition(":")
    start, _, end = span.partition("-")
    return range(int(start), int(end) + 1, int(step or 1))


def _walltime(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
