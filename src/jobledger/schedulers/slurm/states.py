"""SLURM job states (long and compact spellings) and how they map to :class:`JobState`.

A job whose dependency can never be satisfied (reason ``DependencyNeverSatisfied``) is
:attr:`JobState.DEPENDENCY_FAILED`, whether it still waits or SLURM cancelled it.
"""

from __future__ import annotations

from jobledger.schedulers.base import state_from_map
from jobledger.states import JobState

_S = JobState
#: SLURM job states (long and compact spellings) -> :class:`JobState`.
STATE_MAP: dict[str, JobState] = {
    # waiting
    "PENDING": _S.SUBMITTED, "PD": _S.SUBMITTED,
    "CONFIGURING": _S.SUBMITTED, "CF": _S.SUBMITTED,
    "REQUEUED": _S.SUBMITTED, "RQ": _S.SUBMITTED,
    "REQUEUE_FED": _S.SUBMITTED, "RF": _S.SUBMITTED,
    "REQUEUE_HOLD": _S.SUBMITTED, "RH": _S.SUBMITTED,
    "RESV_DEL_HOLD": _S.SUBMITTED, "RD": _S.SUBMITTED,
    # holding an allocation, outcome not known yet
    "RUNNING": _S.RUNNING, "R": _S.RUNNING,
    "COMPLETING": _S.RUNNING, "CG": _S.RUNNING,
    "RESIZING": _S.RUNNING, "RS": _S.RUNNING,
    "SIGNALING": _S.RUNNING, "SI": _S.RUNNING,
    "STAGE_OUT": _S.RUNNING, "SO": _S.RUNNING,
    "STOPPED": _S.RUNNING, "ST": _S.RUNNING,
    "SUSPENDED": _S.RUNNING, "S": _S.RUNNING,
    # final
    "COMPLETED": _S.COMPLETED, "CD": _S.COMPLETED,
    "FAILED": _S.FAILED, "F": _S.FAILED,
    "SPECIAL_EXIT": _S.FAILED, "SE": _S.FAILED,
    "CANCELLED": _S.CANCELLED, "CA": _S.CANCELLED,
    "REVOKED": _S.CANCELLED, "RV": _S.CANCELLED,
    "TIMEOUT": _S.TIMEOUT, "TO": _S.TIMEOUT,
    "DEADLINE": _S.TIMEOUT, "DL": _S.TIMEOUT,
    "OUT_OF_MEMORY": _S.OUT_OF_MEMORY, "OOM": _S.OUT_OF_MEMORY,
    "NODE_FAIL": _S.NODE_FAIL, "NF": _S.NODE_FAIL,
    "PREEMPTED": _S.PREEMPTED, "PR": _S.PREEMPTED,
    "BOOT_FAIL": _S.BOOT_FAIL, "BF": _S.BOOT_FAIL,
}  # fmt: skip

_NEVER = "DependencyNeverSatisfied"


def _state(native: str, reason: str) -> JobState:
    words = native.split(maxsplit=1)
    word = words[0].rstrip("+") if words else ""
    state = state_from_map(word, STATE_MAP, JobState.SUBMITTED)
    if reason == _NEVER and state in (JobState.SUBMITTED, JobState.CANCELLED):
        return JobState.DEPENDENCY_FAILED
    return state
