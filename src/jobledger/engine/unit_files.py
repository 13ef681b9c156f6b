"""The files in a unit's directory that say who runs it and how it ended.

The wrapper (:mod:`jobledger.engine.wrapper`) writes them, or the supervisor for a unit
it starts without a shell, or whoever keeps a unit from starting; the backends read them
here:

- ``claim``: created exclusively by whoever runs the unit (``pid host start pgid sid``,
  ``-`` where unknown, then the supervisor that keeps it, if one does);
- ``exit``: the exit record, written in one ``write(2)`` and ending with the line ``end``
  (a file without it is not complete and is not read);
- ``cancel``: written by whoever stops a unit on purpose: the state to record, the reason.
"""

from __future__ import annotations

import attrs

EXIT_FILE = "exit"
CLAIM_FILE = "claim"
STOP_FILE = "cancel"


@attrs.frozen
class ExitRecord:
    """A complete ``exit`` file."""

    exit_code: int
    signal: int | None
    started: float | None
    ended: float | None
    reason: str
    stop: str = ""
    """The state a stop asked for (``cancelled``, ``timeout``) when the unit was stopped."""


def parse_exit_file(text: bytes | str | None) -> ExitRecord | None:
    """Parse an ``exit`` file; ``None`` unless it is complete (ends with ``end``)."""
    if text is None:
        return None
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = body.splitlines()
    if not lines or lines[-1].strip() != "end":
        return None
    fields: dict[str, str] = {}
    for line in lines[:-1]:
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        code = int(fields.get("exit_code", ""))
    except ValueError:
        return None
    return ExitRecord(
        exit_code=code,
        signal=_int(fields.get("signal")),
        started=_float(fields.get("started")),
        ended=_float(fields.get("ended")),
        reason=fields.get("reason", ""),
        stop=fields.get("stop", ""),
    )


@attrs.frozen
class Claim:
    """Who runs a unit: pid and host of its wrapper, when it started, and its process
    group and session (None where unknown)."""

    pid: int
    host: str
    started: float | None
    pgid: int | None = None
    sid: int | None = None
    keeper: tuple[int, int] | None = None
    """``(pid, start ticks)`` of the supervisor that writes the exit record of a unit it
    started without a shell (None for a wrapper, which writes its own)."""


def parse_claim(text: bytes | str | None) -> Claim | None:
    """Parse a ``claim`` file (``None`` when absent or still empty)."""
    if not text:
        return None
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    parts = [None if p == "-" else p for p in body.split()] + [None] * 6
    if not parts[0] or not parts[0].isdigit():
        return None
    keeper, ticks = _int(parts[5]), _int(parts[6])
    kept = (keeper, ticks) if keeper and ticks is not None else None
    return Claim(int(parts[0]), parts[1] or "", _float(parts[2]), _int(parts[3]), _int(parts[4]), kept)


def render_stop(state: str, reason: str) -> str:
    """The ``cancel`` file of a unit stopped on purpose: the state to record, the reason."""
    return f"{state}\n{' '.join(reason.split())}\n"


def parse_stop(text: bytes | str | None) -> tuple[str, str] | None:
    """``(state, reason)`` from a ``cancel`` file, None when there is none."""
    if text is None:
        return None
    body = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = [*body.splitlines(), "", ""]
    return (lines[0].strip() or "cancelled", lines[1].strip())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value.replace(",", ".")) if value else None
    except ValueError:
        return None
