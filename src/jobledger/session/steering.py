"""Which workflows this process drives: their driver locks, and the daemon thread that
steps them in the background until nothing needs a driver."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from jobledger.engine.driver import Driver, StepReport
from jobledger.engine.lock import DriverLock
from jobledger.errors import LockError


def pause_after(report: StepReport) -> float:
    """How long to sleep before the next step (sooner when a retry becomes due)."""
    pause = 0.5 if not report.submitted else 0.05
    if report.wake_at is not None:
        pause = max(0.01, min(pause, report.wake_at - time.time()))
    return pause


class Steering:
    """The driver locks this process holds, and its background driving thread.

    ``held`` names the workflows this process drives; :meth:`step` steps them (with the
    given watched ones) under one mutex, so the background thread and a foreground waiter
    never step at once.
    """

    def __init__(self, driver: Driver, log: logging.Logger) -> None:
        self.driver = driver
        self.log = log
        self.held: set[str] = set()
        self._locks: dict[str, DriverLock] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stepping = threading.RLock()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ locks
    def take(self, name: str, wait: bool | float = False) -> None:
        """Hold the driver lock of ``name``; :class:`LockError` when a live process does."""
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = DriverLock(self.driver.project.cache_dir, name)
        if not lock.held:
            lock.acquire(wait)
        self.held.add(name)

    def take_over(self, name: str) -> bool:
        """Hold ``name``'s lock if nobody does; True when this process drives it."""
        if name in self.held:
            return True
        try:
            self.take(name, False)
        except LockError:
            return False
        return True

    def release(self, names: Iterable[str]) -> None:
        """Stop driving ``names`` (another process may take over)."""
        for name in list(names):
            lock = self._locks.get(name)
            if lock is not None:
                lock.release()
            self.held.discard(name)

    def release_all(self) -> None:
        """Stop driving everything."""
        self.release(list(self.held))

    def holder(self, name: str) -> str:
        """Who drives ``name`` (``"pid 123 on host h since ..."``; ``"nobody"``)."""
        return DriverLock(self.driver.project.cache_dir, name).describe_holder()

    # ------------------------------------------------------------------ stepping
    def step(self, watch: Iterable[str] = ()) -> StepReport:
        """One driver step for the held workflows (and ``watch`` ones)."""
        with self._stepping:
            return self.driver.step(set(self.held), set(watch))

    def release_idle(self, report: StepReport) -> None:
        """Release the held workflows that ``report`` says need no driver any more."""
        self.release([n for n in list(self.held) if not report.needs_driver.get(n, False)])

    # ------------------------------------------------------------------ background
    def start_background(self) -> None:
        """Step the held workflows from a daemon thread until none needs a driver."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._drive, name="jobledger-driver", daemon=True)
        self._thread.start()

    @property
    def background_running(self) -> bool:
        """True while the background thread lives."""
        return self._thread is not None

    def _drive(self) -> None:
        try:
            while not self._stop.is_set():
                with self._stepping:
                    if self._stop.is_set():
                        break
                    report = self.driver.step(set(self.held), set())
                    self.release_idle(report)
                if not self.held:
                    return
                self.driver.wait_for_change(pause_after(report))
        except BaseException as exc:
            self._error = exc
            self.log.error("jobledger: the background driver stopped: %s", exc)
            self.release_all()

    def stop_background(self) -> None:
        """Stop the background thread (the workflows stay held)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._stop.set()
            self.driver.watch.poke()
            thread.join()
        self._thread = None

    def raise_background_error(self) -> None:
        """Raise what stopped the background thread, once."""
        error, self._error = self._error, None
        if error is not None:
            raise error
