"""The driver lock: one process at a time may submit for a workflow.

A ``filelock`` (``flock``) lock file per workflow under the git-ignored cache, plus a
small JSON file naming the holder (pid, host, since) for the error message. The kernel
drops a flock when its process dies, so a lock left by a crashed driver is free again at
once: the next driver simply takes it and overwrites the holder file. The lock only
prevents double submission; the ledger's correctness never depends on it (flock is not
reliable on every NFS, see docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import filelock

from jobledger.errors import LockError
from jobledger.ledger.segment import write_failure
from jobledger.model.names import file_stem


class DriverLock:
    """Exclusive driver role for workflow ``name`` of a project."""

    def __init__(self, cache_dir: Path, name: str) -> None:
        locks = cache_dir / "locks"
        try:
            locks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(f"cannot create the driver lock folder {locks}: {write_failure(exc)}") from exc
        stem = file_stem(name, 60)  # injective: exp/1 and exp:1 get different locks
        self.name = name
        self.path = locks / f"{stem}.lock"
        self.holder_path = locks / f"{stem}.holder.json"
        self._lock = filelock.FileLock(str(self.path), thread_local=False, is_singleton=False)

    def acquire(self, wait: bool | float = False) -> None:
        """Take the lock; ``wait`` True blocks, a number waits that many seconds.

        Raises :class:`LockError` naming the holder when it is not free in time.
        """
        timeout = -1 if wait is True else (0 if wait is False else float(wait))
        try:
            self._lock.acquire(timeout=timeout, poll_interval=0.05)
        except filelock.Timeout:
            holder = self.holder()
            raise LockError(self._busy_message(holder), holder) from None
        except OSError as exc:  # a read-only project, a full disk, no permission
            root = self.path.parent.parent.parent.parent
            raise LockError(
                f"cannot take the driver lock of workflow {self.name!r} ({self.path}): "
                f"{write_failure(exc)}; the project directory {root} must be writable"
            ) from exc
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        tmp = self.holder_path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(info))
            tmp.replace(self.holder_path)
        except OSError:  # only informs other processes' messages: never show a stale holder
            for stale in (tmp, self.holder_path):
                with contextlib.suppress(OSError):
                    stale.unlink()

    def release(self) -> None:
        """Give the lock up (the holder file is left; it is only read while locked)."""
        if self._lock.is_locked:
            self._lock.release(force=True)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return bool(self._lock.is_locked)

    def holder(self) -> dict[str, Any]:
        """Who holds (or last held) the lock."""
        try:
            data = json.loads(self.holder_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def describe_holder(self) -> str:
        """``"pid 123 on host h since 2026-12-07 10:00:00"`` when a live process on this host
        (or one on another host) holds the lock; ``"nobody"`` otherwise."""
        holder = self.holder()
        if not holder or not self.taken():
            return "nobody"
        since = _dt.datetime.fromtimestamp(float(holder.get("since", 0))).isoformat(
            sep=" ", timespec="seconds"
        )
        return f"pid {holder.get('pid')} on host {holder.get('host')} since {since}"

    def taken(self) -> bool:
        """True while some process holds the lock (tried without blocking, then let go)."""
        if self.held:
            return True
        probe = filelock.FileLock(str(self.path), thread_local=False, is_singleton=False)
        try:
            probe.acquire(timeout=0)
        except filelock.Timeout:
            return True
        probe.release(force=True)
        return False

    def _busy_message(self, holder: dict[str, Any]) -> str:
        if not holder:
            return f"workflow {self.name!r} is being driven by another process (lock {self.path})"
        since = _dt.datetime.fromtimestamp(float(holder.get("since", 0))).isoformat(
            sep=" ", timespec="seconds"
        )
        return (
            f"workflow {self.name!r} is being driven by pid {holder.get('pid')} on host "
            f"{holder.get('host')} since {since}; wait for it (wait_for_lock=True / "
            "--wait-for-lock) or stop it first"
        )

    def __enter__(self) -> DriverLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
