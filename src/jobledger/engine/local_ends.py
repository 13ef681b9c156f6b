"""Seeing local units end: which may have ended (named by a completion marker, let go by
the supervisor, or, in a full look over ``/proc``, with their leader gone), and the final
update of each — from its exit record, or, once every process of the unit is gone and it
left none, from what is known (its ``cancel`` file, a time limit, what was seen alive).
A unit whose processes still run is left for a later look."""

from __future__ import annotations

import attrs

from jobledger.engine.local_book import Ident, UnitBook
from jobledger.engine.local_units import (
    RunningUnit,
    claim_procs,
    final_update,
    just_claimed,
    lost_reason,
    read_bytes,
    reap,
)
from jobledger.engine.procs import ProcTable
from jobledger.engine.types import Update
from jobledger.engine.unit_files import (
    CLAIM_FILE,
    EXIT_FILE,
    STOP_FILE,
    parse_claim,
    parse_exit_file,
    parse_stop,
)
from jobledger.states import JobState


def collect_ends(book: UnitBook, markers: list[str], ended: list[str], full: bool) -> list[Update]:
    """Final updates for units of ``book`` that ended: those named by ``markers`` or by
    the supervisor (``ended``: it is done with them), or (``full``) every running unit
    whose wrapper is gone, looked at in one pass over ``/proc``."""
    updates: list[Update] = []
    released = book.running_of_markers(ended)
    for ident in released:
        # the supervisor is done with it: its record is written, or never will be
        procs = book.running[ident].procs
        procs.keeper, procs.released = None, True
    candidates = book.running_of_markers(markers) | released
    table = ProcTable.scan() if full else None
    if table is not None:
        for ident, run in book.running.items():
            if not run.announced:
                continue  # the launcher has not started it yet
            if run.child:
                reap(run.pid)
            if not run.procs.leader_alive(table):
                candidates.add(ident)
            elif run.procs.keeper is not None:
                run.procs.last_alive = table.taken_at  # its task is the leader
    for ident in candidates:
        update = _finished(book, ident, table)
        if update is not None:
            updates.append(update)
    return updates


def _finished(book: UnitBook, ident: Ident, table: ProcTable | None) -> Update | None:
    """The final update of a unit that may have ended; with ``table`` (a look at every
    process) also of one that ended without an exit record, once none of its
    processes is left."""
    run = book.running[ident]
    item = run.queued
    unit = item.unit_dir
    record = parse_exit_file(read_bytes(unit / EXIT_FILE))
    if record is None:
        claim = parse_claim(read_bytes(unit / CLAIM_FILE))
        if claim is not None and claim.pid > 0 and claim.pid != run.pid:
            # our wrapper lost the claim to one started earlier: watch that one
            if run.child:
                reap(run.pid)
            started = claim.started or run.started
            run = RunningUnit(item, False, claim.pid, started, claim_procs(claim, started))
            book.replace(ident, run)
        if table is None or (claim is None and just_claimed(unit / CLAIM_FILE)):
            return None  # (a claim still empty: its claimant is a moment from naming itself)
        if run.child:
            reap(run.pid)
        if run.procs.alive(table) or run.procs.kept(table):
            return None  # its wrapper may be gone, its task is not (or its record is being written)
        record = parse_exit_file(read_bytes(unit / EXIT_FILE))  # it may have just finished
        if record is None:
            return _ended_unrecorded(book, ident, run, table)
    book.settle(ident)
    stop = ""
    if record.signal and not record.stop:
        found = parse_stop(read_bytes(unit / STOP_FILE))  # stopped before its trap was set
        stop = found[0] if found else ""
    update = final_update(item.key, item.attempt, item.index, record, ident in book.cancelled, stop)
    if ident in book.timed_out and update.state is not JobState.COMPLETED:
        update = attrs.evolve(update, state=JobState.TIMEOUT, reason="time limit reached")
    return update


def _ended_unrecorded(book: UnitBook, ident: Ident, run: RunningUnit, table: ProcTable) -> Update:
    """Every process of the unit is gone and it left no exit record: say what is known."""
    book.settle(ident)
    stop = parse_stop(read_bytes(run.queued.unit_dir / STOP_FILE))
    unrecorded = "killed before it could record an exit code"
    if ident in book.timed_out or (stop and stop[0] == JobState.TIMEOUT.value):
        state, reason = JobState.TIMEOUT, f"time limit reached; {unrecorded}"
    elif ident in book.cancelled or stop:
        why = (stop and stop[1]) or "cancelled on request"
        state, reason = JobState.CANCELLED, f"{why}; {unrecorded}"
    else:
        state, reason = JobState.LOST, lost_reason(run, table)
    return Update(*ident, state, reason=reason, source="local", at=table.done_at)
