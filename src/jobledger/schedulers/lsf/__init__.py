"""IBM Spectrum LSF adapter (``lsf``).

Choices, with the LSF 10.1 command reference as the source:

- **Submission on stdin** (``bsub < script``): ``bsub script`` treats the file as a command
  and ignores its ``#BSUB`` lines unless the site sets ``LSB_BSUB_PARSE_SCRIPT=Y``, so
  :attr:`LsfAdapter.submit_uses_stdin` is true and :meth:`LsfAdapter.submit_argv` is just
  ``bsub``; the engine feeds the script file to its standard input.
- **Key tag** in the job description (``-Jd``), which ``bjobs -o job_description`` prints,
  so the status call reveals it.
- **Arrays** ``-J "name[1-10:2,15]%3"``; LSF indices are positive, so an array holding
  index 0 is rejected (:class:`~jobledger.errors.UnsupportedResource`). The element's
  index is ``$LSB_JOBINDEX``; its key is ``<jobid>[<index>]``.
- **Status** in one call: ``bjobs -a -o "<fields>" -json [ids]`` (LSF >= 10.1); the
  fallback ``bjobs -a -noheader -o "<fields> delimiter='|'"`` for older servers. The parser
  also reads the default ``bjobs`` table and ``bjobs -l`` long output.
- **Memory**: ``Resources.memory`` (per node) becomes ``-M`` and a per-slot
  ``rusage[mem=...]``; ``memory_per_cpu`` is the per-slot reservation. Units are given
  explicitly (``MB``) so ``LSF_UNIT_FOR_LIMITS`` does not matter.
- **Exit reasons** (``exit_reason``, "Termination reasons displayed by bacct, bhist and
  bjobs"): ``TERM_RUNLIMIT`` -> timeout, ``TERM_MEMLIMIT``/``TERM_SWAP`` -> out of memory,
  ``TERM_OWNER``/``TERM_ADMIN``/``TERM_FORCE_*`` -> cancelled, ``TERM_PREEMPT`` ->
  preempted, ``TERM_ORPHAN_SYSTEM`` -> dependency failed. A job whose dependency can never
  be met stays ``PEND``; it is reported with reason ``DependencyNeverSatisfied``.
"""

from __future__ import annotations

from jobledger.schedulers.lsf.adapter import LsfAdapter
from jobledger.schedulers.lsf.parsing import STATUS_FIELDS, lsf_observation, parse_bjobs

__all__ = ["STATUS_FIELDS", "LsfAdapter", "lsf_observation", "parse_bjobs"]
