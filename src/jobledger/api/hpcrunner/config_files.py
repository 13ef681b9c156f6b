"""hpc-runner's configuration files: where they are, how they chain and how they merge.

Discovery, as hpc-runner does it: the project file is ``$HPC_RUNNER_CONFIG`` when set,
else ``hpc-runner.toml`` at the root of the git repository holding the current directory;
``./hpc-runner.toml`` in the current directory is laid over it. A file may name a base file
with ``extends = "path"`` (relative to itself, ``$VAR`` expanded; a missing base is
tolerated, a circle is an error). Tables merge deeply; lists merge by union in order, and a
list starting with ``"-"`` replaces the one below instead.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobledger.config import read_toml
from jobledger.errors import ConfigError, ExtendsCycle

#: Environment variable naming the project's hpc-runner file.
HPC_CONFIG_ENV_VAR = "HPC_RUNNER_CONFIG"
#: The file name looked for at the git root and in the current directory.
FILE_NAME = "hpc-runner.toml"


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """hpc-runner's merge: tables deeply, lists by union in order (a leading ``"-"``
    replaces the list below), anything else replaced."""
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(old, value)
        elif isinstance(value, list) and value and value[0] == "-":
            out[key] = list(value[1:])
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = _union(old, value)
        else:
            out[key] = value
    return out


def _union(first: list[Any], second: list[Any]) -> list[Any]:
    """Items of both lists in order, each once (tables compared by value)."""
    out: list[Any] = []
    for item in [*first, *second]:
        if item not in out:
            out.append(item)
    return out


def _expand_env_vars(text: str) -> str:
    """``$VAR`` and ``${VAR}`` replaced by their values; undefined ones are left as written."""
    return os.path.expandvars(text)


def _normalise_tokens(args: str | Sequence[str]) -> list[str]:
    """Command words with ``--flag=value`` split into ``--flag``, ``value``."""
    words = args.split() if isinstance(args, str) else list(args)
    out: list[str] = []
    for word in words:
        if word.startswith("--") and "=" in word:
            flag, _, value = word.partition("=")
            out += [flag, value]
        else:
            out.append(word)
    return out


def _match_contiguous(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """True when ``needle`` appears in ``haystack`` as consecutive items (never for an
    empty needle)."""
    size = len(needle)
    return bool(needle) and any(
        list(haystack[i : i + size]) == list(needle) for i in range(len(haystack) - size + 1)
    )


def command_words(command: str) -> list[str]:
    """The words of a command line (shell quoting understood when it is balanced)."""
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def read_file(path: Path) -> dict[str, Any]:
    """One hpc-runner file as a dict (errors name the file)."""
    if path.is_dir():
        raise ConfigError(f"{path}: could not read file — it is a directory")
    if not path.exists():
        raise ConfigError(f"{path}: could not read file — no such file")
    return read_toml(path)


def _resolve_extends(path: str | os.PathLike[str], seen: Sequence[Path] = ()) -> list[Path]:
    """``path`` and the files it extends, base first, each resolved."""
    here = Path(path).resolve()
    if here in seen:
        chain = " -> ".join(str(p) for p in [*seen, here])
        raise ExtendsCycle(f"{here}: Circular extends ({chain})")
    data = read_file(here)
    parent = data.get("extends")
    if not parent:
        return [here]
    if not isinstance(parent, str):
        raise ConfigError(f"{here}: extends = {parent!r}: expected the path of a file")
    target = Path(_expand_env_vars(parent))
    target = (target if target.is_absolute() else here.parent / target).resolve()
    if not target.exists():
        return [here]  # hpc-runner tolerates a base file that does not exist (yet)
    return [*_resolve_extends(target, [*seen, here]), here]


def _find_git_root(start: Path) -> Path | None:
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return None


def find_config_files() -> list[Path]:
    """Every file to merge, lowest priority first (see the module docstring)."""
    found: list[Path] = []

    def add(path: Path) -> None:
        for item in _resolve_extends(path):
            if item not in found:
                found.append(item)

    named = os.environ.get(HPC_CONFIG_ENV_VAR)
    if named:
        env_path = Path(_expand_env_vars(named))
        if env_path.exists():
            add(env_path)
    else:
        root = _find_git_root(Path.cwd())
        if root is not None and (root / FILE_NAME).exists():
            add(root / FILE_NAME)
    local = Path.cwd() / FILE_NAME
    if local.exists() and local.resolve() not in found:
        add(local)
    return found


def find_config_file() -> Path | None:
    """The highest-priority file of :func:`find_config_files` (``None`` when there is none)."""
    files = find_config_files()
    return files[-1] if files else None
