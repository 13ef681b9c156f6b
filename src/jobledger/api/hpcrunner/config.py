"""Process-wide :data:`settings` and the hpc-runner configuration files (:class:`RunnerConfig`)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.api.hpcrunner.keywords import job_kwargs
from jobledger.config import load_config as load_project_config
from jobledger.config import read_toml
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project

#: Environment variable naming an hpc-runner config file when none was loaded explicitly.
CONFIG_ENV = "HPC_RUNNER_CONFIG"


@attrs.define
class RunnerSettings:
    """The hpc-runner face's process-wide settings, in one explicit, resettable object.

    ``config_path``: the file given to :func:`reload_config` (``None``: the project's
    ``jobledger.toml``, or ``$HPC_RUNNER_CONFIG``). ``schedulers``: names added with
    :func:`register_scheduler`.
    """

    config_path: Path | None = None
    schedulers: dict[str, Any] = attrs.field(factory=dict)

    def reset(self) -> None:
        """Forget the explicit config file and the registered schedulers."""
        self.config_path = None
        self.schedulers.clear()


#: The settings :func:`reload_config`, :func:`register_scheduler` and friends act on.
settings = RunnerSettings()


# ====================================================================== configuration
@attrs.frozen
class RunnerConfig:
    """``[defaults]``, ``[tools.*]``, ``[types.*]`` and ``[schedulers.*]`` as read."""

    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    tools: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    types: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    schedulers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    sources: tuple[str, ...] = ()

    def get_type_config(self, name: str) -> dict[str, Any]:
        """``[defaults]`` merged with ``[types.NAME]`` (or ``[tools.NAME]``)."""
        return self.job_config(name)

    def get_tool_config(self, command: str) -> dict[str, Any]:
        """``[defaults]`` merged with the tool named by ``command``'s first word and the
        first of its ``options`` whose tokens appear in the command."""
        words = shlex.split(command)
        if not words:
            raise ModelError("empty command")
        return self.job_config(Path(words[0]).name, command)

    def job_config(self, name: str, command: str | None = None) -> dict[str, Any]:
        """Merged settings of tool or type ``name`` (tools first, as hpc-runner)."""
        table = self.tools.get(name)
        if table is None:
            table = self.types.get(name)
        if table is None:
            known = ", ".join(sorted({*self.tools, *self.types})) or "none"
            where = " or ".join(self.sources) if self.sources else "no configuration file found"
            raise ConfigError(
                f"no [types.{name}] or [tools.{name}] in the configuration (known: {known}; read: {where})"
            )
        own = {k: v for k, v in table.items() if k != "options"}
        merged = merge_settings(dict(self.defaults), own)
        options = table.get("options")
        if command and isinstance(options, Mapping):
            tokens = _tokens(shlex.split(command)[1:])
            for flag, extra in options.items():
                if _contains(tokens, _tokens(shlex.split(flag))) and isinstance(extra, Mapping):
                    merged = merge_settings(merged, dict(extra))
                    break
        return merged


def merge_settings(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """hpc-runner's merge: tables deeply, lists by union (a leading ``"-"`` replaces)."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge_settings(dict(old), value)
        elif isinstance(old, list) and isinstance(value, list):
            if value and value[0] == "-":
                out[key] = list(value[1:])
            else:
                out[key] = list(dict.fromkeys([*old, *value]))
        elif isinstance(value, list) and value and value[0] == "-":
            out[key] = list(value[1:])
        else:
            out[key] = value
    return out


def _tokens(words: Sequence[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if word.startswith("--") and "=" in word:
            flag, _, value = word.partition("=")
            out += [flag, value]
        else:
            out.append(word)
    return out


def _contains(haystack: list[str], needle: list[str]) -> bool:
    size = len(needle)
    return bool(needle) and any(haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))


_FILE_TABLES = ("defaults", "tools", "types", "schedulers")


def load_config(path: str | os.PathLike[str] | None = None) -> RunnerConfig:
    """Read ``path`` (an hpc-runner file, following ``extends``), or, without a path,
    what :func:`get_config` reads."""
    if path is None:
        return get_config()
    chain = _extends_chain(Path(path).resolve(), [])
    merged: dict[str, Any] = {name: {} for name in _FILE_TABLES}
    for file in chain:
        data = read_toml(file)
        for key in data:
            if key == "hosts":
                raise ConfigError(
                    f"{file}: [hosts] tables belong in the project's jobledger.toml "
                    "(the engine reads hosts there)"
                )
            if key not in (*_FILE_TABLES, "extends"):
                raise ConfigError(
                    f"{file}: unknown top-level table or key {key!r} (use {', '.join(_FILE_TABLES)})"
                )
        for name in _FILE_TABLES:
            if name in data:
                merged[name] = merge_settings(merged[name], data[name])
    config = RunnerConfig(
        defaults=merged["defaults"],
        tools=merged["tools"],
        types=merged["types"],
        schedulers=merged["schedulers"],
        sources=tuple(str(f) for f in chain),
    )
    _validate(config)
    return config


def _extends_chain(path: Path, seen: list[Path]) -> list[Path]:
    if path in seen:
        raise ConfigError(f"{path}: circular 'extends' ({' -> '.join(map(str, [*seen, path]))})")
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    data = read_toml(path)
    parent = data.get("extends")
    if not parent:
        return [path]
    target = Path(os.path.expandvars(str(parent)))
    target = (target if target.is_absolute() else path.parent / target).resolve()
    if not target.is_file():
        return [path]  # hpc-runner tolerates a missing base file
    return [*_extends_chain(target, [*seen, path]), path]


def _validate(config: RunnerConfig) -> None:
    where = " or ".join(config.sources) or "configuration"
    job_kwargs(config.defaults, f"{where}: [defaults]")
    for section, tables in (("tools", config.tools), ("types", config.types)):
        for name, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: [{section}.{name}] must be a table")
            job_kwargs({k: v for k, v in table.items() if k != "options"}, f"{where}: [{section}.{name}]")


def get_config() -> RunnerConfig:
    """The configuration in effect: the file given to :func:`reload_config` (or named by
    ``$HPC_RUNNER_CONFIG``), else ``jobledger.toml`` of the project above the cwd plus
    the user's file. Read afresh on every call (no cache to go stale)."""
    explicit = settings.config_path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    if explicit is not None:
        return load_config(explicit)
    found = Project.find()
    config = load_project_config(found.root if found else None)
    return RunnerConfig(
        defaults=dict(config.defaults),
        tools=dict(config.types),
        types=dict(config.types),
        schedulers=dict(config.schedulers),
        sources=config.sources,
    )


def reload_config(path: str | os.PathLike[str] | None = None) -> RunnerConfig:
    """Use ``path`` as this process's configuration from now on (``None``: back to the
    project's ``jobledger.toml``). Kept in :data:`settings`; returns what was read."""
    if path is None:
        settings.config_path = None
        return get_config()
    resolved = Path(path).resolve()
    config = load_config(resolved)
    settings.config_path = resolved
    return config
