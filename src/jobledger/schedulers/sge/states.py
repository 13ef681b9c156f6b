"""Grid Engine job states: ``qstat`` state strings and ``qacct`` ``failed`` codes.

:func:`classify_state` maps a ``qstat`` state string to a
:class:`~jobledger.states.JobState` and a reason; :data:`FAILED_CODES` names the
shepherd states ``qacct`` reports.
"""

from __future__ import annotations

from jobledger.schedulers.base import SIGNAL_EXIT_OFFSET
from jobledger.states import JobState

#: Known ``qstat`` state strings -> (state, reason). Other combinations are classified
#: letter by letter (see :func:`classify_state`). Letters: ``q`` queued, ``w`` waiting,
#: ``h`` hold, ``r`` running, ``t`` transferring, ``R`` restarted, ``s`` suspended,
#: ``S`` queue suspended, ``T`` threshold suspended, ``E`` error, ``d`` deletion.
STATE_MAP: dict[str, tuple[JobState, str]] = {
    "qw": (JobState.SUBMITTED, ""),
    "hqw": (JobState.SUBMITTED, "held"),
    "hRwq": (JobState.SUBMITTED, "held, rescheduled"),
    "Rq": (JobState.SUBMITTED, "rescheduled"),
    "Rwq": (JobState.SUBMITTED, "rescheduled"),
    "t": (JobState.RUNNING, "transferring"),
    "r": (JobState.RUNNING, ""),
    "Rt": (JobState.RUNNING, "restarted, transferring"),
    "Rr": (JobState.RUNNING, "restarted"),
    "s": (JobState.RUNNING, "suspended"),
    "ts": (JobState.RUNNING, "suspended"),
    "S": (JobState.RUNNING, "suspended (queue)"),
    "tS": (JobState.RUNNING, "suspended (queue)"),
    "T": (JobState.RUNNING, "suspended (threshold)"),
    "tT": (JobState.RUNNING, "suspended (threshold)"),
    "Rs": (JobState.RUNNING, "restarted, suspended"),
    "RS": (JobState.RUNNING, "restarted, suspended (queue)"),
    "RT": (JobState.RUNNING, "restarted, suspended (threshold)"),
    "Eqw": (JobState.FAILED, "error state"),
    "Ehqw": (JobState.FAILED, "error state"),
    "EhRqw": (JobState.FAILED, "error state"),
    "dr": (JobState.RUNNING, "deletion requested"),
    "dt": (JobState.RUNNING, "deletion requested"),
    "dRr": (JobState.RUNNING, "deletion requested"),
    "dRt": (JobState.RUNNING, "deletion requested"),
    "ds": (JobState.RUNNING, "deletion requested"),
    "dS": (JobState.RUNNING, "deletion requested"),
    "dT": (JobState.RUNNING, "deletion requested"),
    "dRs": (JobState.RUNNING, "deletion requested"),
    "dRS": (JobState.RUNNING, "deletion requested"),
    "dRT": (JobState.RUNNING, "deletion requested"),
    "dqw": (JobState.CANCELLED, "deleted while pending"),
    "dhqw": (JobState.CANCELLED, "deleted while pending"),
    "dEqw": (JobState.CANCELLED, "deleted in error state"),
}

#: ``failed`` codes of ``qacct`` (SGE execd's shepherd states) and their meaning.
FAILED_CODES: dict[int, str] = {
    0: "no failure",
    1: "assumedly before job",
    3: "before writing config",
    4: "before writing PID",
    5: "on reading config file",
    6: "setting processor set",
    7: "before prolog",
    8: "in prolog",
    9: "before pestart",
    10: "in pestart",
    11: "before job",
    12: "before pestop",
    13: "in pestop",
    14: "before epilog",
    15: "in epilog",
    16: "releasing processor set",
    17: "through signal",
    18: "shepherd returns error",
    19: "before writing exit_status",
    20: "found unexpected error file",
    21: "in recognizing job",
    24: "migrating (checkpointing jobs)",
    25: "rescheduling",
    26: "opening input/output file",
    27: "searching requested shell",
    28: "changing to working directory",
    29: "AFS setup",
    30: "application error returned",
    37: "qmaster enforced h_rt, h_cpu, or h_vmem limit",
    38: "adding supplementary group",
    100: "assumedly after job",
}

_FAILED_RESCHEDULED = 25
_FAILED_LIMIT = 37
_FAILED_AFTER_JOB = 100
_SIGKILL_EXIT = SIGNAL_EXIT_OFFSET + 9


def classify_state(native: str) -> tuple[JobState, str]:
    """Map a ``qstat`` state string (``qw``, ``hqw``, ``Eqw``, ``dr`` ...) to a state and a
    reason: :data:`STATE_MAP` first, then letter by letter for unlisted combinations."""
    text = native.strip()
    if text in STATE_MAP:
        return STATE_MAP[text]
    running = any(letter in text for letter in "rtsST")
    if "d" in text:
        if running:
            return JobState.RUNNING, "deletion requested"
        return JobState.CANCELLED, "deleted while pending"
    if "E" in text:
        return JobState.FAILED, "error state"
    if running:
        return JobState.RUNNING, "suspended" if any(c in text for c in "sST") else ""
    if "h" in text:
        return JobState.SUBMITTED, "held"
    return JobState.SUBMITTED, "" if set(text) <= set("qwR") else f"state {text!r}"
