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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
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
    def of_tally(cls, tally: Mapping[JobState, int], total: int) -> Counts:
        """Counts from a tally of jobs by state."""
        running = tally.get(JobState.RUNNING, 0)
        done = tally.get(JobState.COMPLETED, 0)
        failed = sum(n for s, n in tally.items() if s.is_final and s is not JobState.COMPLETED)
        return cls(total, total - running - done - failed, running, done, failed)

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
    """Seconds between plain lines while the counts change (every tenth is shown anyway)."""
    HEARTBEAT = 600.0
    """Seconds between plain lines while nothing changes (so a log shows it is alive)."""

    def __init__(self, total: int, *, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.start = time.monotonic()
        self._tty = _is_terminal(self.stream)
        self._live: Any = None
        self._last_tenth = -1
        self._last_plain = self.start
        self._shown: Counts | None = None

    def update(self, counts: Counts) -> None:
        """Show the counts (on a terminal at once; elsewhere at tenths and every 30 s)."""
        if self.quiet:
            return
        now = time.monotonic()
        line = progress_line(counts, now - self.start)
        if self._tty:
            self._show_live(line)
            return
        if counts.final >= counts.total:
            return  # the summary follows
        tenth = 10 * counts.final // counts.total
        since = now - self._last_plain
        changed = counts != self._shown
        if tenth > self._last_tenth or (changed and since >= self.PLAIN_EVERY) or since >= self.HEARTBEAT:
            self._last_tenth = max(tenth, self._last_tenth)
            self._last_plain = now
            self._shown = counts
            self._print(f"jobledger: {line}")

    def _print(self, line: str) -> None:
        try:
            print(line, file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed pipe or file: progress is never worth a crash
            self.quiet = True

    def _show_live(self, line: str) -> None:
        from rich.text import Text

        text = Text(line, no_wrap=True, overflow="ellipsis")
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False)
            self._live = Live(text, console=console, transient=True, auto_refresh=False)
            self._live.start()
        self._live.update(text, refresh=True)

    def close(self, summary: Iterable[str] = ()) -> None:
        """Remove the live line and print the summary."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.quiet:
            return
        for line in summary:
            self._print(line)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):
        return False


def summary_lines(results: Mapping[str, Any], seconds: float, *, reused: int = 0, cut: int = 20) -> list[str]:
    """The end-of-run summary of ``results`` (name -> :class:`~jobledger.Result`): one line
    of counts by state, then one line per job that did not complete (the first ``cut``)."""
    failed = {n: r for n, r in results.items() if r.state.is_final and not r.state.is_success}
    return summary_from([r.state for r in results.values()], failed, seconds, reused=reused, cut=cut)


def summary_from(
    states: Iterable[JobState], failed: Mapping[str, Any], seconds: float, *, reused: int = 0, cut: int = 20
) -> list[str]:
    """:func:`summary_lines` from every job's state and the results of those that did not
    complete only (a 100,000-job run builds no result it does not print)."""
    by_state: dict[str, int] = {}
    total = 0
    for state in states:
        total += 1
        by_state[state.value] = by_state.get(state.value, 0) + 1
    order = sorted(by_state, key=lambda s: (s != "completed", s == "dependency_failed", s))
    counts = ", ".join(f"{by_state[s]} {s}" for s in order)
    if reused:
        counts += f" ({reused} reused)"
    jobs = f"{total} job{'' if total == 1 else 's'}"
    lines = [f"jobledger: {jobs} in {elapsed_text(seconds)}: {counts}"]
    shown = list(failed.values())
    for result in shown[:cut]:
        lines.append("  " + failure_text(result))
    if len(shown) > cut:
        lines.append(f"  ... and {len(shown) - cut} more (see `jobledger status`)")
    return lines


def still_running_line(running: int, command: str) -> str:
    """The last line when jobs are left running as the program ends."""
    jobs = "1 job keeps" if running == 1 else f"{running} jobs keep"
    return f"jobledger: {jobs} running; follow with `{command}`"


def failed_message(
    results: Mapping[str, Any], failed: Sequence[str], cut: int = 10, total: int | None = None
) -> str:
    """The message of :class:`~jobledger.errors.WorkflowFailed`: how many jobs (of ``total``,
    default every result) did not complete, each named with its state and exit code."""
    parts = []
    for name in failed[:cut]:
        result = results[name]
        what = result.state.value
        code = _exit_code(result)
        if code is not None and result.state is not JobState.DEPENDENCY_FAILED:
            what += f", exit {code}"
        parts.append(f"{name} ({what})")
    more = f", and {len(failed) - cut} more" if len(failed) > cut else ""
    of = len(results) if total is None else total
    return f"{len(failed)} of {of} jobs did not complete: {', '.join(parts)}{more}"


def failure_text(result: Any) -> str:
    """One line about a job that did not complete: state, exit code or reason, stderr."""
    elements = [e for e in getattr(result, "elements", ()) if e.state.is_final and not e.state.is_success]
    first = elements[0] if elements else result
    text = f"{result.name}: {result.state.value}"
    if elements:
        indices = ", ".join(str(e.index) for e in elements[:8]) + (", ..." if len(elements) > 8 else "")
        text += f" (element{'s' if len(elements) > 1 else ''} {indices} of {len(result.elements)})"
    code = _exit_code(first)
    if code is not None and result.state is not JobState.DEPENDENCY_FAILED:
        text += f" with exit code {code}"
    why = _why(first, code)
    if why:
        text += f" ({why})"
    if result.state is not JobState.DEPENDENCY_FAILED:
        path = getattr(first, "stderr_path", None)
        if path is not None and _exists(path):
            text += f"; stderr: {_shown_path(path)}"
        elif getattr(result, "host", "local") != "local":
            text += f"; stderr: `jobledger fetch {result.name}` brings it home"
    return text


def _exit_code(result: Any) -> int | None:
    code = getattr(result, "exit_code", None)
    return code if isinstance(code, int) else None


def _why(result: Any, code: int | None) -> str:
    """The reason without what the exit code already says (``command not found``)."""
    error = getattr(result, "error", None)
    if isinstance(error, dict) and error.get("type"):
        message = str(error.get("message") or "").splitlines()
        return f"{error['type']}: {message[0][:120]}" if message else str(error["type"])
    reason = str(getattr(result, "reason", "") or "")
    if code is not None:
        reason = reason.replace(f" (exit {code})", "")
        if reason in (f"exit code {code}", f"exit {code}"):
            return ""
    return reason


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def _exists(path: Any) -> bool:
    try:
        return bool(path.exists())
    except OSError:
        return False
