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

The package is split by concept:

* :mod:`~jobledger.schedulers.sge.states`: ``qstat`` states and ``qacct`` failed codes.
* :mod:`~jobledger.schedulers.sge.checks`: what may go on a ``#$`` line or into argv.
* :mod:`~jobledger.schedulers.sge.parsing`: reading qsub/qstat/qacct/qdel output.
* :mod:`~jobledger.schedulers.sge.directives`: rendering ``#$`` directives and scripts.
* :mod:`~jobledger.schedulers.sge.observe`: status, lookup and accounting commands and
  their observations.
* :mod:`~jobledger.schedulers.sge.adapter`: :class:`SgeAdapter` itself (settings,
  submission, cancellation).
"""

from __future__ import annotations

from jobledger.schedulers.sge.adapter import SgeAdapter
from jobledger.schedulers.sge.parsing import expand_task_ranges
from jobledger.schedulers.sge.states import FAILED_CODES, STATE_MAP
from jobledger.schedulers.sge.states import classify_state as classify_state  # public, not in __all__

__all__ = ["FAILED_CODES", "STATE_MAP", "SgeAdapter", "expand_task_ranges"]
