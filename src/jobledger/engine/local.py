"""The local backend: jobs as detached process groups on this machine.

Submitting puts an attempt's units (one, or one per array index) in a queue inside the
driver; :meth:`LocalBackend.pump` starts them while the CPU budget allows (the sum of
running units' cpus stays within ``max_parallel``, default the machine's CPU count; an
array's ``max_concurrent`` is honoured). Each unit runs ``job.sh`` in a new process group
(forked by the launcher shell, or ``bash job.sh`` spawned in a new session where there is
no launcher), so it outlives the driver and ``stop`` can signal the whole group. The
launcher keeps the budget itself, so a budget's worth of units more is handed to it
ahead of time; it starts each the moment CPUs free up, and a unit counts as running from
the start time the launcher reports. The queue is not state: after a crash, units that
were submitted but never claimed are queued again by the next driver, and the wrapper's
claim makes sure none runs twice.
"""

from __future__ import annotations

import collections
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from jobledger.engine.launcher import Launcher, launcher_supported
from jobledger.engine.types import Unit, Update
from jobledger.engine.wrapper import (
    CLAIM_FILE,
    EXIT_FILE,
    ExitRecord,
    env_for_index,
    parse_claim,
    parse_exit_file,
)
from jobledger.states import JobState

SCRIPT = "job.sh"
BASH = "/bin/bash"
_DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
]


@attrs.define
class _Queued:
    key: str
    attempt: int
    index: int | None
    attempt_dir: Path
    cpus: int
    group: str
    max_concurrent: int | None


@attrs.define
class _Running:
    queued: _Queued
    child: bool
    """True when this process spawned it (and must reap it)."""
    pid: int
    started: float
    announced: bool = True
    """False while a unit handed to the launcher has not been reported started."""


