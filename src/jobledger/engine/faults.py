"""Crash points for tests: ``JOBLEDGER_FAULT=<point>:<n>`` kills this process with SIGKILL
the n-th time the engine passes ``<point>`` (``after-intent``, ``after-spawn``,
``after-submit``, ``before-outcome``, ``after-retry``). Unset, it costs one dictionary lookup."""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def checkpoint(point: str) -> None:
    """Die here when the fault plan says so."""
    plan = os.environ.get("JOBLEDGER_FAULT")
    if not plan:
        return
    name, _, nth = plan.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
