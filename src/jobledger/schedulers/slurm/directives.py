"""``#SBATCH`` words: quoting for sbatch's own word splitter, raw extra directives,
time limits, job ids as SLURM spells them and ``--dependency`` values.

Values that cannot be put on one ``#SBATCH`` line raise
:class:`~jobledger.errors.ModelError`; raw directives that would override what jobledger
sets itself raise :class:`~jobledger.errors.UnsupportedResource`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobledger.errors import ModelError, ResourceError, SchedulerError, UnsupportedResource
from jobledger.schedulers.base import NativeDependency

_DEP_KINDS = ("afterok", "afterany", "afternotok", "after", "aftercorr")

# sbatch splits an #SBATCH line into words itself (src/sbatch/opt.c _get_argument): ' and "
# group, a backslash escapes the next character except whitespace (so "a\ b" is two words),
# an unquoted # starts a comment. Older sbatch blank out "packjob" anywhere on the line and
# treat "hetjob"/"packjob" lines as component separators; a backslash inside the word keeps
# the text and defeats that scan.
_SAFE_WORD = re.compile(r"[A-Za-z0-9._,:=/@+%^~-]+")
_HET_WORD = re.compile(r"(het|pack)(j)(ob)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_line(value: str, field: str) -> None:
    if _CONTROL.search(value):
        what = "a newline" if ("\n" in value or "\r" in value) else "a control character"
        raise ModelError(f"slurm: {field}={value!r} contains {what}; it cannot be put on an #SBATCH line")


def sbatch_quote(value: str, field: str = "value") -> str:
    """``value`` as one word of an ``#SBATCH`` line that sbatch reads back unchanged.

    Plain words stay as they are; anything else is double-quoted with ``\\`` and ``"``
    escaped, so spaces, quotes, ``#``, ``$()`` and backticks are inert text. Newlines and
    control characters raise :class:`~jobledger.errors.ModelError` naming ``field``.
    """
    _check_line(value, field)
    if _SAFE_WORD.fullmatch(value):
        word = value
    else:
        word = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _HET_WORD.sub(r"\1\\\2\3", word)


def format_time_limit(seconds: int) -> str:
    """``--time`` value ``D-HH:MM:SS`` (SLURM rounds seconds up to whole minutes)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"


# Options that carry the engine's identity tags or the workflow graph: raw extras may not
# override them (getopt also accepts unambiguous prefixes such as --comm for --comment).
_RESERVED_LONG = ("job-name", "comment", "array", "dependency", "kill-on-invalid-dep",
                  "parsable", "wrap", "hetjob", "packjob")  # fmt: skip
_RESERVED_SHORT = frozenset("Jad")
_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _raw_directive(item: str, field: str) -> str:
    """One raw extra (``--foo=bar``, ``foo=bar``, ``--flag``, ``-p x``) as an #SBATCH body."""
    _check_line(item, field)
    text = item.strip()
    if text.startswith("#SBATCH"):
        text = text[len("#SBATCH") :].strip()
    if not text:
        raise ResourceError(field, item, "empty raw directive")
    if text.startswith("-") and not text.startswith("--"):
        letter, rest = text[1:2], text[2:].strip()
        if not letter.isalpha():
            raise ResourceError(field, item, "expected -X [value], --name[=value] or name=value")
        if letter in _RESERVED_SHORT:
            raise UnsupportedResource(
                f"slurm: raw directive {item!r} would override -{letter}, which jobledger "
                "sets itself (job name, comment, array, dependencies)"
            )
        return f"-{letter}" + (f" {sbatch_quote(rest, field)}" if rest else "")
    body = text[2:] if text.startswith("--") else text
    if "=" in body:
        name, _, value = body.partition("=")
        has_value = True
    else:
        name, _, value = body.partition(" ")
        has_value = bool(value.strip())
    name, value = name.strip(), value.strip()
    if not _OPTION_NAME.fullmatch(name):
        raise ResourceError(field, item, "expected -X [value], --name[=value] or name=value")
    if any(reserved.startswith(name.lower()) for reserved in _RESERVED_LONG):
        raise UnsupportedResource(
            f"slurm: raw directive {item!r} would override --{name}, which jobledger sets "
            "itself (job name, comment, array, dependencies)"
        )
    return f"--{name}" + (f"={sbatch_quote(value, field)}" if has_value else "")


def _native_id(job_id: str) -> str:
    """``123``, ``123_4`` or ``123[4]`` as SLURM spells it (``123``/``123_4``)."""
    text = job_id.strip()
    m = re.fullmatch(r"(\d+)(?:\[(\d+)\]|_(\d+))?", text)
    if not m:
        raise SchedulerError(f"slurm: {job_id!r} is not a SLURM job id")
    index = m.group(2) or m.group(3)
    return m.group(1) if index is None else f"{m.group(1)}_{index}"


def _dependency_value(deps: Sequence[NativeDependency]) -> str:
    groups: dict[str, list[str]] = {}
    for dep in deps:
        kind = dep.kind.strip().lower()
        if kind not in _DEP_KINDS:
            raise UnsupportedResource(
                f"slurm: dependency kind {dep.kind!r} is not supported; use one of {', '.join(_DEP_KINDS)}"
            )
        ids = groups.setdefault(kind, [])
        native = _native_id(dep.scheduler_id)
        if native not in ids:
            ids.append(native)
    return ",".join(f"{kind}:{':'.join(ids)}" for kind, ids in groups.items())
