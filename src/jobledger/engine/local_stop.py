"""Stopping local units: the ``cancel`` file first (the evidence every observer reads),
then signals to every process of the unit; a unit not started yet is kept from starting."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from jobledger.engine.local_book import Ident, UnitBook
from jobledger.engine.local_units import QueuedUnit, claim_procs, read_bytes
from jobledger.engine.procs import ProcTable, UnitProcs
from jobledger.engine.types import Update
from jobledger.engine.unit_files import CLAIM_FILE, EXIT_FILE, STOP_FILE, Claim, parse_claim, render_stop
from jobledger.states import JobState

log = logging.getLogger("jobledger")

NEVER_STARTED = "cancelled before it started"


def cancel_units(book: UnitBook, idents: list[Ident], grace: float) -> list[Update]:
    """Stop the units ``idents`` of ``book`` (see :meth:`LocalProcesses.cancel`): the
    CANCELLED updates of those that never started."""
    updates: list[Update] = []
    targets: list[UnitProcs] = []
    for ident in idents:
        book.cancelled.add(ident)
        if ident in book.timed_out:
            stop = (JobState.TIMEOUT.value, "time limit reached")
        else:
            stop = (JobState.CANCELLED.value, f"cancelled on request (by process {os.getpid()})")
        if ident in book.queued:
            item = book.dequeue(ident)
            claim = stop_before_start(item, stop) if item.adopted else None
            if claim is None:
                updates.append(Update(*ident, JobState.CANCELLED, reason=NEVER_STARTED, source="local"))
                continue
            # another process had started it meanwhile: watch it and stop it
            book.track_claimed(item, claim, time.time())
        run = book.running.get(ident)
        if run is not None and not run.announced:
            claim = stop_before_start(run.queued, stop)
            if claim is None:
                book.settle(ident)
                updates.append(Update(*ident, JobState.CANCELLED, reason=NEVER_STARTED, source="local"))
                continue
            run.pid, run.announced = claim.pid, True
            run.procs = claim_procs(claim, run.started)
        if run is not None and run.procs.pgid > 0:
            write_stop(run.queued.unit_dir, *stop)
            targets.append(run.procs)
    if targets:
        stop_all(targets, grace)
    return updates


def stop_all(targets: list[UnitProcs], grace: float) -> None:
    """SIGTERM every process group of ``targets``, SIGKILL what is left after ``grace``."""
    table = ProcTable.scan()
    for procs in targets:
        procs.signal(table, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while targets and time.monotonic() < deadline:
        time.sleep(0.05)
        table = ProcTable.scan()
        targets = [p for p in targets if p.alive(table)]
    if targets:
        table = ProcTable.scan()
        for procs in targets:
            procs.signal(table, signal.SIGKILL)


def write_stop(unit: Path, state: str, reason: str) -> None:
    """Write ``unit``'s ``cancel`` file durably, before anything is signalled (a first
    one is kept: it says why the unit was stopped)."""
    path = unit / STOP_FILE
    if path.exists():
        return
    tmp = unit / f".{STOP_FILE}.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, render_stop(state, reason).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(unit, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        # the signal still goes out; the ledger's cancel intent remains the record
        log.warning("cannot write %s: %s", path, exc)


def stop_before_start(item: QueuedUnit, stop: tuple[str, str]) -> Claim | None:
    """Keep a unit that may be starting elsewhere (handed to the launcher, or queued
    by another process) from running: write its ``cancel`` file, then take its claim
    (the wrapper then exits at once) and write its exit record. Returns None when
    that worked, else the claim of the wrapper that got there first (whose tasks
    never start if it saw the ``cancel`` file)."""
    unit = item.unit_dir
    try:
        unit.mkdir(parents=True, exist_ok=True)  # gone (a clone, a clean-up): it cannot start
    except OSError as exc:
        log.warning("cannot make %s to stop it: %s", unit, exc)
        return None
    write_stop(unit, *stop)
    now = time.time()
    try:
        fd = os.open(unit / CLAIM_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # the wrapper got there first; its claim may be a moment from holding its pid
        deadline = time.monotonic() + 1.0
        while (claim := parse_claim(read_bytes(unit / CLAIM_FILE))) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return claim or Claim(0, "", now)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"0 cancelled {now:.6f}\n")
    (unit / EXIT_FILE).write_text(
        f"exit_code=1\nsignal=\nstarted=\nended={now:.6f}\nstop={stop[0]}\n"
        "reason=cancelled before it started\nend\n"
    )
    return None
