"""The LSF adapter: ``#BSUB`` directives and the bsub/bjobs/bkill argv lists, with their
outputs read by :mod:`~jobledger.schedulers.lsf.parsing` (the choices are explained in the
package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from jobledger.errors import SchedulerError, UnsupportedResource
from jobledger.model.array import ArraySpec, compress_indices
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, Observation, SchedulerAdapter, Template
from jobledger.schedulers.lsf.parsing import (
    _DEPENDENCY_KIND,
    _ENDED_MARKERS,
    _SUBMIT_RE,
    STATUS_FIELDS,
    observations,
    parse_bjobs,
)


class LsfAdapter(SchedulerAdapter):
    """IBM Spectrum LSF.

    ``json_status=False`` switches :meth:`status_argv` to the delimited form for LSF
    older than 10.1 (no ``-json``); :meth:`parse_status` reads every form.
    """

    array_base: ClassVar[int] = 1
    array_env: ClassVar[str] = "LSB_JOBINDEX"

    name: ClassVar[str] = "lsf"
    submit_uses_stdin: ClassVar[bool] = True
    extra_markers: ClassVar[tuple[str, ...]] = (
        "not responding",
        "please wait",
        "failed in an lsf library call",
        "timed out",
    )

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
        return observations(parse_bjobs(stdout))

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
