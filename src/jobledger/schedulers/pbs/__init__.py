"""PBS Professional / OpenPBS (``pbs``) and Torque (``torque``) adapters.

Both families share ``qsub``/``qstat``/``qdel``, job ids (``123.server``, arrays
``123[].server`` with elements ``123[4].server``) and the ``qstat -f`` attribute format.
They differ in *data*, which is all :class:`TorqueAdapter` overrides:

=====================  ===============================  ==================================
                       PBS Pro / OpenPBS                Torque
=====================  ===============================  ==================================
resources              ``-l select=N:ncpus=..:mem=..``  ``-l nodes=N:ppn=..``, ``-l mem=``
array                  ``-J 1-9:2%3`` (one range)       ``-t 1-3,7%2`` (lists allowed)
element env            ``PBS_ARRAY_INDEX``              ``PBS_ARRAYID``
status (one call)      ``qstat -f -F json -x -t ids``   ``qstat -f -t ids`` (``-x`` = XML)
finished state         ``F`` (``X`` for subjobs)        ``C``
scheduler exit codes   ``-29`` walltime, ``-27`` mem    ``-11`` walltime, ``-10`` mem
=====================  ===============================  ==================================

Working directory: PBS Pro has no chdir directive (jobs start in ``$HOME``); the body the
engine passes already ``cd``\\ s into ``BatchSpec.workdir``. Torque gets ``-d workdir`` too.

Key tag: PBS has no submit-time comment, and job names are short on old servers, so the
``jl:<key>:<attempt>`` tag is passed as ``-v JL_TAG=...``. It appears in ``Variable_List``,
which every ``qstat -f`` form (text, JSON, Torque XML) prints, so one status call reveals it
(and the job sees it as ``$JL_TAG``).

Exit status: ``0`` success; a positive value up to 255 is what the job's shell returned
(the PBS Pro reference guide reads 128-253 as "top process killed by signal X % 128"; we
keep it as an exit code, since a shell returns 128+N for a child killed by signal N too);
above 256 the top process itself died of signal ``X - 256`` (psij-python reads 265 so,
and recorded Torque output shows 271); negative values are the scheduler's own
``JOB_EXEC_*`` codes (tables below: ``-29``/``-11`` walltime, ``-27``/``-10`` memory).
Older PBS Pro servers report a walltime kill as a signal death (271), not ``-29``.
A finished job without any exit status was deleted before it ran. PBS Pro's history
substate ``91`` (``JOB_SUBSTATE_TERMINATED`` in OpenPBS ``job.h``) marks a deleted job;
Torque has no such marker, so a Torque job killed by ``qdel`` while running reads as a
signal death (the engine knows it asked for the cancel).
"""

from __future__ import annotations

from jobledger.schedulers.pbs.adapter import PbsAdapter
from jobledger.schedulers.pbs.ids import native_id, split_job_id
from jobledger.schedulers.pbs.qstat import parse_qstat
from jobledger.schedulers.pbs.tables import PBSPRO_EXEC_CODES as PBSPRO_EXEC_CODES
from jobledger.schedulers.pbs.tables import TORQUE_EXEC_CODES as TORQUE_EXEC_CODES
from jobledger.schedulers.pbs.torque import TorqueAdapter

__all__ = ["PbsAdapter", "TorqueAdapter", "native_id", "parse_qstat", "split_job_id"]
