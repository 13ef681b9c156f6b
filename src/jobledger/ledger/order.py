"""The order of an event: ``(clock, writer, seq)``, the same on every machine."""

from __future__ import annotations

from typing import Any

Order = tuple[int, str, int]


def before(current: Order | None, order: Order) -> bool:
    """True when ``order`` sorts before ``current`` (or there is no ``current``)."""
    return current is None or order < current


def order_or_none(value: Any) -> Order | None:
    """An order read back from plain data (a list), or ``None``."""
    return None if value is None else (value[0], value[1], value[2])


def order_of(value: Any) -> Order:
    """An order read back from plain data (a list)."""
    return (value[0], value[1], value[2])
