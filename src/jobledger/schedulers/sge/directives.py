"""Grid Engine batch scripts: ``#$`` directives for a
:class:`~jobledger.schedulers.base.BatchSpec`, and the script that refuses setup or body
lines SGE would read as directives.
"""

from __future__ import annotations

import math
from typing import ClassVar

from jobledger.schedulers.base import BatchSpec, SchedulerAdapter
from jobledger.schedulers.sge.checks import (
    _NAME_RE,
    _NAME_RULE,
    _PATH_RE,
    _PATH_RULE,
    _TAG_RE,
    _WORD_RE,
    _check,
    _quote,
    _unsupported,
)


class SgeDirectives(SchedulerAdapter):
    """The script half of :class:`~jobledger.schedulers.sge.SgeAdapter`: ``#$`` lines
    from its site settings (see there)."""

    directive_prefix: ClassVar[str]
    parallel_environment: str | None
    mpi_parallel_environment: str | None
    memory_resource: str
    time_resource: str
    gpu_resource: str | None
    exclusive_resource: str | None

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
