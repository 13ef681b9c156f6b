"""Grid Engine observation: the ``qstat -xml`` status and lookup commands, the ``qacct``
accounting command, and the observations read from their output.
"""

from __future__ import annotations

import datetime as _dt
import xml.etree.ElementTree as ET  # input is checked for DTDs/entities before parsing
from collections.abc import Sequence

from jobledger.errors import SchedulerError
from jobledger.schedulers.base import SIGNAL_EXIT_OFFSET, Observation, SchedulerAdapter, element_key
from jobledger.schedulers.sge.checks import _NAME_RE, _NAME_RULE, _WORD_RE, _check, _split_key
from jobledger.schedulers.sge.parsing import (
    _CTIME_FORMAT,
    _RECORD_SEP_RE,
    _leading_int,
    _parse_xml,
    _qacct_fields,
    _text,
    expand_task_ranges,
)
from jobledger.schedulers.sge.states import (
    _FAILED_AFTER_JOB,
    _FAILED_LIMIT,
    _FAILED_RESCHEDULED,
    _SIGKILL_EXIT,
    FAILED_CODES,
    classify_state,
)
from jobledger.states import JobState

_ACCOUNTING_SCRIPT = (
    'command -v qacct >/dev/null 2>&1 || { echo "qacct: command not found" >&2; exit 127; }; '
    'for id in "$@"; do qacct -j "$id" 2>/dev/null; done; exit 0'
)


