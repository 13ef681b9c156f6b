"""Rules for user text that reaches shell scripts, file names and scheduler directives.

Checked once, where a value is defined (model, configuration, faces), so nothing later
has to guess whether it is safe:

* an environment variable name matches ``[A-Za-z_][A-Za-z0-9_]*`` (it lands unquoted in
  ``export NAME=...``; anything else could run code);
* no text that reaches a script, an argv or a path holds a NUL byte (bash drops it
  silently and runs something else; the OS refuses it in paths);
* job, workflow and host names hold no control character (newline, CR, ``\\x1f`` ...):
  they are written into one-line records, logs and scheduler directives;
* an argv item is a ``str`` or a path-like object, never ``None`` or a number turned
  into text by accident;
* :func:`file_stem` turns any name into a file name injectively (two names never share
  a lock, a cache file or a directory).

Every check raises :class:`~jobledger.errors.ModelError` naming the owner (``where``),
the field and the offending value; the configuration loader re-raises it as a
:class:`~jobledger.errors.ConfigError` naming file, table and key.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jobledger.errors import ModelError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable name must match (POSIX shell names)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")
_CHAR_NAMES = {"\x00": "a NUL byte", "\n": "a newline", "\r": "a carriage return", "\t": "a tab"}


def describe_char(char: str) -> str:
    """Human name of a control character: ``a newline``, ``\\x1f`` ..."""
    return _CHAR_NAMES.get(char, repr(char).strip("'"))


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def control_char(text: str) -> str | None:
    """The first control character (``\\x00``-``\\x1f``, ``\\x7f``) in ``text``, if any."""
    found = _CONTROL.search(text)
    return found.group() if found else None


def check_name(value: Any, what: str, where: str = "") -> str:
    """``value`` as a name (job, workflow, host): a non-empty string, no control character."""
    if type(value) is str and value.isprintable() and value.strip():
        return value  # printable text holds no control character
    if not isinstance(value, str) or not value.strip():
        raise ModelError(f"{_prefix(where)}a {what} must be a non-empty string, got {value!r}")
    bad = control_char(value)
    if bad is not None:
        raise ModelError(
            f"{_prefix(where)}{what} {value!r} contains {describe_char(bad)}; "
            "names may not hold control characters"
        )
    return value


def check_text(value: Any, field: str, where: str = "") -> str:
    """``value`` as text that reaches a script or an argv: a string with no NUL byte."""
    if not isinstance(value, str):
        raise ModelError(f"{_prefix(where)}{field} must be a string, not {type(value).__name__} {value!r}")
    if "\x00" in value:
        raise ModelError(f"{_prefix(where)}{field} {value!r} contains a NUL byte")
    return value


def check_texts(values: Any, field: str, where: str = "") -> tuple[str, ...]:
    """A string or an iterable of strings (``modules``, ``setup`` lines), each checked."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable) or isinstance(values, (bytes, Mapping)):
        raise ModelError(f"{_prefix(where)}{field} must be a list of strings, got {values!r}")
    return tuple(check_text(v, f"{field} item", where) for v in values)


def check_path(value: Any, field: str, where: str = "") -> str:
    """``value`` (a ``str`` or path-like) as a path string with no NUL byte."""
    try:
        text = os.fspath(value)
    except TypeError:
        raise ModelError(
            f"{_prefix(where)}{field} must be a path (str or os.PathLike), not "
            f"{type(value).__name__} {value!r}"
        ) from None
    if not isinstance(text, str):
        raise ModelError(f"{_prefix(where)}{field} must be a text path, not bytes {text!r}")
    if not text:
        raise ModelError(f"{_prefix(where)}{field} is an empty path")
    return check_text(text, field, where)


def check_argv(items: Iterable[Any], where: str = "") -> tuple[str, ...]:
    """An argv list: every item a ``str`` or path-like, none holding a NUL byte."""
    if type(items) is list or type(items) is tuple:
        try:
            joined = "".join(items)  # only strings join: anything else takes the long way
        except TypeError:
            pass
        else:
            if "\x00" not in joined:
                return tuple(items)
    out: list[str] = []
    for number, item in enumerate(items):
        if isinstance(item, str):
            text = item
        elif isinstance(item, os.PathLike):
            text = check_path(item, f"argv item {number}", where)
        else:
            raise ModelError(
                f"{_prefix(where)}argv item {number} is {type(item).__name__} {item!r}: "
                "argv items must be strings or paths (convert numbers with str() yourself)"
            )
        out.append(check_text(text, f"argv item {number}", where))
    return tuple(out)


def env_name_problem(name: Any) -> str | None:
    """Why ``name`` is not a valid environment variable name (``None`` when it is)."""
    if not isinstance(name, str):
        return f"an environment variable name must be a string, not {type(name).__name__} {name!r}"
    if not ENV_NAME.fullmatch(name):
        return (
            f"invalid environment variable name {name!r} (letters, digits and _, not starting with a digit)"
        )
    return None


def env_value(value: Any, name: str) -> str:
    """An environment value as text: strings and paths as they are, numbers as their
    decimal text; anything else (``None``, booleans, lists ...) is refused."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, os.PathLike):
        text = check_path(value, f"environment variable {name}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    else:
        raise ModelError(
            f"environment variable {name}: value must be a string or a number, not "
            f"{type(value).__name__} {value!r}"
        )
    return check_text(text, f"environment variable {name} value")


def check_env(env: Mapping[Any, Any] | None, where: str = "") -> dict[str, str]:
    """Validated environment: names checked, values as text, sorted by name."""
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise ModelError(f"{_prefix(where)}env must be a mapping of names to values, not {env!r}")
    out: dict[str, str] = {}
    for name, value in env.items():
        problem = env_name_problem(name)
        if problem is not None:
            raise ModelError(f"{_prefix(where)}{problem}")
        try:
            out[name] = env_value(value, name)
        except ModelError as exc:
            raise ModelError(f"{_prefix(where)}{exc}") from None
    return dict(sorted(out.items()))


def safe_name(name: str, limit: int = 40) -> str:
    """A file-system- and scheduler-safe rendering of a name (not injective: see
    :func:`file_stem`)."""
    text = _UNSAFE_FILE.sub("_", name).strip("._") or "job"
    return text[:limit]


def file_stem(name: str, limit: int = 40) -> str:
    """An injective file name for ``name``: its safe rendering plus a short hash of the
    exact text (``exp/1`` and ``exp:1`` get different files)."""
    exact = name.encode("utf-8", "surrogatepass")
    short = hashlib.blake2b(exact, digest_size=4).hexdigest()
    return f"{safe_name(name, limit)}-{short}"
