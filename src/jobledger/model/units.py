"""Parsing and formatting of memory sizes and durations (pure)."""

from __future__ import annotations

import datetime as _dt
import math
import re

from jobledger.errors import ResourceError

_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_MEM_FACTOR_MB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0**2, "p": 1024.0**3}


def parse_memory(value: object, field: str = "memory") -> int:
    """Return ``value`` as whole megabytes (MiB, the unit SLURM uses).

    Accepts ints (megabytes), and strings such as ``"4GB"``, ``"8G"``, ``"512M"``,
    ``"1.5T"``, ``"800K"``, ``"2GiB"``. Units are binary, as on every batch scheduler.
    Bytes need an explicit ``B`` without prefix (``"1048576B"``).
    """
    if isinstance(value, bool):
        raise ResourceError(field, value, "expected a size such as '4G' or a number of MB")
    if isinstance(value, int):
        if value <= 0:
            raise ResourceError(field, value, "must be positive")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value <= 0:
            raise ResourceError(field, value, "must be a positive number of MB")
        return max(1, math.ceil(value))
    if not isinstance(value, str):
        raise ResourceError(field, value, "expected a size such as '4G' or a number of MB")
    m = _MEM_RE.match(value)
    if not m:
        raise ResourceError(field, value, "expected a size such as '512M', '4G', '1.5T'")
    number, prefix, suffix = float(m.group(1)), m.group(2).lower(), m.group(3).lower()
    if prefix == "" and suffix in ("b", "ib"):
        megabytes = number / (1024 * 1024)
    else:
        megabytes = number * _MEM_FACTOR_MB[prefix]
    if megabytes <= 0:
        raise ResourceError(field, value, "must be positive")
    return max(1, math.ceil(megabytes))


def format_memory(megabytes: int) -> str:
    """Format megabytes compactly: ``4096 -> '4G'``, ``1536 -> '1536M'``."""
    if megabytes % (1024 * 1024) == 0:
        return f"{megabytes // (1024 * 1024)}T"
    if megabytes % 1024 == 0:
        return f"{megabytes // 1024}G"
    return f"{megabytes}M"


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNITS_RE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw]\s*)+$", re.IGNORECASE)
_UNIT_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_CLOCK_RE = re.compile(r"^\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*$")


def parse_duration(value: object, field: str = "time") -> int:
    """Return ``value`` as whole seconds.

    Accepts ints/floats (seconds), :class:`datetime.timedelta`, clock strings
    ``"1:00:00"`` (h:m:s), ``"30:00"`` (m:s), ``"2-00:00:00"`` / ``"2-12"`` (days-hours),
    unit strings ``"90m"``, ``"1h30m"``, ``"2d"``, ``"45s"``, and plain digit strings
    (seconds).
    """
    if isinstance(value, bool):
        raise ResourceError(field, value, "expected a duration such as '1:00:00' or '90m'")
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_text(value, field)
    else:
        raise ResourceError(field, value, "expected a duration such as '1:00:00' or '90m'")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ResourceError(field, value, "must be a positive duration")
    return max(1, math.ceil(seconds))


def _parse_duration_text(text: str, field: str) -> float:
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return float(stripped)
    if _UNITS_RE.match(stripped):
        return sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _UNIT_PART.findall(stripped))
    m = _CLOCK_RE.match(stripped)
    if (m and ":" in stripped) or (m and m.group(1)):
        days_s, a, b, c = m.groups()
        days = int(days_s or 0)
        parts = [int(x) for x in (a, b, c) if x is not None]
        if days_s is not None:
            # D-H, D-H:M, D-H:M:S
            parts += [0] * (3 - len(parts))
            hours, minutes, secs = parts
        elif len(parts) == 3:
            hours, minutes, secs = parts
        else:  # M:S
            hours, (minutes, secs) = 0, parts
        if minutes >= 60 or secs >= 60:
            raise ResourceError(field, text, "minutes and seconds must be below 60")
        return float(days * 86400 + hours * 3600 + minutes * 60 + secs)
    raise ResourceError(field, text, "expected a duration such as '1:00:00', '2-00:00:00', '90m'")


def format_duration(seconds: int) -> str:
    """Format seconds as SLURM does: ``'D-HH:MM:SS'`` past a day, else ``'HH:MM:SS'``."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def parse_count(value: object, field: str, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum`` (accepts digit strings such as ``'4'``)."""
    if isinstance(value, bool):
        raise ResourceError(field, value, "expected a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ResourceError(field, value, "expected a whole number")
    if number < minimum:
        raise ResourceError(field, value, f"must be at least {minimum}")
    return number
