"""The PBS Professional / OpenPBS adapter: ``#PBS`` directives, ``qsub``, ``qstat`` and ``qdel``
(the choices are explained in the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from jobledger.errors import SchedulerError, UnsupportedResource
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import (
    SIGNAL_EXIT_OFFSET,
    BatchSpec,
    Observation,
    SchedulerAdapter,
    Template,
    element_key,
)
from jobledger.schedulers.pbs.ids import native_id, split_job_id
from jobledger.schedulers.pbs.qstat import _epoch, _get, _int, _text, _variable, parse_qstat
from jobledger.schedulers.pbs.tables import (
    _FINAL_LETTERS,
    _PBS_SIGNAL_BASE,
    _STATES,
    _SUBSTATE_DEPNHOLD,
    _SUBSTATE_TERMINATED,
    PBSPRO_EXEC_CODES,
)
from jobledger.states import JobState

_SUBMIT_ID_RE = re.compile(r"^\d+(?:\[\])?(?:\.\S+)?$")
_TAG_VARIABLE = "JL_TAG"
#: ``sh -c`` script running ``qstat "$@"``, mapping "unknown/historical job id" to success.
_TOLERANT_QSTAT = 'qstat "$@"; rc=$?; case $rc in 35|153) exit 0;; esac; exit $rc'


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

    def __init__(
        self,
        template: Template | None = None,
        *,
        json_status: bool = True,
        pack_limit: int | str | None = None,
    ) -> None:
        super().__init__(template, pack_limit=pack_limit)
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
        for label, word in (("partition", res.partition), ("account", res.account)):
            if word is not None and any(c.isspace() or c in "\"'#" for c in word):
                raise self._unsupported(label, f"{word!r} must be one word")
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


def _walltime(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
