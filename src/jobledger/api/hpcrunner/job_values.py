"""How hpc-runner job keywords become values: a command (a string, a list of words or a
Python callable) and its label, ``$VAR`` expansion in module lists (an unset or empty
variable is an error) and in environment tables, paths as text, and which keyword counts
as given (not ``None``, not an empty list or table).

:class:`jobledger.api.hpcrunner.job.Job` builds its attributes with these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jobledger.api.hpcrunner.config_files import _expand_env_vars
from jobledger.errors import ConfigError, ModelError

_UNRESOLVED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def expand_module_list(entries: Any, key: str, where: str) -> list[str]:
    """``entries`` with ``$VAR`` expanded; an unset or empty variable is an error (a bare
    or literal ``module load`` would silently load nothing)."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, Iterable):
        raise ModelError(f"{where}: {key} must be a list of strings, not {entries!r}")
    out = []
    for raw in entries:
        if not isinstance(raw, str):
            raise ModelError(f"{where}: {key} entry {raw!r} is not a string")
        text = _expand_env_vars(raw)
        unset = list(dict.fromkeys(_UNRESOLVED.findall(text)))
        if unset:
            names = ", ".join(f"${v}" for v in unset)
            raise ConfigError(
                f"{where}: {key} entry {raw!r} references undefined environment variable(s) {names}; "
                "set them in the shell that submits the job"
            )
        if not text.strip():
            raise ConfigError(
                f"{where}: {key} entry {raw!r} expands to an empty string (the variable is set but empty)"
            )
        out.append(text)
    return out


def expanded_table(values: Any, key: str, where: str) -> dict[str, str]:
    """An env table (``key``) as text, ``$VAR`` in its values expanded; ``{}`` when absent."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ModelError(f"{where}: {key} must be a table of names to values, not {values!r}")
    return {str(k): _expand_env_vars(str(v)) for k, v in values.items()}


def is_given(value: Any) -> bool:
    """A keyword counts when it is not ``None`` and, for lists and tables, not empty."""
    return value is not None and not (isinstance(value, (list, tuple, dict)) and not value)


def command_value(command: Any) -> str | Callable[[], Any]:
    """A command line as one string, or a Python callable (run as a Python-function job)."""
    if isinstance(command, str):
        return command
    if isinstance(command, Sequence) and command and all(isinstance(w, str) for w in command):
        return " ".join(command)
    if callable(command):
        return command  # type: ignore[no-any-return]
    raise ModelError(
        f"a job's command must be a string, a list of strings or a Python callable, not {command!r}"
    )


def command_label(command: str | Callable[[], Any]) -> str:
    """The command as text: for a callable, its (or its partial's function's) name."""
    if isinstance(command, str):
        return command
    func = getattr(command, "func", command)  # functools.partial
    return str(getattr(func, "__name__", type(command).__name__))


def text_path(value: Any) -> Any:
    """Paths as strings (``Path`` objects are accepted); anything else is checked later."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value
