"""The Grid Engine adapter: site settings, submission and cancellation, with the script
and observation halves from :mod:`~jobledger.schedulers.sge.directives` and
:mod:`~jobledger.schedulers.sge.observe`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import ClassVar

from jobledger.errors import SchedulerError, SubmitError
from jobledger.schedulers.base import Template
from jobledger.schedulers.sge.checks import _WORD_RE, _split_key
from jobledger.schedulers.sge.directives import SgeDirectives
from jobledger.schedulers.sge.observe import SgeObservation
from jobledger.schedulers.sge.parsing import (
    _CANCEL_OK_RE,
    _DOES_NOT_EXIST_RE,
    _TERSE_RE,
    _TRANSIENT_SGE,
    _VERBOSE_RE,
)


class SgeAdapter(SgeDirectives, SgeObservation):
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
    array_env: ClassVar[str] = "SGE_TASK_ID"
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
        pack_limit: int | str | None = None,
    ) -> None:
        super().__init__(template, pack_limit=pack_limit)
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