def pid_alive(pid: int, expect: str | None = None) -> bool:
    """True when ``pid`` is a live (non-zombie) process, optionally whose command line
    contains ``expect`` (guards against pid reuse)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        if stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X"):
            return False
        if expect is not None:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return expect.encode() in fh.read()
        return True
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def final_update(key: str, attempt: int, index: int | None, record: ExitRecord, cancelled: bool) -> Update:
    """Turn an exit record into a final :class:`Update`."""
    if record.exit_code == 0 and not record.signal:
        state = JobState.COMPLETED
    elif cancelled:
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


class LocalProcesses:
    """Runs units as detached local processes (the machinery of the local backend)."""

    alias: str
    native_dependencies = False

    def __init__(
        self,
        root: Path,
        alias: str = "local",
        max_parallel: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.root = root
        self._on_start = on_start
        self.alias = alias
        self.budget = max_parallel or os.cpu_count() or 1
        self._queue: collections.deque[_Queued] = collections.deque()
        self._queued: set[tuple[str, int, int | None]] = set()
        self._running: dict[tuple[str, int, int | None], _Running] = {}
        self._by_marker: dict[str, tuple[str, int, int | None]] = {}
        self._group_running: collections.Counter[str] = collections.Counter()
        self._used = 0
        self._cancelled: set[tuple[str, int, int | None]] = set()
        self.timed_out: set[tuple[str, int, int | None]] = set()
        self._launch: Launcher | None = None
        self._launch_failed = False
        self._launch_deaths = 0
        self._pending_pids: dict[str, tuple[str, int, int | None]] = {}
        self._held: list[Update] = []

    def _launcher(self) -> Launcher | None:
        """The shared launcher shell (started on first use; None when unavailable: it
        needs Linux's /proc and bash >= 4.1, and not after it died three times)."""
        if self._launch_failed or os.environ.get("JOBLEDGER_NO_LAUNCHER") or not launcher_supported():
            return None
        if self._launch is not None and not self._launch.alive():
            self._launcher_ended()
            if self._launch_failed:
                return None
        if self._launch is None:
            try:
                self._launch = Launcher(BASH, self.budget, on_start=self._on_start)
            except OSError:
                self._launch_failed = True
                return None
        return self._launch

    def _learn_pids(self) -> list[Update]:
        """RUNNING updates for the units the launcher reported started (with their pids)."""
        if self._launch is None:
            return []
        updates = []
        for token, pid, at in self._launch.started():
            ident = self._pending_pids.pop(token, None)
            run = self._running.get(ident) if ident else None
            if ident is None or run is None or run.announced:
                continue
            run.pid, run.started, run.announced = pid, at, True
            updates.append(Update(*ident, JobState.RUNNING, source="local", at=at, pid=pid))
        return updates

    def _reports(self) -> list[Update]:
        """RUNNING updates not returned yet (held from a launcher that has gone, then new)."""
        updates = self._held + self._learn_pids()
        self._held = []
        return updates

    def _launcher_ended(self) -> None:
        """The launcher has gone: keep what it reported, queue again what it never started
        (after three deaths jobs are spawned one by one instead)."""
        self._held += self._learn_pids()
        self._launch = None
        self._launch_deaths += 1
        self._launch_failed = self._launch_deaths >= 3
        lost = [ident for ident, run in self._running.items() if not run.announced]
        for ident in reversed(lost):
            item = self._running[ident].queued
            self._untrack(ident)
            self._queued.add(ident)
            self._queue.appendleft(item)
        self._pending_pids.clear()

    def close(self) -> None:
        """Let the launcher go (jobs keep running)."""
        if self._launch is not None:
            self._launch.close()
            self._launch = None

    # ------------------------------------------------------------------ queue
    def enqueue(
        self,
        key: str,
        attempt: int,
        attempt_dir: str,
        indices: tuple[int, ...] | None,
        cpus: int,
        max_concurrent: int | None = None,
    ) -> None:
        """Queue the units of one attempt (idempotent per unit)."""
        path = self.root / attempt_dir
        group = f"{key}:{attempt}"
        for index in indices if indices is not None else (None,):
            ident = (key, attempt, index)
            if ident in self._queued or ident in self._running:
                continue
            self._queued.add(ident)
            self._queue.append(_Queued(key, attempt, index, path, max(1, cpus), group, max_concurrent))
            self._by_marker[self._marker(key, attempt, index)] = ident

    @staticmethod
    def _marker(key: str, attempt: int, index: int | None) -> str:
        base = f"{key[:12]}-{attempt}"
        return base if index is None else f"{base}-{index}"

    @property
    def busy(self) -> bool:
        """True while anything is queued or running here."""
        return bool(self._queue or self._running)

    @property
    def waiting(self) -> bool:
        """True while units wait to start: queued here, or handed to the launcher and not
        reported started (only this process starts them)."""
        return bool(self._queue) or any(not run.announced for run in self._running.values())

    def pump(self) -> list[Update]:
        """Start queued units while the budget allows; returns RUNNING updates."""
        if self._launch is not None and not self._launch.alive():
            self._launcher_ended()
        started = self._reports()
        # the launcher holds the budget itself: hand it up to a budget's worth ahead
        ahead = self.budget if self._queue and self._launcher() is not None else 0
        skipped: list[_Queued] = []
        while self._queue:
            item = self._queue.popleft()
            ident = (item.key, item.attempt, item.index)
            if ident in self._cancelled:
                self._queued.discard(ident)
                continue
            fits = self._used + item.cpus <= self.budget + ahead or self._used == 0
            throttled = (
                item.max_concurrent is not None and self._group_running[item.group] >= item.max_concurrent
            )
            if throttled:
                skipped.append(item)
                continue
            if not fits:
                self._queue.appendleft(item)
                break
            update = self._spawn(item)
            if update is not None:
                started.append(update)
        self._queue.extendleft(reversed(skipped))
        return started

    def _spawn(self, item: _Queued) -> Update | None:
        ident = (item.key, item.attempt, item.index)
        self._queued.discard(ident)
        unit = item.attempt_dir if item.index is None else item.attempt_dir / str(item.index)
        if (unit / CLAIM_FILE).exists():
            # a previous driver started it: watch it instead of starting it again
            claim = parse_claim(_read(unit / CLAIM_FILE))
            pid = claim.pid if claim else 0
            self._track(item, False, pid, claim.started if claim and claim.started else time.time())
            return None
        if item.index is not None:
            unit.mkdir(exist_ok=True)
        now = time.time()
        launcher = self._launcher()
        if launcher is not None:
            token = f"{item.key}:{item.attempt}:{'' if item.index is None else item.index}"
            try:
                launcher.launch(token, str(item.attempt_dir / SCRIPT), item.index, item.cpus)
            except OSError:
                launcher = None  # it has gone: start this one directly, next pump sees to the rest
            else:
                self._track(item, False, 0, now, announced=False)
                self._pending_pids[token] = (item.key, item.attempt, item.index)
                return None
        env: Mapping[str, str] = os.environ
        if item.index is not None:
            env = {**os.environ, **env_for_index(item.index)}
        # posix_spawn in a new session: the job outlives the driver and its group can be
        # signalled as one; only stdin/stdout/stderr are inherited (PEP 446)
        pid = os.posix_spawn(
            BASH,
            [BASH, str(item.attempt_dir / SCRIPT)],
            env,
            file_actions=_DEVNULL_ACTIONS,
            setsid=True,
        )
        self._track(item, True, pid, now)
        return Update(
            item.key,
            item.attempt,
            item.index,
            JobState.RUNNING,
            source="local",
            at=now,
            pid=pid,
        )

    def _track(self, item: _Queued, child: bool, pid: int, started: float, announced: bool = True) -> None:
        ident = (item.key, item.attempt, item.index)
        self._running[ident] = _Running(item, child, pid, started, announced)
        self._used += item.cpus
        self._group_running[item.group] += 1

    def _untrack(self, ident: tuple[str, int, int | None]) -> None:
        run = self._running.pop(ident, None)
        if run is not None:
            self._used -= run.queued.cpus
            self._group_running[run.queued.group] -= 1
            if run.child:
                _reap(run.pid)

    # ------------------------------------------------------------------ observe
    def adopt(self, unit: Unit, queue: bool = True) -> None:
        """Watch a unit started by an earlier driver (or, with ``queue``, queue it if it
        never started)."""
        path = self.root / unit.unit_dir
        ident = unit.ident
        if ident in self._running or ident in self._queued:
            return
        self._by_marker[self._marker(unit.key, unit.attempt, unit.index)] = ident
        claim = parse_claim(_read(path / CLAIM_FILE))
        item = _Queued(
            unit.key,
            unit.attempt,
            unit.index,
            self.root / unit.attempt_dir,
            1,
            f"{unit.key}:{unit.attempt}",
            None,
        )
        if claim is None and parse_exit_file(_read(path / EXIT_FILE)) is None:
            if not queue:
                return
            self._queued.add(ident)
            self._queue.append(item)
            return
        self._track(
            item,
            False,
            claim.pid if claim else 0,
            (claim.started if claim else None) or time.time(),
        )

    def collect(self, markers: list[str], full: bool) -> list[Update]:
        """Final updates for units that ended: those named by ``markers``, or (``full``)
        every running unit whose process is gone (RUNNING updates for units the launcher
        has started come first)."""
        updates = self._reports()
        candidates: set[tuple[str, int, int | None]] = set()
        for name in markers:
            ident = self._by_marker.get(name)
            if ident is not None and ident in self._running:
                candidates.add(ident)
        if full:
            for ident, run in self._running.items():
                if not run.announced:
                    continue  # the launcher has not started it yet
                if (run.child and _reap(run.pid)) or not pid_alive(run.pid):
                    candidates.add(ident)
        for ident in candidates:
            update = self._finished(ident, may_be_lost=full)
            if update is not None:
                updates.append(update)
        return updates

    def _finished(self, ident: tuple[str, int, int | None], may_be_lost: bool) -> Update | None:
        run = self._running[ident]
        item = run.queued
        unit = item.attempt_dir if item.index is None else item.attempt_dir / str(item.index)
        record = parse_exit_file(_read(unit / EXIT_FILE))
        if record is None:
            claim = parse_claim(_read(unit / CLAIM_FILE))
            if claim is not None and claim.pid != run.pid and pid_alive(claim.pid):
                # our wrapper lost the claim to one started earlier: watch that one
                if run.child:
                    _reap(run.pid)
                self._running[ident] = _Running(item, False, claim.pid, claim.started or run.started)
                return None
            alive = not (run.child and _reap(run.pid)) and pid_alive(run.pid)
            if alive or not may_be_lost:
                return None
            record = parse_exit_file(_read(unit / EXIT_FILE))  # it may have just finished
            if record is None:
                self._untrack(ident)
                cancelled = ident in self._cancelled
                if ident in self.timed_out:
                    return Update(
                        item.key,
                        item.attempt,
                        item.index,
                        JobState.TIMEOUT,
                        reason="time limit reached",
                        source="local",
                    )
                return Update(
                    item.key,
                    item.attempt,
                    item.index,
                    JobState.CANCELLED if cancelled else JobState.LOST,
                    reason="killed before it could record an exit code"
                    if cancelled
                    else "process ended without an exit record (killed with SIGKILL?)",
                    source="local",
                )
        self._untrack(ident)
        self._by_marker.pop(self._marker(*ident), None)
        update = final_update(item.key, item.attempt, item.index, record, ident in self._cancelled)
        if ident in self.timed_out and update.state is not JobState.COMPLETED:
            update = attrs.evolve(update, state=JobState.TIMEOUT, reason="time limit reached")
        return update

    def running_units(self) -> list[tuple[tuple[str, int, int | None], int, float]]:
        """``(ident, pid, started)`` of every running unit (not those the launcher has
        yet to start)."""
        return [(i, r.pid, r.started) for i, r in self._running.items() if r.announced]

    # ------------------------------------------------------------------ cancel
    def cancel(self, idents: list[tuple[str, int, int | None]], grace: float = 5.0) -> list[Update]:
        """SIGTERM each unit's process group, SIGKILL after ``grace``; dequeue the rest."""
        updates = self._reports()
        groups: list[int] = []
        for ident in idents:
            self._cancelled.add(ident)
            if ident in self._queued:
                self._queued.discard(ident)
                updates.append(
                    Update(
                        *ident,
                        JobState.CANCELLED,
                        reason="cancelled before it started",
                        source="local",
                    )
                )
            run = self._running.get(ident)
            if run is not None and not run.announced:
                pid = self._stop_unstarted(ident, run)
                if pid is None:
                    reason = "cancelled before it started"
                    updates.append(Update(*ident, JobState.CANCELLED, reason=reason, source="local"))
                    continue
                run.pid = pid
            if run is not None and run.pid > 0:
                groups.append(run.pid)
        for pgid in groups:
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while groups and time.monotonic() < deadline:
            groups = [g for g in groups if _group_alive(g)]
            if groups:
                time.sleep(0.05)
        for pgid in groups:
            _signal_group(pgid, signal.SIGKILL)
        return updates

    def _stop_unstarted(self, ident: tuple[str, int, int | None], run: _Running) -> int | None:
        """Keep a unit handed to the launcher from starting: take its claim first (the
        wrapper then exits at once) and write its exit record. Returns None when that
        worked, else the pid of the wrapper that had already claimed it (0 if unknown)."""
        item = run.queued
        unit = item.attempt_dir if item.index is None else item.attempt_dir / str(item.index)
        now = time.time()
        try:
            fd = os.open(unit / CLAIM_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            # the wrapper got there first; its claim may be a moment from holding its pid
            deadline = time.monotonic() + 1.0
            while (claim := parse_claim(_read(unit / CLAIM_FILE))) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            return claim.pid if claim else 0
        with os.fdopen(fd, "w") as fh:
            fh.write(f"0 cancelled {now:.6f}\n")
        (unit / EXIT_FILE).write_text(
            f"exit_code=1\nsignal=\nstarted=\nended={now:.6f}\nreason=cancelled before it started\nend\n"
        )
        self._untrack(ident)
        self._by_marker.pop(self._marker(*ident), None)
        return None


def _reap(pid: int) -> bool:
    """Collect our child ``pid`` if it ended; True when it is gone."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # zombies keep the group "alive" for killpg; look for a live member
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
                tail = stat[stat.rindex(b")") + 2 :].split()
                if int(tail[2]) == pgid and tail[0] not in (b"Z", b"X"):
                    return True
            except (OSError, ValueError, IndexError):
                continue
    return False


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
