"""Configuration: ``jobledger.toml`` in the project and ``~/.config/jobledger/config.toml``.

The project's file wins over the user's, key by key. Tables::

    [defaults]            resources (and retry policy) every job starts from
    [types.NAME]          presets for Job.from_config / job_type= (hpc-runner)
    [tools.NAME]          same as types (hpc-runner's spelling)
    [hosts.NAME]          where jobs go: ssh target, scheduler, workdir, python, ...
    [hosts.NAME.resources]  default resources on that host
    [hosts.NAME.limits]   caps for resource escalation on that host
    [hosts.NAME.retry]    retry policy defaults on that host
    [hosts.NAME.template] batch script header / epilogue override
    [schedulers.NAME]     scheduler-wide settings (e.g. sge parallel_environment)

Unknown keys and bad values raise :class:`~jobledger.errors.ConfigError` naming the file,
the table and the key.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from jobledger.config_hosts import (
    _REGISTERED,
    IMPLICIT,
    IMPLICIT_HOSTS,
    LOCAL_HOST,
    HostConfig,
    implicit_host,
    register_host,
)
from jobledger.config_values import (
    host_values,
    job_table,
    scheduler_settings,
)
from jobledger.errors import ConfigError, ModelError
from jobledger.model.names import check_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

USER_CONFIG = Path("~/.config/jobledger/config.toml")

__all__ = [
    "IMPLICIT",
    "IMPLICIT_HOSTS",
    "LOCAL_HOST",
    "USER_CONFIG",
    "Config",
    "HostConfig",
    "implicit_host",
    "load_config",
    "read_toml",
    "register_host",
]


def _probed(name: str) -> str:
    entry = IMPLICIT_HOSTS.get(name)
    if entry is None:
        return ""
    commands = entry[1] or ("sbatch", "qsub", "bsub")
    missing = [c for c in commands if not shutil.which(c)]
    return f"; {', '.join(missing)} not found on this machine's PATH ({os.environ.get('PATH', '')})"


@attrs.frozen
class Config:
    """Everything read from the configuration files."""

    hosts: Mapping[str, HostConfig] = attrs.field(factory=dict)
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    types: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    schedulers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    """``[schedulers.NAME]`` settings (see :func:`jobledger.schedulers.registry.check_settings`)."""
    sources: tuple[str, ...] = ()
    scheduler_sources: Mapping[str, str] = attrs.field(factory=dict)
    """``[schedulers.NAME]`` -> the file that set it."""

    def host(self, name: str) -> HostConfig:
        """The host called ``name`` (``local`` always exists)."""
        found = self.hosts.get(name)
        if found is not None:
            return found
        if name == "local":
            return LOCAL_HOST
        registered = _REGISTERED.get(name)
        if registered is not None:
            return registered
        implicit = implicit_host(name)
        if implicit is not None:
            return implicit
        known = ", ".join(sorted({"local", *self.hosts, *_REGISTERED, *self.implicit_hosts()}))
        where = " or ".join(self.sources) if self.sources else "no configuration file found"
        raise ConfigError(
            f"unknown host alias {name!r}{_probed(name)}; known hosts: {known} (configure "
            f"[hosts.{name}] in jobledger.toml; read: {where})"
        )

    def implicit_hosts(self) -> dict[str, HostConfig]:
        """The implicit hosts usable here that no ``[hosts]`` table overrides."""
        out = {}
        for name in IMPLICIT_HOSTS:
            if name not in self.hosts:
                found = implicit_host(name)
                if found is not None:
                    out[name] = found
        return out

    def type_preset(self, name: str) -> dict[str, Any]:
        """``[defaults]`` merged with ``[types.NAME]`` (or ``[tools.NAME]``)."""
        if name not in self.types:
            known = ", ".join(sorted(self.types)) or "none"
            raise ConfigError(f"no [types.{name}] or [tools.{name}] in the configuration (known: {known})")
        merged = dict(self.defaults)
        merged.update(self.types[name])
        return merged


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, naming it in any error."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}): TOML must be UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_config(project_root: Path | None = None, extra: Path | None = None) -> Config:
    """Read the user's file, then the project's (project wins), then ``extra`` if given."""
    layers: list[tuple[Path, dict[str, Any]]] = []
    user = Path(os.environ.get("JOBLEDGER_USER_CONFIG", str(USER_CONFIG))).expanduser()
    candidates = [user]
    if project_root is not None:
        candidates.append(project_root / "jobledger.toml")
    if extra is not None:
        candidates.append(extra)
    for path in candidates:
        if path.is_file():
            layers.append((path, read_toml(path)))
        elif path.exists():
            raise ConfigError(f"{path}: is a directory or a special file, not a TOML file (remove it)")
    merged: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for path, data in layers:
        _check_top(path, data)
        _note_origin(origin, (), data, str(path))
        merged = _deep_merge(merged, data)
    return _build(merged, origin, tuple(str(p) for p, _ in layers))


def _note_origin(
    origin: dict[tuple[str, ...], str], prefix: tuple[str, ...], data: Mapping[str, Any], path: str
) -> None:
    for key, value in data.items():
        where = (*prefix, key)
        origin[where] = path
        if isinstance(value, Mapping):
            _note_origin(origin, where, value, path)


def _check_top(path: Path, data: Mapping[str, Any]) -> None:
    allowed = {"defaults", "types", "tools", "hosts", "schedulers", "project"}
    for key, value in data.items():
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown top-level table or key {key!r} (use {', '.join(sorted(allowed))})"
            )
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: {key} = {value!r}: [{key}] must be a table")
        if key in ("types", "tools", "hosts", "schedulers"):
            for name, table in value.items():
                if not isinstance(table, Mapping):
                    raise ConfigError(f"{path}: [{key}] {name} = {table!r}: [{key}.{name}] must be a table")


def _where(origin: Mapping[tuple[str, ...], str], *path: str) -> str:
    for cut in range(len(path), 0, -1):
        if path[:cut] in origin:
            return origin[path[:cut]]
    return "configuration"


def _fail(origin: Mapping[tuple[str, ...], str], table: str, key: str, message: str) -> ConfigError:
    parts = tuple(table.split(".")) + ((key,) if key else ())
    return ConfigError(f"{_where(origin, *parts)}: [{table}] {key}: {message}")


def _build(
    data: Mapping[str, Any], origin: Mapping[tuple[str, ...], str], sources: tuple[str, ...]
) -> Config:
    defaults = dict(data.get("defaults", {}))
    _check_job_table(defaults, "defaults", origin)
    types: dict[str, dict[str, Any]] = {}
    for section in ("types", "tools"):
        for name, table in dict(data.get(section, {})).items():
            if not isinstance(table, Mapping):
                raise _fail(origin, section, name, "must be a table")
            _check_job_table(table, f"{section}.{name}", origin)
            types[name] = dict(table)
    hosts = {}
    for name, table in dict(data.get("hosts", {})).items():
        if not isinstance(table, Mapping):
            raise _fail(origin, "hosts", name, "must be a table")
        try:
            check_name(name, "host name")
        except ModelError as exc:
            raise _fail(origin, "hosts", repr(name), str(exc)) from None
        values = host_values(name, table, lambda t, k, m: _fail(origin, t, k, m))
        hosts[name] = HostConfig(**values, source=_where(origin, "hosts", name))
    schedulers = {
        k: scheduler_settings(k, v, lambda t, key, m: _fail(origin, t, key, m))
        for k, v in dict(data.get("schedulers", {})).items()
    }
    where = {name: _where(origin, "schedulers", name) for name in schedulers}
    return Config(hosts, defaults, types, schedulers, sources, where)


def _check_job_table(table: Mapping[str, Any], where: str, origin: Mapping[tuple[str, ...], str]) -> None:
    job_table(table, where, lambda t, k, m: _fail(origin, t, k, m))
