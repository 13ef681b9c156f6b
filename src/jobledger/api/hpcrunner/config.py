"""The configuration object (:class:`HPCConfig`), what :func:`get_config` reads, and the
face's process-wide :data:`settings`.

:func:`get_config` reads, afresh on every call:

1. the file given to :func:`reload_config`, alone (with its ``extends`` chain); else
2. hpc-runner's files as hpc-runner finds them (``$HPC_RUNNER_CONFIG`` or the git root's
   ``hpc-runner.toml``, then ``./hpc-runner.toml``: see :mod:`.config_files`), with the
   ``[types]``/``[tools]`` of the project's ``jobledger.toml`` laid over them (each preset
   there carries that file's ``[defaults]``; jobledger's ``[defaults]`` themselves are
   applied by the engine to every job, so they are not copied into each hpc-runner Job).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from jobledger.api.hpcrunner.config_files import (
    HPC_CONFIG_ENV_VAR,
    _match_contiguous,
    _merge,
    _normalise_tokens,
    _resolve_extends,
    command_words,
    find_config_files,
    read_file,
)
from jobledger.api.hpcrunner.keywords import check_table
from jobledger.config import load_config as load_project_config
from jobledger.errors import ConfigError
from jobledger.project import Project

#: The former name of :data:`~.config_files.HPC_CONFIG_ENV_VAR`.
CONFIG_ENV = HPC_CONFIG_ENV_VAR
_TABLES = ("defaults", "tools", "types", "schedulers")


@attrs.define
class RunnerSettings:
    """The face's process-wide settings, in one explicit, resettable object.

    ``config_path``: the file given to :func:`reload_config` (``None``: discovery).
    ``schedulers``: names added with ``register_scheduler``.
    """

    config_path: Path | None = None
    schedulers: dict[str, Any] = attrs.field(factory=dict)

    def reset(self) -> None:
        """Forget the explicit config file and the registered schedulers."""
        self.config_path = None
        self.schedulers.clear()


#: The settings :func:`reload_config`, ``register_scheduler`` and friends act on.
settings = RunnerSettings()


@attrs.frozen(kw_only=True)
class HPCConfig:
    """``[defaults]``, ``[tools.*]``, ``[types.*]`` and ``[schedulers.*]`` as read."""

    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    tools: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    types: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    schedulers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    sources: tuple[str, ...] = ()

    @property
    def _source_paths(self) -> list[Path]:
        """The files read, lowest priority first (hpc-runner's spelling)."""
        return [Path(s) for s in self.sources]

    def _section(self, name: str, section: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        table = {k: v for k, v in dict(section.get(name) or {}).items() if k != "options"}
        return _merge(dict(self.defaults), table)

    def get_type_config(self, job_type: str) -> dict[str, Any]:
        """``[defaults]`` merged with ``[types.NAME]`` (just the defaults when there is none)."""
        return self._section(job_type, self.types)

    def get_tool_config(self, command: str) -> dict[str, Any]:
        """``[defaults]`` merged with the ``[tools.*]`` named by the command's first word
        (its path dropped) and the first of the tool's ``options`` whose words appear in
        the command, in order."""
        words = command_words(command)
        if not words:
            return dict(self.defaults)
        return self._tool(Path(words[0]).name, words[1:])

    def _tool(self, tool: str, args: list[str]) -> dict[str, Any]:
        merged = self._section(tool, self.tools)
        options = dict(self.tools.get(tool) or {}).get("options")
        if isinstance(options, Mapping) and args:
            tokens = _normalise_tokens(args)
            for flag, extra in options.items():
                if isinstance(extra, Mapping) and _match_contiguous(tokens, _normalise_tokens(str(flag))):
                    return _merge(merged, extra)
        return merged

    def get_job_config(self, name: str, command: str | None = None) -> dict[str, Any]:
        """``[defaults]`` merged with ``[tools.NAME]`` (tools first, as hpc-runner, with
        the options ``command`` selects) or ``[types.NAME]``; an unknown name is a
        :class:`ConfigError` listing the known ones."""
        if name in self.tools:
            return self._tool(name, command_words(command)[1:] if command else [])
        if name in self.types:
            return self.get_type_config(name)
        known = ", ".join(sorted({*self.tools, *self.types})) or "none"
        where = " or ".join(self.sources) if self.sources else "no configuration file found"
        raise ConfigError(
            f"no [types.{name}] or [tools.{name}] in the configuration (known: {known}; read: {where})"
        )

    def job_config(self, name: str, command: str | None = None) -> dict[str, Any]:
        """The former name of :meth:`get_job_config`."""
        return self.get_job_config(name, command)

    def get_scheduler_config(self, scheduler: str) -> dict[str, Any]:
        """``[schedulers.NAME]`` (empty when there is none)."""
        return dict(self.schedulers.get(scheduler) or {})


#: The former name of :class:`HPCConfig`.
RunnerConfig = HPCConfig


def load_config(path: str | os.PathLike[str] | None = None) -> HPCConfig:
    """Read ``path`` (an hpc-runner file, following ``extends``), or without a path what
    :func:`get_config` reads."""
    if path is None:
        return get_config()
    return _load_files(_resolve_extends(path))


def _load_files(files: list[Path]) -> HPCConfig:
    merged: dict[str, dict[str, Any]] = {name: {} for name in _TABLES}
    for file in files:
        data = read_file(file)
        for key, value in data.items():
            if key == "hosts":
                raise ConfigError(
                    f"{file}: [hosts] tables belong in the project's jobledger.toml "
                    "(the engine reads hosts there)"
                )
            if key not in (*_TABLES, "extends"):
                raise ConfigError(
                    f"{file}: unknown top-level table or key {key!r} (use {', '.join(_TABLES)})"
                )
            if key != "extends" and not isinstance(value, Mapping):
                raise ConfigError(f"{file}: {key} = {value!r}: [{key}] must be a table")
        for name in _TABLES:
            if name in data:
                merged[name] = _merge(merged[name], data[name])
        _validate(data, str(file))
    return HPCConfig(
        defaults=merged["defaults"],
        tools=merged["tools"],
        types=merged["types"],
        schedulers=merged["schedulers"],
        sources=tuple(str(f) for f in files),
    )


def _validate(data: Mapping[str, Any], where: str) -> None:
    check_table(dict(data.get("defaults") or {}), f"{where}: [defaults]")
    for section in ("tools", "types", "schedulers"):
        for name, table in dict(data.get(section) or {}).items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: [{section}.{name}] must be a table")
            if section == "schedulers":
                continue  # scheduler settings are read as written (get_scheduler_config)
            check_table(table, f"{where}: [{section}.{name}]")
            for flag, extra in dict(table.get("options") or {}).items():
                if not isinstance(extra, Mapping):
                    raise ConfigError(f'{where}: [{section}.{name}.options."{flag}"] must be a table')
                check_table(extra, f'{where}: [{section}.{name}.options."{flag}"]')


def get_config() -> HPCConfig:
    """The configuration in effect (see the module docstring); read afresh on every call."""
    if settings.config_path is not None:
        return load_config(settings.config_path)
    files = find_config_files()
    found = _load_files(files) if files else HPCConfig()
    project = Project.find()
    jl = load_project_config(project.root if project else None)
    if not jl.sources:
        return found
    presets = {name: _merge(dict(jl.defaults), table) for name, table in jl.types.items()}
    return HPCConfig(
        defaults=found.defaults,
        tools=found.tools,
        types=_merge(found.types, presets),
        schedulers=_merge(found.schedulers, jl.schedulers),
        sources=(*found.sources, *jl.sources),
    )


def reload_config(path: str | os.PathLike[str] | None = None) -> HPCConfig:
    """Use ``path`` as this process's configuration from now on (``None``: back to
    discovery). Kept in :data:`settings`; returns what was read. A file that fails to
    load is not kept."""
    if path is None:
        settings.config_path = None
        return get_config()
    resolved = Path(path).resolve()
    config = load_config(resolved)
    settings.config_path = resolved
    return config
