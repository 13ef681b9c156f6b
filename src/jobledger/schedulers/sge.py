"""Grid Engine adapter (Son of Grid Engine 8.1.x, the ``qsub``/``qstat``/``qacct`` family).

Pure command builders and parsers; see :mod:`jobledger.schedulers.base` for the contract.
Every format handled here was checked against real output of SGE 8.1.9 captured in
``fixtures/sge/`` and against production recordings of other sites.

What an engine must know about SGE (all seen on SGE 8.1.9):

* **Directives are read from the whole script**, not only the header: a body line that
  starts with ``#$`` (for example inside a multi-line quoted string) is applied as a
  ``qsub`` option. :meth:`SgeAdapter.render_script` therefore refuses such setup or body
  lines instead of letting them change the job.
* **``-hold_jid`` is afterany.** A dependent starts when its upstreams leave the queue,
  whatever their exit status. ``afterok`` is rendered as ``-hold_jid`` and must be enforced
  by the engine or the job wrapper (check the upstream's exit file, or ``qdel`` dependents
  when an upstream fails). ``afternotok`` cannot be expressed and raises
  :class:`~jobledger.errors.UnsupportedResource`; see :attr:`SgeAdapter.afterok_is_native`.
* **Exit codes 99 and 100 are special.** A job script exiting 99 is requeued and run again
  (``qacct`` shows one ``failed 25 : rescheduling`` record per run, forever); exiting 100
  puts the job in error state ``Eqw`` (record ``failed 30 : application error returned``).
  The job wrapper must not pass those codes through as its own exit status.
* **Error state ``Eqw``** (output directory missing or unwritable, working directory
  missing, exit 100 ...) keeps the job in the queue until someone runs ``qmod -cj`` or
  ``qdel``. This adapter reports it as :attr:`~jobledger.states.JobState.FAILED` with the
  reason; the engine should ``qdel`` it after recording the failure. The run directory
  (scheduler log) and the working directory must exist before ``qsub``.
* A job deleted while **pending** gets no ``qacct`` record: ``dqw``/``dhqw`` are reported
  as :attr:`~jobledger.states.JobState.CANCELLED` directly. Deleted while running:
  ``failed 100``, ``exit_status 137`` (cancelled; any outside SIGKILL looks the same). A
  job killed by another signal (``kill -TERM $$``) gives ``failed 100``, ``exit_status
  143`` (failed, signal 15). Wall-time limit: ``failed 37``, ``exit_status 137``
  (timeout). An ``h_vmem`` excess makes allocations fail inside the job (``MemoryError``,
  exit 1): it cannot be told apart from an ordinary failure. A job that never started
  (``Eqw``) still gets a record: ``failed 26`` (output file) or ``28`` (working directory).
* The ``qacct`` record is written when the job leaves ``qstat`` only if the cluster
  flushes accounting at once; with the default ``flush_time`` (15 s) a job may be gone
  from ``qstat`` and not yet in ``qacct``: retry before declaring it lost.
* Job names must not start with a digit, nor contain whitespace, ``:``, ``/``, ``@``,
  ``\\``, ``*``, ``?`` or non-ASCII characters (a space or ``é`` gives the misleading
  ``Error reading answer list from qmaster``).
* Array task ids start at 1: ``-t 0-9`` is rejected. ``-t`` takes one arithmetic range.
* ``qacct -j`` takes one job id (``qacct -j 13,14`` silently reports job 13 only), so
  :meth:`SgeAdapter.accounting_argv` is one ``sh -c`` running ``qacct`` once per job.

The tag (:attr:`~jobledger.schedulers.base.BatchSpec.comment`) goes into the job context
(``-ac jl=<tag>``). ``qstat -xml`` (with or without ``-r``) does not show contexts; only
``qstat -j`` does. So the status call identifies jobs by id and name, and
:meth:`SgeAdapter.lookup_argv` (reconciling an unanswered submit by job name) is
``qstat -xml -j <name>``, whose output :meth:`SgeAdapter.parse_status` also understands:
it reveals the tag, hence the attempt, of every job with that name.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import xml.etree.ElementTree as ET  # input is checked for DTDs/entities before parsing
from collections.abc import Iterable, Sequence
from typing import ClassVar

from jobledger.errors import SchedulerError, SubmitError, UnsupportedResource
from jobledger.schedulers.base import (
    SIGNAL_EXIT_OFFSET,
    BatchSpec,
    Observation,
    SchedulerAdapter,
    Template,
    element_key,
)
from jobledger.states import JobState

__all__ = ["FAILED_CODES", "STATE_MAP", "SgeAdapter", "expand_task_ranges"]

#: Known ``qstat`` state strings -> (state, reason). Other combinations are classified
#: letter by letter (see :func:`classify_state`). Letters: ``q`` queued, ``w`` waiting,
#: ``h`` hold, ``r`` running, ``t`` transferring, ``R`` restarted, ``s`` suspended,
#: ``S`` queue suspended, ``T`` threshold suspended, ``E`` error, ``d`` deletion.
STATE_MAP: dict[str, tuple[JobState, str]] = {
    "qw": (JobState.SUBMITTED, ""),
    "hqw": (JobState.SUBMITTED, "held"),
    "hRwq": (JobState.SUBMITTED, "held, rescheduled"),
    "Rq": (JobState.SUBMITTED, "rescheduled"),
    "Rwq": (JobState.SUBMITTED, "rescheduled"),
    "t": (JobState.RUNNING, "transferring"),
    "r": (JobState.RUNNING, ""),
    "Rt": (JobState.RUNNING, "restarted, transferring"),
    "Rr": (JobState.RUNNING, "restarted"),
    "s": (JobState.RUNNING, "suspended"),
    "ts": (JobState.RUNNING, "suspended"),
    "S": (JobState.RUNNING, "suspended (queue)"),
    "tS": (JobState.RUNNING, "suspended (queue)"),
    "T": (JobState.RUNNING, "suspended (threshold)"),
    "tT": (JobState.RUNNING, "suspended (threshold)"),
    "Rs": (JobState.RUNNING, "restarted, suspended"),
    "RS": (JobState.RUNNING, "restarted, suspended (queue)"),
    "RT": (JobState.RUNNING, "restarted, suspended (threshold)"),
    "Eqw": (JobState.FAILED, "error state"),
    "Ehqw": (JobState.FAILED, "error state"),
    "EhRqw": (JobState.FAILED, "error state"),
    "dr": (JobState.RUNNING, "deletion requested"),
    "dt": (JobState.RUNNING, "deletion requested"),
    "dRr": (JobState.RUNNING, "deletion requested"),
    "dRt": (JobState.RUNNING, "deletion requested"),
    "ds": (JobState.RUNNING, "deletion requested"),
    "dS": (JobState.RUNNING, "deletion requested"),
    "dT": (JobState.RUNNING, "deletion requested"),
    "dRs": (JobState.RUNNING, "deletion requested"),
    "dRS": (JobState.RUNNING, "deletion requested"),
    "dRT": (JobState.RUNNING, "deletion requested"),
    "dqw": (JobState.CANCELLED, "deleted while pending"),
    "dhqw": (JobState.CANCELLED, "deleted while pending"),
    "dEqw": (JobState.CANCELLED, "deleted in error state"),
}

#: ``failed`` codes of ``qacct`` (SGE execd's shepherd states) and their meaning.
FAILED_CODES: dict[int, str] = {
    0: "no failure",
    1: "assumedly before job",
    3: "before writing config",
    4: "before writing PID",
    5: "on reading config file",
    6: "setting processor set",
    7: "before prolog",
    8: "in prolog",
    9: "before pestart",
    10: "in pestart",
    11: "before job",
    12: "before pestop",
    13: "in pestop",
    14: "before epilog",
    15: "in epilog",
    16: "releasing processor set",
    17: "through signal",
    18: "shepherd returns error",
    19: "before writing exit_status",
    20: "found unexpected error file",
    21: "in recognizing job",
    24: "migrating (checkpointing jobs)",
    25: "rescheduling",
    26: "opening input/output file",
    27: "searching requested shell",
    28: "changing to working directory",
    29: "AFS setup",
    30: "application error returned",
    37: "qmaster enforced h_rt, h_cpu, or h_vmem limit",
    38: "adding supplementary group",
    100: "assumedly after job",
}

_FAILED_RESCHEDULED = 25
_FAILED_LIMIT = 37
_FAILED_AFTER_JOB = 100
_SIGKILL_EXIT = SIGNAL_EXIT_OFFSET + 9

# Values that end up on a ``#$`` line or in qsub/qdel argv: nothing that SGE or a shell
# could read as a separator, a host prefix (``host:path``), a list (``,``) or a variable.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./+=%@~ -]*$")
_WORD_RE = re.compile(r"^[A-Za-z0-9_.@*+-]+$")
_NAME_RULE = "a letter or '_' first, then letters, digits, '_', '.', '-'"
_PATH_RULE = "an absolute path of letters, digits, spaces and _ . / + = % @ ~ -"
_TAG_RE = re.compile(r"^[A-Za-z0-9_.:+%@/-]+$")
_ID_RE = re.compile(r"^(\d+)(?:\[(\d+)\])?$")
_TERSE_RE = re.compile(r"^(\d+)(?:\.\d+-\d+:\d+)?$")
_VERBOSE_RE = re.compile(r"^Your job(?:-array)? (\d+)(?:\.\d+-\d+:\d+)? \(.*\) has been submitted")
_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
_RECORD_SEP_RE = re.compile(r"^={5,}\s*$", re.MULTILINE)
_DOES_NOT_EXIST_RE = re.compile(r'job "?\d+"?(?: task "?[\d,:-]+"?)? does not exist')
_CANCEL_OK_RE = re.compile(
    r"(has registered the job|has deleted job|has deleted job-array task"
    r"|is already in deletion|has registered the job-array task)"
)
_TRANSIENT_SGE = (
    "commlib error",
    "failed receiving gdi request",
    "can't connect to service",
    "got select error",
    "unable to contact qmaster",
    "unable to send message to qmaster",
    "qmaster is not alive",
)
_ACCOUNTING_SCRIPT = (
    'command -v qacct >/dev/null 2>&1 || { echo "qacct: command not found" >&2; exit 127; }; '
    'for id in "$@"; do qacct -j "$id" 2>/dev/null; done; exit 0'
)
_CTIME_FORMAT = "%a %b %d %H:%M:%S %Y"


class SgeAdapter(SchedulerAdapter):
    """Son of Grid Engine / Grid Engine (``qsub``, ``qstat -xml``, ``qacct``, ``qdel``).

    Site differences are settings, not code:

    ``parallel_environment``
        PE used for ``cpus`` > 1 on one host (``-pe smp N``, allocation rule
        ``$pe_slots``). ``None`` makes ``cpus`` > 1 an error.
    ``mpi_parallel_environment``
        PE used for ``tasks`` > 1 (``-pe <pe> tasks*cpus``); ``None`` (default) makes
        ``tasks``/``nodes`` > 1 an error.
    ``memory_resource``
        Complex for memory, **per slot**: SGE multiplies it by the number of slots. A
        per-node ``memory`` is divided by the slots (rounded up to a MiB); ``memory_per_cpu``
        is used as is. Default ``h_vmem`` (a hard virtual-memory limit).
    ``time_resource``
        Complex for the wall-time limit (``h_rt=H:MM:SS``).
    ``gpu_resource``
        Complex for GPUs (``-l gpu=N``); ``None`` makes ``gpus`` an error. SGE consumables
        are per slot unless the site defines them ``consumable JOB``.
    ``exclusive_resource``
        Boolean complex for exclusive nodes (``-l exclusive=true``); default ``None``:
        ``exclusive`` is an error.
    ``timezone``
        Time zone of the cluster's clocks (``qstat``/``qacct`` print local times without
        a zone); ``None`` means this process's local zone.
    """

    name: ClassVar[str] = "sge"
    afterok_is_native: ClassVar[bool] = False
    native_kinds: ClassVar[frozenset[str]] = frozenset({"afterany"})
    array_base: ClassVar[int] = 1
    """SGE's ``-hold_jid`` is afterany: the engine must enforce ``afterok`` itself."""
    directive_prefix: ClassVar[str] = "#$"

    def __init__(
        self,
        template: Template | None = None,
        *,
        parallel_environment: str | None = "smp",
        mpi_parallel_environment: str | None = None,
        memory_resource: str = "h_vmem",
        time_resource: str = "h_rt",
        gpu_resource: str | None = "gpu",
        exclusive_resource: str | None = None,
        timezone: _dt.tzinfo | None = None,
    ) -> None:
        super().__init__(template)
        for setting, value in (
            ("parallel_environment", parallel_environment),
            ("mpi_parallel_environment", mpi_parallel_environment),
            ("memory_resource", memory_resource),
            ("time_resource", time_resource),
            ("gpu_resource", gpu_resource),
            ("exclusive_resource", exclusive_resource),
        ):
            if value is not None and not _WORD_RE.match(value):
                raise ValueError(f"SGE setting {setting}={value!r} is not a plain name")
        self.parallel_environment = parallel_environment
        self.mpi_parallel_environment = mpi_parallel_environment
        self.memory_resource = memory_resource
        self.time_resource = time_resource
        self.gpu_resource = gpu_resource
        self.exclusive_resource = exclusive_resource
        self.timezone = timezone

    # ------------------------------------------------------------------ scripts
    def directives(self, spec: BatchSpec) -> list[str]:
        """``#$`` lines for ``spec``; raises :class:`UnsupportedResource` for what SGE
        cannot express (naming the keyword and ``sge``)."""
        p = self.directive_prefix
        name = _check(spec.job_name, _NAME_RE, "job_name", _NAME_RULE)
        run_dir = _check(spec.run_dir.rstrip("/") or "/", _PATH_RE, "run_dir", _PATH_RULE)
        workdir = _check(spec.workdir, _PATH_RE, "workdir", _PATH_RULE)
        tag = _check(spec.comment, _TAG_RE, "comment", "no spaces, commas or '='")
        log = f"{run_dir}/sge-$JOB_ID.$TASK_ID.log" if spec.array else f"{run_dir}/sge-$JOB_ID.log"
        lines = [
            f"{p} -N {name}",
            f"{p} -ac jl={tag}",
            f"{p} -o {_quote(log)}",
            f"{p} -j y",
            f"{p} -wd {_quote(workdir)}",
        ]
        lines += [f"{p} {arg}" for arg in self._array_args(spec)]
        lines += [f"{p} {arg}" for arg in self._dependency_args(spec)]
        lines += [f"{p} {arg}" for arg in self._resource_args(spec)]
        for raw in (*spec.resources.extra, *spec.raw_args):
            if "\n" in raw or "\r" in raw:
                raise _unsupported("extra", raw, "a raw directive must be one line")
            lines.append(raw if raw.startswith(p) else f"{p} {raw}")
        return lines

    def render_script(self, spec: BatchSpec) -> str:
        """The batch script; refuses setup/body lines that SGE would read as directives."""
        for where, text in (("setup", "\n".join(spec.setup)), ("body", spec.body)):
            for line in text.splitlines():
                if line.startswith(self.directive_prefix):
                    raise _unsupported(
                        where,
                        line,
                        f"SGE reads every line starting with {self.directive_prefix!r} as a "
                        "qsub option, wherever it is in the script; indent it or split it",
                    )
        return super().render_script(spec)

    def _array_args(self, spec: BatchSpec) -> list[str]:
        if spec.array is None:
            return []
        bounds = spec.array.as_range()
        if bounds is None:
            raise _unsupported(
                "array",
                spec.array.compact(),
                "SGE -t takes one range start-end:step; submit one array per range",
            )
        start, end, step = bounds
        if start < 1:
            raise _unsupported("array", spec.array.compact(), "SGE task ids start at 1")
        args = [f"-t {start}-{end}:{step}"]
        if spec.array.max_concurrent:
            args.append(f"-tc {spec.array.max_concurrent}")
        return args

    def _dependency_args(self, spec: BatchSpec) -> list[str]:
        ids: list[str] = []
        for dep in spec.dependencies:
            if dep.kind not in ("afterok", "afterany"):
                raise _unsupported(
                    "dependencies",
                    f"{dep.kind}:{dep.scheduler_id}",
                    "SGE -hold_jid waits for the upstream to end whatever its exit status;"
                    " only afterany (and afterok, enforced by the engine) can be expressed",
                )
            if not dep.scheduler_id.isdigit():
                raise _unsupported("dependencies", dep.scheduler_id, "SGE holds on whole jobs: give a job id")
            if dep.scheduler_id not in ids:
                ids.append(dep.scheduler_id)
        return [f"-hold_jid {','.join(ids)}"] if ids else []

    def _resource_args(self, spec: BatchSpec) -> list[str]:
        res = spec.resources
        args: list[str] = []
        cpus = res.cpus or 1
        tasks = res.tasks or 1
        nodes = res.nodes or 1
        slots = 1
        if tasks > 1 or nodes > 1:
            if self.mpi_parallel_environment is None:
                keyword = "tasks" if tasks > 1 else "nodes"
                raise _unsupported(
                    keyword,
                    tasks if tasks > 1 else nodes,
                    "SGE places slots, not nodes or tasks; configure mpi_parallel_environment",
                )
            if res.memory is not None:
                raise _unsupported("memory", res.memory, "with several tasks SGE needs memory_per_cpu")
            slots = tasks * cpus
            args.append(f"-pe {self.mpi_parallel_environment} {slots}")
        elif cpus > 1:
            if self.parallel_environment is None:
                raise _unsupported("cpus", cpus, "SGE needs a parallel environment; set parallel_environment")
            slots = cpus
            args.append(f"-pe {self.parallel_environment} {slots}")
        per_slot = res.memory_per_cpu
        if res.memory is not None:
            per_slot = math.ceil(res.memory / slots)
        if per_slot is not None:
            args.append(f"-l {self.memory_resource}={per_slot}M")
        if res.time is not None:
            hours, rest = divmod(res.time, 3600)
            args.append(f"-l {self.time_resource}={hours}:{rest // 60:02d}:{rest % 60:02d}")
        if res.gpus:
            if self.gpu_resource is None:
                raise _unsupported("gpus", res.gpus, "no GPU complex configured (gpu_resource)")
            args.append(f"-l {self.gpu_resource}={res.gpus}")
        if res.exclusive:
            if self.exclusive_resource is None:
                raise _unsupported("exclusive", True, "no exclusive complex configured (exclusive_resource)")
            args.append(f"-l {self.exclusive_resource}=true")
        if res.qos is not None:
            raise _unsupported("qos", res.qos, "SGE has no QOS; use extra directives")
        if res.constraint is not None:
            raise _unsupported(
                "constraint", res.constraint, "use extra directives such as '-l arch=lx-amd64'"
            )
        if res.partition is not None:
            args.append(f"-q {_check(res.partition, _WORD_RE, 'partition', 'a queue name')}")
        if res.account is not None:
            args.append(f"-P {_check(res.account, _WORD_RE, 'account', 'a project name')}")
        return args

    # ------------------------------------------------------------------ submission
    def submit_argv(self, script_path: str) -> list[str]:
        """``qsub -terse <script>``: prints ``123`` (or ``123.1-10:1`` for an array)."""
        if script_path.startswith("-"):
            raise ValueError(f"script path {script_path!r} would be read as an option")
        return ["qsub", "-terse", script_path]

    def parse_submit(self, returncode: int, stdout: str, stderr: str) -> str:
        """Base id from ``qsub -terse`` (``123``, ``123.1-10:1``) or plain ``qsub``."""
        if returncode == 0:
            for line in stdout.splitlines():
                text = line.strip()
                match = _TERSE_RE.match(text) or _VERBOSE_RE.match(text)
                if match:
                    return match.group(1)
            if not stderr.strip() and not stdout.strip():
                raise SubmitError(
                    "sge: qsub exited 0 without printing a job id; the job may exist (reconcile by name)",
                    transient=False,
                )
        raise self.submit_error(returncode, stdout, stderr)

    def is_transient(self, text: str) -> bool:
        """True for qmaster/communication trouble (worth retrying)."""
        lowered = text.lower()
        return super().is_transient(text) or any(m in lowered for m in _TRANSIENT_SGE)

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

    # ------------------------------------------------------------------ cancellation
    def cancel_argv(self, ids: Sequence[str]) -> list[str]:
        """``qdel <id> <id>.<task> ...`` (an element key ``123[4]`` becomes ``123.4``)."""
        args = []
        for key in ids:
            base, index = _split_key(key)
            args.append(base if index is None else f"{base}.{index}")
        if not args:
            raise ValueError("cancel_argv needs at least one id")
        return ["qdel", *args]

    def parse_cancel(self, returncode: int, stdout: str, stderr: str) -> None:
        """Accept deletions and jobs that no longer exist; raise for anything else."""
        if returncode == 0:
            return
        problems = [
            line.strip()
            for line in (stdout + "\n" + stderr).splitlines()
            if line.strip() and not _DOES_NOT_EXIST_RE.search(line) and not _CANCEL_OK_RE.search(line)
        ]
        if problems:
            raise SchedulerError(f"sge: qdel failed (exit {returncode}): {'; '.join(problems)}")

    # ------------------------------------------------------------------ misc
    def version_argv(self) -> list[str]:
        """``qstat -help``: its first line is the version (``SGE 8.1.9``)."""
        return ["qstat", "-help"]

    @staticmethod
    def parse_version(stdout: str) -> str:
        """``SGE 8.1.9`` from ``qstat -help`` output (the first non-empty line)."""
        for line in stdout.splitlines():
            if line.strip():
                return line.strip()
        return ""

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


