"""SLURM: ``#SBATCH`` directives, sbatch/squeue/sacct/scontrol/scancel argv, and parsers.

Everything here is pure: the engine runs the argv lists on a host and hands the output back.
Parsers were checked against output captured on SLURM 22.05 (``fixtures/slurm/``) and
against recordings from production clusters of other versions.

What the engine should know (seen on 22.05, see ``fixtures/slurm/README.md``):

* ``squeue -t all`` shows finished jobs only for ``MinJobAge`` seconds (300 by default);
  after that ``squeue``/``scontrol`` forget them and only ``sacct`` (with slurmdbd) or the
  ``jobcomp/filetxt`` file still know the outcome. ``squeue -j <one unknown id>`` exits 1
  (``Invalid job id specified``); with two or more ids, or with ``-u``, it exits 0.
* ``squeue -O exit_code`` is the raw wait status (768 = exit 3, 9 = SIGKILL); ``sacct`` and
  ``scontrol`` print ``exit:signal`` (``3:0``, ``0:9``). Both become
  :attr:`Observation.exit_code` (``128 + signal`` when a signal ended the job, like a shell)
  and :attr:`Observation.signal`. Exit codes are only reported for final states.
* Pending array elements keep the array's own job id; each element gets its own id when it
  starts. Keys are therefore always built from ``ArrayJobID``/``ArrayTaskID``.
* An ``afterok`` dependent of a failed job stays ``PENDING`` with reason
  ``DependencyNeverSatisfied`` forever; with ``--kill-on-invalid-dep=yes`` (always set here
  when a job has dependencies) it becomes ``CANCELLED`` with that reason. Both map to
  :attr:`JobState.DEPENDENCY_FAILED`.
* Times are requested as epoch seconds (``SLURM_TIME_FORMAT=%s`` through ``env``), so
  the engine's and the cluster's time zones never matter; ISO times (other tools'
  recordings) are read as local time.

The package is split by concept:

* :mod:`~jobledger.schedulers.slurm.states`: SLURM job states -> :class:`JobState`.
* :mod:`~jobledger.schedulers.slurm.directives`: ``#SBATCH`` quoting, raw directives,
  job ids and dependencies.
* :mod:`~jobledger.schedulers.slurm.records`: rows of ``squeue``/``sacct``/``scontrol``
  output -> :class:`~jobledger.schedulers.base.Observation`.
* :mod:`~jobledger.schedulers.slurm.parsers`: the public parsers of each output format.
* :mod:`~jobledger.schedulers.slurm.messages`: reading sbatch/scancel messages.
* :mod:`~jobledger.schedulers.slurm.adapter`: :class:`SlurmAdapter` itself.
"""

from __future__ import annotations

from jobledger.schedulers.slurm.adapter import SlurmAdapter
from jobledger.schedulers.slurm.directives import format_time_limit, sbatch_quote
from jobledger.schedulers.slurm.messages import is_submit_limit
from jobledger.schedulers.slurm.parsers import (
    ACCOUNTING_COLUMNS,
    STATUS_COLUMNS,
    parse_sacct,
    parse_sacct_json,
    parse_scontrol,
    parse_squeue,
)
from jobledger.schedulers.slurm.states import STATE_MAP

__all__ = [
    "ACCOUNTING_COLUMNS",
    "STATE_MAP",
    "STATUS_COLUMNS",
    "SlurmAdapter",
    "format_time_limit",
    "is_submit_limit",
    "parse_sacct",
    "parse_sacct_json",
    "parse_scontrol",
    "parse_squeue",
    "sbatch_quote",
]
