"""What may go on a ``#$`` line or into qsub/qstat/qdel argv, and the errors that say why
a value cannot (:class:`~jobledger.errors.UnsupportedResource` naming the keyword and ``sge``).
"""

from __future__ import annotations

import re

from jobledger.errors import UnsupportedResource

# Values that end up on a ``#$`` line or in qsub/qdel argv: nothing that SGE or a shell
# could read as a separator, a host prefix (``host:path``), a list (``,``) or a variable.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./+=%@~ -]*$")
_WORD_RE = re.compile(r"^[A-Za-z0-9_.@*+-]+$")
_NAME_RULE = "a letter or '_' first, then letters, digits, '_', '.', '-'"
_PATH_RULE = "an absolute path of letters, digits, spaces and _ . / + = % @ ~ -"
_TAG_RE = re.compile(r"^[A-Za-z0-9_.:+%@/-]+$")
_ID_RE = re.compile(r"^(\d+)(?:\[(\d+)\])?$")


def _split_key(key: str) -> tuple[str, int | None]:
    match = _ID_RE.match(key.strip())
    if not match:
        raise _unsupported("id", key, "expected a job id '123' or an element key '123[4]'")
    return match.group(1), int(match.group(2)) if match.group(2) else None


def _check(value: str, pattern: re.Pattern[str], keyword: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _unsupported(keyword, value, f"expected {expected}")
    return value


def _quote(path: str) -> str:
    """SGE reads double quotes on ``#$`` lines: needed for paths with spaces."""
    return f'"{path}"' if " " in path else path


def _unsupported(keyword: str, value: object, why: str) -> UnsupportedResource:
    return UnsupportedResource(f"sge cannot express {keyword}={value!r}: {why}")
