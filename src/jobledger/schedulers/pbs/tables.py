"""What PBS's numbers mean: ``job_state`` letters, ``JOB_EXEC_*`` exit codes of both
families, and the substates and signal base the adapter reads."""

from __future__ import annotations

from jobledger.states import JobState

#: ``job_state`` letters of both families. ``F``/``X``/``C`` are final and refined by
#: :meth:`PbsAdapter._ended`; ``E`` (exiting) is still running.
_STATES: dict[str, JobState] = {
    "Q": JobState.SUBMITTED,  # queued
    "H": JobState.SUBMITTED,  # held (user/system/dependency)
    "W": JobState.SUBMITTED,  # waiting for its start time / stage-in
    "T": JobState.SUBMITTED,  # in transit between servers
    "M": JobState.SUBMITTED,  # moved to another server (PBS Pro)
    "B": JobState.RUNNING,  # array begun: at least one subjob left the queue (PBS Pro)
    "R": JobState.RUNNING,
    "E": JobState.RUNNING,  # exiting: ran, output being staged back
    "S": JobState.RUNNING,  # suspended by the server
    "U": JobState.RUNNING,  # suspended, workstation busy (PBS Pro)
    "F": JobState.COMPLETED,  # finished (PBS Pro history) -> refined
    "X": JobState.COMPLETED,  # subjob finished (PBS Pro) -> refined
    "C": JobState.COMPLETED,  # completed (Torque) -> refined
}
_FINAL_LETTERS = frozenset("FXC")


#: PBS Pro / OpenPBS ``JOB_EXEC_*`` codes (``src/include/job.h``; reference guide table
#: "Job Exit Codes").
PBSPRO_EXEC_CODES: dict[int, tuple[str, JobState]] = {
    -1: ("JOB_EXEC_FAIL1", JobState.FAILED),
    -2: ("JOB_EXEC_FAIL2", JobState.FAILED),
    -3: ("JOB_EXEC_RETRY", JobState.FAILED),
    -4: ("JOB_EXEC_INITABT", JobState.NODE_FAIL),
    -5: ("JOB_EXEC_INITRST", JobState.NODE_FAIL),
    -6: ("JOB_EXEC_INITRMG", JobState.NODE_FAIL),
    -7: ("JOB_EXEC_BADRESRT", JobState.FAILED),
    -10: ("JOB_EXEC_FAILUID", JobState.FAILED),
    -11: ("JOB_EXEC_RERUN", JobState.FAILED),
    -12: ("JOB_EXEC_CHKP", JobState.FAILED),
    -13: ("JOB_EXEC_FAIL_PASSWORD", JobState.FAILED),
    -14: ("JOB_EXEC_RERUN_SIS_FAIL", JobState.NODE_FAIL),
    -15: ("JOB_EXEC_QUERST", JobState.FAILED),
    -16: ("JOB_EXEC_FAILHOOK_RERUN", JobState.FAILED),
    -17: ("JOB_EXEC_FAILHOOK_DELETE", JobState.FAILED),
    -18: ("JOB_EXEC_HOOK_RERUN", JobState.FAILED),
    -19: ("JOB_EXEC_HOOK_DELETE", JobState.FAILED),
    -20: ("JOB_EXEC_RERUN_MS_FAIL", JobState.NODE_FAIL),
    -21: ("JOB_EXEC_FAIL_SECURITY", JobState.FAILED),
    -22: ("JOB_EXEC_HOOKERROR", JobState.FAILED),
    -23: ("JOB_EXEC_FAIL_KRB5", JobState.FAILED),
    -24: ("JOB_EXEC_KILL_NCPUS_BURST", JobState.FAILED),
    -25: ("JOB_EXEC_KILL_NCPUS_SUM", JobState.FAILED),
    -26: ("JOB_EXEC_KILL_VMEM", JobState.OUT_OF_MEMORY),
    -27: ("JOB_EXEC_KILL_MEM", JobState.OUT_OF_MEMORY),
    -28: ("JOB_EXEC_KILL_CPUT", JobState.TIMEOUT),
    -29: ("JOB_EXEC_KILL_WALLTIME", JobState.TIMEOUT),
    -30: ("JOB_EXEC_JOINJOB", JobState.FAILED),
}

#: Torque ``JOB_EXEC_*`` codes (Torque 6 admin guide, "Job Exit Status").
TORQUE_EXEC_CODES: dict[int, tuple[str, JobState]] = {
    -1: ("JOB_EXEC_FAIL1", JobState.FAILED),
    -2: ("JOB_EXEC_FAIL2", JobState.FAILED),
    -3: ("JOB_EXEC_RETRY", JobState.FAILED),
    -4: ("JOB_EXEC_INITABT", JobState.NODE_FAIL),
    -5: ("JOB_EXEC_INITRST", JobState.NODE_FAIL),
    -6: ("JOB_EXEC_INITRMG", JobState.NODE_FAIL),
    -7: ("JOB_EXEC_BADRESRT", JobState.FAILED),
    -8: ("JOB_EXEC_CMDFAIL", JobState.FAILED),
    -9: ("JOB_EXEC_STDOUTFAIL", JobState.FAILED),
    -10: ("JOB_EXEC_OVERLIMIT_MEM", JobState.OUT_OF_MEMORY),
    -11: ("JOB_EXEC_OVERLIMIT_WT", JobState.TIMEOUT),
    -12: ("JOB_EXEC_OVERLIMIT_CPUT", JobState.TIMEOUT),
    -13: ("JOB_EXEC_RETRY_CGROUP", JobState.FAILED),
    -14: ("JOB_EXEC_RETRY_PROLOGUE", JobState.FAILED),
}


_SUBSTATE_DEPNHOLD = 22
_SUBSTATE_TERMINATED = 91
_PBS_SIGNAL_BASE = 256