class SgeObservation(SchedulerAdapter):
    """The observing half of :class:`~jobledger.schedulers.sge.SgeAdapter`: status, lookup
    and accounting, times read in its ``timezone``."""

    timezone: _dt.tzinfo | None

    # ------------------------------------------------------------------ observation
    def status_argv(self, user: str | None, ids: Sequence[str]) -> list[str]:
        """``qstat -xml -r -u <user|*>``: every job of the user in one call.

        ``qstat`` cannot select a list of ids (``-j`` prints details, not states), so
        ``ids`` is unused. ``-r`` adds ``<predecessor_jobs>`` (the reason a job waits) and
        the requested resources. Pending array tasks come as ranges (``<tasks>2-10:1</tasks>``)
        and are expanded by :meth:`parse_status`, which keeps the output small for large
        arrays (``-g d`` would print one element per task).
        """
        if user is not None:
            _check(user, _WORD_RE, "user", "a user name")
        return ["qstat", "-xml", "-r", "-u", user or "*"]

    def lookup_argv(self, user: str | None, job_name: str) -> list[str]:
        """``qstat -xml -j <name>``: every job with that name, with its context tag."""
        _check(job_name, _NAME_RE, "job_name", _NAME_RULE)
        return ["qstat", "-xml", "-j", job_name]

    def parse_status(self, stdout: str) -> dict[str, Observation]:
        """Observations from ``qstat -xml`` (list) or ``qstat -xml -j`` (lookup) output."""
        root = _parse_xml(stdout)
        if root.tag == "unknown_jobs":
            return {}
        if root.tag == "detailed_job_info":
            return self._parse_detailed(root)
        if root.tag != "job_info":
            raise SchedulerError(f"sge: unexpected qstat -xml document <{root.tag}>")
        out: dict[str, Observation] = {}
        for job in root.iter("job_list"):
            for obs in self._job_list_observations(job):
                old = out.get(obs.key)
                if old is None or obs.state.rank > old.state.rank:
                    out[obs.key] = obs
        return out

    def _job_list_observations(self, job: ET.Element) -> list[Observation]:
        base = _text(job, "JB_job_number")
        if not base.isdigit():
            raise SchedulerError(f"sge: qstat -xml job without a job number: {base!r}")
        native = _text(job, "state")
        state, reason = classify_state(native)
        predecessors = [e.text.strip() for e in job.iter("predecessor_jobs") if e.text]
        if state is JobState.SUBMITTED and "h" in native and predecessors:
            reason = f"Dependency ({','.join(predecessors)})"
        elif state is JobState.FAILED:
            reason = f"error state {native}: see qstat -j {base} (error reason); qdel it"
        started = None
        if state is JobState.RUNNING:
            started = self._iso_time(_text(job, "JAT_start_time"))
        tasks = _text(job, "tasks")
        indices: list[int | None] = list(expand_task_ranges(tasks)) if tasks else [None]
        return [
            Observation(
                key=element_key(base, index),
                state=state,
                native=native,
                reason=reason,
                name=_text(job, "JB_name"),
                base_id=base,
                array_index=index,
                started=started,
            )
            for index in indices
        ]

    def _parse_detailed(self, root: ET.Element) -> dict[str, Observation]:
        out: dict[str, Observation] = {}
        for job in root.iter("djob_info"):
            for element in job.findall("element"):
                base = _text(element, "JB_job_number")
                if not base.isdigit():
                    continue
                tag = ""
                for var in element.iter("context_list"):
                    if _text(var, "VA_variable") == "jl":
                        tag = _text(var, "VA_value")
                running = any(
                    _text(task, "JAT_status") == "128"
                    for tasks in element.findall("JB_ja_tasks")
                    for task in tasks
                )
                out[base] = Observation(
                    key=base,
                    state=JobState.RUNNING if running else JobState.SUBMITTED,
                    native="running" if running else "queued",
                    reason="from qstat -j (job-level summary)",
                    name=_text(element, "JB_job_name"),
                    comment=tag,
                    base_id=base,
                )
        return out

    def accounting_argv(self, ids: Sequence[str]) -> list[str] | None:
        """``sh -c 'for id do qacct -j "$id"; done' sh <id>...``: one command, one
        ``qacct`` per job (``qacct -j`` accepts a single id; a comma list is silently
        read as its first id). Element keys are reduced to their job; unknown ids
        (running, or deleted while pending) print nothing."""
        bases: list[str] = []
        for key in ids:
            base, _ = _split_key(key)
            if base not in bases:
                bases.append(base)
        if not bases:
            return None
        return ["sh", "-c", _ACCOUNTING_SCRIPT, "sh", *bases]

    def parse_accounting(self, stdout: str) -> dict[str, Observation]:
        """Final states from ``qacct -j`` records (the last record of a job wins)."""
        out: dict[str, Observation] = {}
        for chunk in _RECORD_SEP_RE.split(stdout):
            fields = _qacct_fields(chunk)
            if "jobnumber" not in fields:
                continue
            obs = self._accounting_observation(fields)
            out[obs.key] = obs
        return out

    def _accounting_observation(self, fields: dict[str, str]) -> Observation:
        base = fields["jobnumber"].split()[0]
        task = fields.get("taskid", "undefined").split()
        index = int(task[0]) if task and task[0].isdigit() else None
        failed_text = fields.get("failed", "0")
        failed = _leading_int(failed_text) or 0
        _, _, failed_reason = failed_text.partition(":")
        exit_status = _leading_int(fields.get("exit_status", ""))
        signal = None
        if exit_status is not None and SIGNAL_EXIT_OFFSET < exit_status <= SIGNAL_EXIT_OFFSET + 64:
            signal = exit_status - SIGNAL_EXIT_OFFSET
        reason = failed_reason.strip() or FAILED_CODES.get(failed, "")
        if failed == 0:
            state = JobState.COMPLETED if exit_status == 0 else JobState.FAILED
            reason = f"killed by signal {signal}" if signal is not None else ""
        elif failed == _FAILED_RESCHEDULED:
            state = JobState.SUBMITTED
            reason = f"rescheduled (exit status {exit_status}); it will run again"
        elif failed == _FAILED_LIMIT:
            state = JobState.TIMEOUT
        elif failed == _FAILED_AFTER_JOB and exit_status == _SIGKILL_EXIT:
            # qdel of a running job; an outside SIGKILL (kernel OOM killer) looks the same
            state = JobState.CANCELLED
            reason = "killed by SIGKILL while running (qdel)"
        elif failed == _FAILED_AFTER_JOB and signal is not None:
            state = JobState.FAILED
            reason = f"killed by signal {signal}"
        else:
            state = JobState.FAILED
            reason = f"failed {failed}: {reason}"
        return Observation(
            key=element_key(base, index),
            state=state,
            native=f"failed={failed} exit_status={exit_status}",
            reason=reason,
            exit_code=exit_status,
            signal=signal,
            name=fields.get("jobname", ""),
            base_id=base,
            array_index=index,
            started=self._ctime(fields.get("start_time", "")),
            ended=self._ctime(fields.get("end_time", "")),
        )

    def _iso_time(self, text: str) -> float | None:
        try:
            moment = _dt.datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        return self._epoch(moment)

    def _ctime(self, text: str) -> float | None:
        try:
            moment = _dt.datetime.strptime(" ".join(text.split()), _CTIME_FORMAT)
        except ValueError:
            return None  # '-/-' when the job never started
        return self._epoch(moment)

    def _epoch(self, moment: _dt.datetime) -> float:
        if moment.tzinfo is None and self.timezone is not None:
            moment = moment.replace(tzinfo=self.timezone)
        return moment.timestamp()
