"""The Torque adapter: :class:`PbsAdapter` with Torque's data (``nodes=N:ppn=C``, ``-t``, ``-d``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from jobledger.model.array import ArraySpec, compress_indices
from jobledger.model.resources import Resources
from jobledger.schedulers.pbs.adapter import PbsAdapter
from jobledger.schedulers.pbs.tables import TORQUE_EXEC_CODES
from jobledger.states import JobState


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
