"""Build the :class:`~jobledger.hosts.base.Host` a host configuration describes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobledger.hosts.base import Host
from jobledger.hosts.local import LocalHost

if TYPE_CHECKING:
    from jobledger.config import HostConfig


def make_host(config: HostConfig) -> Host:
    """A local host, or an SSH host reusing one connection for every command."""
    if not config.is_remote:
        return LocalHost(config.name)
    from jobledger.hosts.ssh import SshHost

    return SshHost(config)