# ---------------------------------------------------------------------- helpers
def classify_state(native: str) -> tuple[JobState, str]:
    """Map a ``qstat`` state string (``qw``, ``hqw``, ``Eqw``, ``dr`` ...) to a state and a
    reason: :data:`STATE_MAP` first, then letter by letter for unlisted combinations."""
    text = native.strip()
    if text in STATE_MAP:
        return STATE_MAP[text]
    running = any(letter in text for letter in "rtsST")
    if "d" in text:
        if running:
            return JobState.RUNNING, "deletion requested"
        return JobState.CANCELLED, "deleted while pending"
    if "E" in text:
        return JobState.FAILED, "error state"
    if running:
        return JobState.RUNNING, "suspended" if any(c in text for c in "sST") else ""
    if "h" in text:
        return JobState.SUBMITTED, "held"
    return JobState.SUBMITTED, "" if set(text) <= set("qwR") else f"state {text!r}"


def expand_task_ranges(text: str) -> Iterable[int]:
    """Task ids of a ``<tasks>`` value: ``'4'``, ``'2-10:1'``, ``'1,3,6'``, ``'1-5:2,9'``."""
    for part in text.split(","):
        match = _RANGE_RE.match(part.strip())
        if not match:
            raise SchedulerError(f"sge: cannot read task range {text!r}")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        step = int(match.group(3) or 1)
        yield from range(start, end + 1, max(step, 1))


