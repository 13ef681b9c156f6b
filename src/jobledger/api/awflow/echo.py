"""Jobs' printed output on the terminal while they run, as awflow's threads print it.

:class:`LiveEcho` is called after every step of the session's wait: it reads what each
job (each array element) of this run added to its stdout since the last step and prints
the complete lines; when a job ends, the rest of its output follows. Jobs reused from
an earlier run print nothing (they did not run).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TextIO

from jobledger.session.results import Result
from jobledger.session.session import Session
from jobledger.states import JobState


class LiveEcho:
    """Prints the new stdout of the jobs ``keys`` of ``session`` (see the module docstring)."""

    def __init__(self, session: Session, keys: Collection[str], *, stream: TextIO | None = None) -> None:
        self.session = session
        self.keys = list(keys)
        self.stream = stream
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self._done: set[str] = set()

    def __call__(self, states: Mapping[str, JobState]) -> None:
        """Print what the running or just ended jobs wrote since the last call."""
        started = [k for k in self.keys if k not in self._done and _started(states.get(k))]
        if not started:
            return
        results = {r.key: r for r in self.session.results(started).values()}
        for key in started:
            result = results.get(key)
            if result is None:
                continue
            final = states[key].is_final
            for unit in result.elements or (result,):
                self._print(unit.stdout_path, final or unit.state.is_final)
            if final:
                self._done.add(key)
        (self.stream or sys.stdout).flush()

    def finish(self, results: Mapping[str, Result]) -> None:
        """Print the rest of every job that ended (called once the wait returned)."""
        for result in results.values():
            if result.key in self._done or result.key not in self.keys or result.reused:
                continue
            for unit in result.elements or (result,):
                self._print(unit.stdout_path, True)
            self._done.add(result.key)
        (self.stream or sys.stdout).flush()

    def _print(self, path: Path, final: bool) -> None:
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            data = b""
        self._offsets[path] = offset + len(data)
        data = self._partial.pop(path, b"") + data
        if not final:
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if rest:
                self._partial[path] = rest
        if not data:
            return
        text = data.decode(errors="replace")
        (self.stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")


def _started(state: JobState | None) -> bool:
    return state is not None and (state is JobState.RUNNING or state.is_final)
