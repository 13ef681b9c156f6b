"""Wake-ups without busy polling: watchdog on one folder, with a slow poll behind it.

Job wrappers touch a marker in the project's completion folder when they end, so one
watch (not one per job, which would exhaust inotify's per-user limit) tells the engine
which units to look at. Where the platform or file system cannot deliver events (NFS,
Lustre, exhausted inotify watches) the engine still polls every ``fallback`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from watchdog.events import FileCreatedEvent, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("jobledger.watch")


class _Handler(FileSystemEventHandler):
    def __init__(self, owner: FolderWatch) -> None:
        self._owner = owner

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._owner.poke()


class FolderWatch:
    """Sets a wake-up flag whenever something appears in ``folder``."""

    GATHER = 0.02
    """Seconds a wake-up waits for more (many jobs ending at once make one step)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wakeup = threading.Event()
        self._observer: Any = None
        self.active = False

    def start(self) -> bool:
        """Start watching; False when only polling is possible here."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            observer = Observer()
            observer.daemon = True
            # only creations matter; filtering here also narrows the inotify mask, so the
            # watcher thread does not wake for the opens, closes and deletes of each marker
            observer.schedule(
                _Handler(self), str(self.folder), recursive=False, event_filter=[FileCreatedEvent]
            )
            observer.start()
        except (OSError, RuntimeError) as exc:
            log.warning("cannot watch %s (%s); polling instead", self.folder, exc)
            return False
        self._observer = observer
        self.active = True
        return True

    def poke(self) -> None:
        """Wake the waiter (also used by the engine itself)."""
        self.wakeup.set()

    def wait(self, timeout: float) -> bool:
        """Block until a wake-up or ``timeout``, then let wake-ups gather for up to
        :attr:`GATHER` seconds more (one step handles many ends); True when woken."""
        woke = self.wakeup.wait(timeout)
        if woke and self.GATHER > 0:
            time.sleep(min(self.GATHER, timeout))
        self.wakeup.clear()
        return woke

    def drain(self) -> list[str]:
        """Names of the markers present now (removed as they are returned)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        for name in names:
            try:
                os.unlink(self.folder / name)
            except FileNotFoundError:
                pass
        return names

    def stop(self) -> None:
        """Stop the observer thread."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self.active = False
