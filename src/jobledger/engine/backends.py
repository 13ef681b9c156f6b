"""The hosts a driver uses: the project's configuration (read again when one of its
files changed) and the backend made for each host alias."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from jobledger.config import IMPLICIT, USER_CONFIG, Config, load_config
from jobledger.engine.backend import Backend
from jobledger.errors import ConfigError
from jobledger.project import Project
from jobledger.schedulers.registry import check_settings


class ConfigFiles:
    """The configuration of ``project``, read again when one of its files changed
    (looked at no more than every 2 s)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._config: Config | None = None
        self._stamp: tuple[float, ...] = ()
        self._checked = 0.0

    def current(self) -> Config:
        """The configuration as the files say now."""
        now = time.monotonic()
        if self._config is not None and now - self._checked < 2.0:
            return self._config
        self._checked = now
        stamp = tuple(_mtime(p) for p in self.files())
        if self._config is None or stamp != self._stamp:
            config = load_config(self.project.root)
            check_settings(config)
            self._config = config
            self._stamp = stamp
        return self._config

    def files(self) -> list[Path]:
        """The user's and the project's configuration files."""
        user = Path(os.environ.get("JOBLEDGER_USER_CONFIG", str(USER_CONFIG))).expanduser()
        return [user, self.project.config_path]


def make_backend(
    project: Project, config: Config, alias: str, max_parallel: int | None, on_start: Callable[[], None]
) -> Backend:
    """The backend of host ``alias``: local processes here, or a batch scheduler here or
    over SSH. An implicit host whose scheduler is not the one found here is refused."""
    host = config.host(alias)
    if host.scheduler == "local" and not host.is_remote:
        from jobledger.engine.local_backend import LocalBackend

        return LocalBackend(project.root, host, project.markers_dir, max_parallel, on_start=on_start)
    if host.scheduler == "local":
        raise ConfigError(
            f"host {alias!r}: scheduler 'local' over SSH is not supported; "
            "use a batch scheduler on remote hosts"
        )
    from jobledger.engine.batch_backend import BatchBackend
    from jobledger.hosts.factory import make_host
    from jobledger.schedulers.base import Template
    from jobledger.schedulers.detect import available, resolve_adapter

    machine = make_host(host)
    template = None
    if host.template:
        template = Template(
            header=host.template.get("header", "#!/bin/bash"), epilogue=host.template.get("epilogue", "")
        )
    if host.source.startswith(IMPLICIT) and host.scheduler != "auto":
        here = available(machine)
        if host.scheduler not in here:
            raise ConfigError(
                f"host {alias!r}: {host.source[len(IMPLICIT) :]}, but it is not {host.scheduler}'s "
                f"(found here: {', '.join(here) or 'none'}); configure [hosts.{alias}] in jobledger.toml"
            )
    adapter = resolve_adapter(host, machine, template, config.schedulers)
    return BatchBackend(project.root, host, machine, adapter)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
