"""The SLURM adapter: ``#SBATCH`` directives and the sbatch/squeue/sacct/scontrol/scancel
argv lists, with their outputs read by :mod:`~jobledger.schedulers.slurm.parsers`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from jobledger.errors import ModelError, SchedulerError, SubmitError
from jobledger.schedulers.base import BatchSpec, Observation, SchedulerAdapter
from jobledger.schedulers.slurm.directives import (
    _check_line,
    _dependency_value,
    _native_id,
    _raw_directive,
    format_time_limit,
    sbatch_quote,
)
from jobledger.schedulers.slurm.messages import (
    _CANCEL_IGNORABLE,
    _SLURM_TRANSIENT,
    _SUBMITTED,
    is_submit_limit,
)
from jobledger.schedulers.slurm.parsers import (
    ACCOUNTING_COLUMNS,
    STATUS_COLUMNS,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
)

_TIME_ENV = ("env", "SLURM_TIME_FORMAT=%s")


class SlurmAdapter(SchedulerAdapter):
    """SLURM (``sbatch``/``squeue``/``sacct``/``scontrol``/``scancel``)."""

    name: ClassVar[str] = "slurm"
    array_env: ClassVar[str] = "SLURM_ARRAY_TASK_ID"
    element_dependencies: ClassVar[bool] = True

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