def _parse_xml(text: str) -> ET.Element:
    if not text.strip():
        raise SchedulerError("sge: qstat -xml printed nothing")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SchedulerError("sge: refusing qstat -xml output with a DTD or entities")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTD/entities refused above
    except ET.ParseError as exc:
        raise SchedulerError(f"sge: cannot parse qstat -xml output: {exc}") from None
    # Some versions put a default namespace on the root: compare local names only.
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
    return root


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _qacct_fields(chunk: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in chunk.splitlines():
        key, _, value = line.partition(" ")
        if key and value.strip():
            fields[key] = value.strip()
    return fields


def _leading_int(text: str) -> int | None:
    match = re.match(r"\s*(-?\d+)", text)
    return int(match.group(1)) if match else None


def _split_key(key: str) -> tuple[str, int | None]:
    match = _ID_RE.match(key.strip())
    if not match:
        raise _unsupported("id", key, "expected a job id '123' or an element key '123[4]'")
    return match.group(1), int(match.group(2)) if match.group(2) else None


def _check(value: str, pattern: re.Pattern[str], keyword: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _unsupported(keyword, value, f"expected {expected}")
    return value


def _quote(path: str) -> str:
    """SGE reads double quotes on ``#$`` lines: needed for paths with spaces."""
    return f'"{path}"' if " " in path else path


def _unsupported(keyword: str, value: object, why: str) -> UnsupportedResource:
    return UnsupportedResource(f"sge cannot express {keyword}={value!r}: {why}")
