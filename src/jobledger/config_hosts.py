"""The hosts a configuration knows: :class:`HostConfig` (one ``[hosts.NAME]`` table,
validated), the ``local`` host, the implicit hosts (a scheduler's commands found on this
machine's PATH) and the hosts registered in code for this process (:func:`register_host`).

:mod:`jobledger.config` looks hosts up here after the ``[hosts]`` tables of the files.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import attrs

from jobledger.config_values import host_values
from jobledger.errors import ConfigError, ModelError
from jobledger.model.names import check_name
from jobledger.model.resources import Resources


@attrs.frozen
class HostConfig:
    """One ``[hosts.NAME]`` table, validated."""

    name: str
    ssh: str | None = None
    port: int | None = None
    identity_file: str | None = None
    ssh_config: str | None = None
    ssh_options: tuple[str, ...] = ()
    scheduler: str = "local"
    workdir: str | None = None
    python: str | None = None
    max_in_flight: int | None = None
    max_parallel: int | None = None
    setup: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    resources: Resources = Resources()
    limits: Resources | None = None
    retry: Mapping[str, Any] = attrs.field(factory=dict)
    template: Mapping[str, str] = attrs.field(factory=dict)
    accounting: str = "auto"
    poll_interval: float | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 120.0
    flavor: str | None = None
    parallel_environment: str | None = None
    source: str = ""

    @property
    def is_remote(self) -> bool:
        """True when commands go over SSH."""
        return self.ssh is not None


LOCAL_HOST = HostConfig(name="local")

#: How the ``source`` of an implicit host begins.
IMPLICIT = "implicit: "
#: Hosts that exist without a configuration file when the scheduler's commands are on this
#: machine's PATH: the name, the scheduler, and the commands that must be found.
IMPLICIT_HOSTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "slurm": ("slurm", ("sbatch", "squeue")),
    "sge": ("sge", ("qsub", "qstat")),
    "pbs": ("pbs", ("qsub", "qstat")),
    "torque": ("torque", ("qsub", "qstat")),
    "lsf": ("lsf", ("bsub", "bjobs")),
    "cluster": ("auto", ()),
}


def implicit_host(name: str) -> HostConfig | None:
    """The implicit host ``name`` when this machine can reach its scheduler, else ``None``.

    ``slurm``, ``sge``, ``pbs``, ``torque`` and ``lsf`` submit to that scheduler on this
    machine; ``cluster`` to whichever one is here (``sbatch``, ``qsub`` or ``bsub`` found on
    the PATH, told apart like ``scheduler = "auto"``). A ``[hosts.NAME]`` table overrides it.
    """
    entry = IMPLICIT_HOSTS.get(name)
    if entry is None:
        return None
    scheduler, commands = entry
    if name == "cluster":
        found = next((c for c in ("sbatch", "qsub", "bsub") if shutil.which(c)), None)
        if found is None:
            return None
        return HostConfig(
            name=name, scheduler=scheduler, source=f"{IMPLICIT}{found} is on this machine's PATH"
        )
    if not all(shutil.which(c) for c in commands):
        return None
    return HostConfig(
        name=name, scheduler=scheduler, source=f"{IMPLICIT}{commands[0]} is on this machine's PATH"
    )


#: Hosts this process registered in code (:func:`register_host`), by name.
_REGISTERED: dict[str, HostConfig] = {}


def register_host(name: str, table: Mapping[str, Any], source: str) -> HostConfig:
    """Register host ``name`` for this process from ``table`` (the keys of a ``[hosts.NAME]``
    table, checked alike; ``source`` says who). A ``[hosts.NAME]`` table wins over it, it
    wins over an implicit host; other processes know it only from ``jobledger.toml``."""
    try:
        check_name(name, "host name")
    except ModelError as exc:
        raise ConfigError(f"{source}: host {name!r}: {exc}") from None
    values = host_values(name, table, lambda t, k, m: ConfigError(f"{source}: [{t}] {k}: {m}"))
    host = HostConfig(**values, source=source)
    _REGISTERED[name] = host
    return host
