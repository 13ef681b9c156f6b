"""What a dependency is made of: its kinds (awflow's words accepted) and :class:`JobRef`,
a job recorded earlier in the project."""

from __future__ import annotations

import attrs

from jobledger.errors import ModelError

DEPENDENCY_KINDS = ("afterok", "afterany", "afternotok")
_KIND_ALIASES = {
    "success": "afterok",
    "ok": "afterok",
    "failure": "afternotok",
    "notok": "afternotok",
    "any": "afterany",
    "afterok": "afterok",
    "afterany": "afterany",
    "afternotok": "afternotok",
}


def normalize_kind(kind: str) -> str:
    """Return the canonical dependency kind for ``kind`` (accepts awflow's statuses)."""
    try:
        return _KIND_ALIASES[kind.lower()]
    except (KeyError, AttributeError):
        raise ModelError(f"unknown dependency type {kind!r}; use afterok, afterany or afternotok") from None


@attrs.frozen
class JobRef:
    """A job recorded earlier in the project (any workflow), named by its key.

    A dependency on it waits for that job as it stands in the ledger; nothing of it is
    defined again.
    """

    key: str
    name: str
