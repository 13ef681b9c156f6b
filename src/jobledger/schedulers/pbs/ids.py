"""PBS job ids: ``123.server``, arrays ``123[].server`` and elements ``123[4].server``."""

from __future__ import annotations

import re

_JOB_ID_RE = re.compile(r"^(?P<seq>\d+)(?:\[(?P<idx>\d*)\])?(?P<rest>\S*)$")
_ELEMENT_KEY_RE = re.compile(r"^(?P<base>.+)\[(?P<idx>\d+)\]$")


def split_job_id(job_id: str) -> tuple[str, int | None]:
    """``123[4].srv`` -> (``123[].srv``, 4); ``123.srv`` -> (``123.srv``, None)."""
    m = _JOB_ID_RE.match(job_id.strip())
    if not m or m.group("idx") is None:
        return job_id.strip(), None
    base = f"{m.group('seq')}[]{m.group('rest')}"
    return base, int(m.group("idx")) if m.group("idx") else None


def native_id(key: str) -> str:
    """Inverse of :func:`split_job_id` on an engine key: ``123[].srv[4]`` -> ``123[4].srv``."""
    m = _ELEMENT_KEY_RE.match(key)
    if not m or "[]" not in m.group("base"):
        return key
    return m.group("base").replace("[]", f"[{m.group('idx')}]", 1)
