"""What the parts of the report share: job states still active, durations, clock times,
the packaged assets (``view/assets``), the tail of a text file and the state badge."""

from __future__ import annotations

import datetime as _dt
import functools
import os
from html import escape
from importlib import resources
from pathlib import Path

from jobledger.view.graph import colours

ACTIVE = ("pending", "submitted", "running")
STDERR_LINES = 20
_TAIL_BYTES = 16384


def fmt_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12 s``, ``3 m 05 s``, ``2 h 01 m``, ``3 d 4 h`` (empty for None)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _clock(value: float | None) -> str:
    if value is None:
        return ""
    return _second(int(value // 1))


@functools.lru_cache(maxsize=4096)
def _second(second: int) -> str:
    """A clock time to the second (cached: jobs of a big run start in the same seconds)."""
    return _dt.datetime.fromtimestamp(second).strftime("%Y-%m-%d %H:%M:%S")


def _asset(name: str) -> str:
    return (resources.files("jobledger.view") / "assets" / name).read_text(encoding="utf-8")


def tail(path: Path, lines: int = STDERR_LINES) -> str | None:
    """The last ``lines`` lines of a text file (None when it cannot be read)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _state_badge(state: str, label: str | None = None) -> str:
    fill, stroke = colours(state)
    text = "#ffffff" if state == "lost" else "#263238"
    return (
        f'<span class="state" style="background:{fill};border-color:{stroke};color:{text}">'
        f"{escape(label or state)}</span>"
    )
