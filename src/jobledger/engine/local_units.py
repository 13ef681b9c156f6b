"""A local unit in the driver's hands: queued, or running as a process group, and how its
end reads (the exit record, or what is known when it left none)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs

from jobledger.engine.direct import DirectStart
from jobledger.engine.procs import ProcTable, UnitProcs
from jobledger.engine.types import Update
from jobledger.engine.unit_files import Claim, ExitRecord
from jobledger.states import JobState

SCRIPT = "job.sh"
"""The wrapper script in every attempt directory."""


@attrs.define
class QueuedUnit:
    """A unit waiting in the driver for CPUs (or handed to the launcher)."""

    key: str
    attempt: int
    index: int | None
    attempt_dir: Path
    cpus: int
    group: str
    max_concurrent: int | None
    adopted: bool = False
    """Queued by :meth:`LocalBackend.adopt`: another process may be starting it."""
    direct: DirectStart | None = None
    """Its task, for the supervisor to start without a shell (None: run ``job.sh``)."""

    @property
    def unit_dir(self) -> Path:
        return self.attempt_dir if self.index is None else self.attempt_dir / str(self.index)


@attrs.define
class RunningUnit:
    """A unit that was started (by this process, the launcher or another driver)."""

    queued: QueuedUnit
    child: bool
    """True when this process spawned it (and must reap it)."""
    pid: int
    started: float
    procs: UnitProcs
    """Its processes: liveness is theirs, not the wrapper's alone."""
    announced: bool = True
    """False while a unit handed to the launcher has not been reported started."""
    launched: bool = False
    """Handed to this driver's launcher, which keeps it within its CPU budget."""


def claim_procs(claim: Claim, started: float) -> UnitProcs:
    """The processes of a unit as its claim names them."""
    pgid = claim.pgid or claim.pid
    return UnitProcs(claim.pid, pgid, claim.sid == pgid, claim.started or started, keeper=claim.keeper)


def final_update(
    key: str, attempt: int, index: int | None, record: ExitRecord, cancelled: bool, stop: str = ""
) -> Update:
    """Turn an exit record into a final :class:`Update` (``stop``: the state a stop asked for)."""
    stop = record.stop or stop
    if record.exit_code == 0 and not record.signal and not record.stop:
        state = JobState.COMPLETED
    elif stop == JobState.TIMEOUT.value:
        state = JobState.TIMEOUT
    elif cancelled or stop:
        state = JobState.CANCELLED
    else:
        state = JobState.FAILED
    reason = record.reason
    if not reason and record.exit_code == 127:
        reason = "command not found (exit 127)"
    elif not reason and record.exit_code:
        reason = f"exit code {record.exit_code}"
    return Update(
        key,
        attempt,
        index,
        state,
        exit_code=record.exit_code,
        signal=record.signal,
        reason=reason,
        source="exit-file",
        at=record.ended,
        started=record.started,
    )


def lost_reason(run: RunningUnit, table: ProcTable) -> str:
    """What is known of a unit whose processes all ended without an exit record."""
    procs = run.procs
    gone = _clock(table.done_at)
    seen = procs.last_alive
    if procs.released:
        return (
            f"the task (pid {run.pid}) ended and its supervisor could not write its exit record "
            f"(its run directory gone or unwritable?); exit code unknown"
        )
    if procs.keeper is not None:  # started without a shell: its supervisor writes the record
        keeper = procs.keeper[0]
        if seen is not None:
            return (
                f"its supervisor (pid {keeper}) was killed before it could record an exit code; "
                f"the task (pid {run.pid}) ran on until between {_clock(seen)} and {gone}; exit code unknown"
            )
        return (
            f"the task (pid {run.pid}) and its supervisor (pid {keeper}) ended without an exit "
            f"record (killed with SIGKILL?); gone by {gone}; exit code unknown"
        )
    if procs.leader_gone_at is not None and seen is not None and seen >= procs.leader_gone_at:
        return (
            f"the wrapper (pid {run.pid}) was killed before it could record an exit code; "
            f"its task ran on until between {_clock(seen)} and {gone}; exit code unknown"
        )
    return (
        f"the wrapper (pid {run.pid}) and its task ended without an exit record "
        f"(killed with SIGKILL?); gone by {gone}; exit code unknown"
    )


def _clock(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def reap(pid: int) -> bool:
    """Collect our child ``pid`` if it ended; True when it is gone."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


#: Seconds an empty claim is taken for one being written (its claimant has created it
#: and not yet written who it is); an older one was left by a process killed in between.
CLAIM_GRACE = 30.0


def just_claimed(path: Path) -> bool:
    """True when ``path`` is a claim created moments ago and still empty."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size == 0 and time.time() - info.st_mtime < CLAIM_GRACE


def read_bytes(path: Path) -> bytes | None:
    """The bytes of ``path``, ``None`` when it (or its folder) does not exist."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
