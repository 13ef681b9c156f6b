"""What sbatch and scancel say: job ids, transient controller trouble, submit limits and
cancellations of jobs that had already ended.
"""

from __future__ import annotations

import re

_SUBMITTED = re.compile(r"(?:Submitted batch job\s+)?(\d+)(?:;\S+)?")
_SLURM_TRANSIENT = (
    "socket timed out",
    "unable to contact slurm controller",
    "resource temporarily unavailable",
    "temporarily unable to accept job",
    "zero bytes were transmitted or received",
    "communication connection failure",
    "slurm backup controller in standby mode",
    "slurmctld is not responding",
    "connection reset by peer",
    "transport endpoint is not connected",
    "protocol authentication error",  # munged restarting
)
_SUBMIT_LIMIT = re.compile(
    r"MaxSubmitJob|GrpSubmitJob|MaxSubmitLimit|job submit limit|SubmitJobsLimit",
    re.IGNORECASE,
)
_CANCEL_IGNORABLE = (
    "already completing or completed",
    "job/step already completing",
    "invalid job id specified",
    "job has already finished",
)


def is_submit_limit(text: str) -> bool:
    """True when sbatch refused because a per-user/account/QOS submit limit is reached
    (``QOSMaxSubmitJobPerUserLimit``, ``AssocMaxSubmitJobLimit``, ...): throttle and retry
    once some jobs have left the queue. SLURM's generic line "Job violates accounting/QOS
    policy (job submit limit, user's size and/or time limits)" alone is not enough (size
    and time limits share it), so the specific reason code must be present."""
    for line in text.splitlines():
        if "violates accounting/qos policy" in line.lower():
            continue
        if _SUBMIT_LIMIT.search(line):
            return True
    return False
