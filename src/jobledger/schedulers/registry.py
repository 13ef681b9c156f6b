"""Explicit, lazy registry of scheduler adapters: name -> dotted path (nothing scanned)."""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from jobledger.config_values import SCHEDULER_NAMES
from jobledger.errors import ConfigError

if TYPE_CHECKING:
    from jobledger.config import Config
    from jobledger.schedulers.base import SchedulerAdapter, Template

ADAPTERS: dict[str, str] = {
    "slurm": "jobledger.schedulers.slurm:SlurmAdapter",
    "sge": "jobledger.schedulers.sge:SgeAdapter",
    "pbs": "jobledger.schedulers.pbs:PbsAdapter",
    "torque": "jobledger.schedulers.pbs:TorqueAdapter",
    "lsf": "jobledger.schedulers.lsf:LsfAdapter",
}

assert ("local", *ADAPTERS) == SCHEDULER_NAMES, "config_values.SCHEDULER_NAMES lists every adapter"


def check_settings(config: Config) -> None:
    """Every ``[schedulers.NAME]`` table's settings are ones its adapter takes, of the type
    it takes; else a :class:`~jobledger.errors.ConfigError` naming file, table and key."""
    for name, settings in config.schedulers.items():
        where = config.scheduler_sources.get(name, "configuration")
        table = f"[schedulers.{name}]"
        cls = _adapter_class(name)
        params = inspect.signature(cls.__init__).parameters
        for key, value in settings.items():
            param = params.get(key)
            if param is None or param.kind is not param.KEYWORD_ONLY:
                valid = ", ".join(p.name for p in params.values() if p.kind is p.KEYWORD_ONLY) or "none"
                raise ConfigError(f"{where}: {table} {key}: unknown setting (valid: {valid})")
            if isinstance(param.default, bool) != isinstance(value, bool):
                kind = "true or false" if isinstance(param.default, bool) else "a one-line string"
                raise ConfigError(f"{where}: {table} {key}: expected {kind}, got {value!r}")
        try:
            get_adapter(name, **settings)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {table}: {exc}") from None


def _adapter_class(name: str) -> Any:
    module_name, _, attr = ADAPTERS[name.lower()].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def get_adapter(name: str, template: Template | None = None, **settings: Any) -> SchedulerAdapter:
    """Instantiate the adapter registered as ``name`` with its ``settings`` (the keyword
    arguments its constructor takes, e.g. SGE's ``parallel_environment``); an unknown
    setting is a :class:`~jobledger.errors.ConfigError` naming the valid ones."""
    try:
        target = ADAPTERS[name.lower()]
    except KeyError:
        valid = ", ".join(SCHEDULER_NAMES)
        raise ConfigError(f"unknown scheduler {name!r}; valid names: {valid}") from None
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    accepted = {
        p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY
    }
    unknown = sorted(set(settings) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted)) or "none"
        raise ConfigError(f"[schedulers.{name}]: unknown setting(s) {', '.join(unknown)} (valid: {valid})")
    return cls(template, **settings)  # type: ignore[no-any-return]
