"""Progress while a run is waited for, and one summary at its end.

On a terminal: one live line (queued, running, done, failed, elapsed) that gives way to the
summary. Elsewhere (CI logs, ``nohup``, a file): a plain line at every tenth of the jobs
done and at least every 30 seconds, like Snakemake's "N of M steps (x%) done". The summary
gives the counts by state, how many were reused, the wall time, and each failed job with
its exit code or reason and the path of its stderr. ``quiet`` (or ``JOBLEDGER_QUIET=1``)
silences both.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import attrs

from jobledger.states import JobState


def quiet_from_env() -> bool:
    """True when ``JOBLEDGER_QUIET`` asks for silence."""
    return os.environ.get("JOBLEDGER_QUIET", "").strip().lower() not in ("", "0", "false", "no")


@attrs.frozen
class Counts:
    """How many of the jobs waited for are in each phase."""

    total: int
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0

    @property
    def final(self) -> int:
        """Jobs that will not change any more."""
        return self.done + self.failed

    @classmethod
    def of(cls, states: Iterable[JobState], total: int) -> Counts:
        """Counts of ``states`` (one per job)."""
        queued = running = done = failed = 0
        for state in states:
            if state is JobState.RUNNING:
                running += 1
            elif state is JobState.COMPLETED:
                done += 1
            elif state.is_final:
                failed += 1
            else:
                queued += 1
        return cls(total, queued, running, done, failed)


def elapsed_text(seconds: float) -> str:
    """``M:SS`` or ``H:MM:SS``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(counts: Counts, seconds: float) -> str:
    """The one line shown while waiting."""
    parts = [f"{counts.final} of {counts.total} jobs done"]
    if counts.total:
        parts[0] += f" ({100 * counts.final // counts.total}%)"
    parts.append(f"{counts.queued} queued")
    parts.append(f"{counts.running} running")
    if counts.failed:
        parts.append(f"{counts.failed} failed")
    parts.append(elapsed_text(seconds))
    return " · ".join(parts)


class Progress:
    """Shows :class:`Counts` as they change (see the module docstring)."""

    PLAIN_EVERY = 30.0

    def __init__(self, total: int, *, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.start = time.monotonic()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._live: Any = None
        self._last_tenth = -1
        self._last_plain = self.start
        self._last: Counts | None = None

    def update(self, counts: Counts) -> None:
        """Show the counts (on a terminal at once; elsewhere at tenths and every 30 s)."""
        if self.quiet or (counts == self._last and not self._tty):
            return
        self._last = counts
        seconds = time.monotonic() - self.start
        line = progress_line(counts, seconds)
        if self._tty:
            self._show_live(line)
            return
        tenth = 10 * counts.final // counts.total if counts.total else 10
        now = time.monotonic()
        if tenth > self._last_tenth or now - self._last_plain >= self.PLAIN_EVERY:
            self._last_tenth = tenth
            self._last_plain = now
            print(f"jobledger: {line}", file=self.stream, flush=True)

    def _show_live(self, line: str) -> None:
        if self._live is None:
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            self._text = Text
            console = Console(file=self.stream, highlight=False)
            self._live = Live(Text(line), console=console, transient=True, auto_refresh=False)
            self._live.start()
        self._live.update(self._text(line), refresh=True)

    def close(self, summary: Iterable[str] = ()) -> None:
        """Remove the live line and print the summary."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.quiet:
            return
        for line in summary:
            print(line, file=self.stream, flush=True)


def summary_lines(results: Mapping[str, Any], seconds: float, *, reused: int = 0, cut: int = 20) -> list[str]:
    """The end-of-run summary of ``results`` (name -> :class:`~jobledger.Result`)."""
    by_state: dict[str, int] = {}
    failed = []
    for result in results.values():
        by_state[result.state.value] = by_state.get(result.state.value, 0) + 1
        if result.state.is_final and not result.state.is_success:
            failed.append(result)
    order = sorted(by_state, key=lambda s: (s != "completed", s))
    counts = ", ".join(f"{by_state[s]} {s}" for s in order)
    if reused:
        counts += f" ({reused} reused)"
    lines = [f"jobledger: {len(results)} jobs, {elapsed_text(seconds)}: {counts}"]
    for result in failed[:cut]:
        lines.append("  " + failure_text(result))
    if len(failed) > cut:
        lines.append(f"  ... and {len(failed) - cut} more (jobledger status)")
    return lines


def failure_text(result: Any) -> str:
    """One line about a job that did not complete: state, exit code or reason, stderr."""
    text = f"{result.name}: {result.state.value}"
    if result.exit_code is not None:
        text += f", exit {result.exit_code}"
    if result.reason and not (
        result.exit_code is not None and result.reason == f"exit code {result.exit_code}"
    ):
        text += f" ({result.reason})"
    path = getattr(result, "stderr_path", None)
    if path is not None and result.state is not JobState.DEPENDENCY_FAILED and _exists(path):
        text += f"; stderr: {path}"
    return text


def _exists(path: Any) -> bool:
    try:
        return bool(path.exists())
    except OSError:
        return False
