"""Which jobledger host alias a Hamilton-HPC-Orchestra ``(cluster_name, cluster_type)`` means."""

from __future__ import annotations

from typing import Any

from jobledger.config import load_config
from jobledger.errors import ConfigError
from jobledger.session.selection import project_for


def _scheduler_of(alias: str, project: Any) -> str:
    if alias == "local":
        return "local"
    proj = project_for(project, create=True)
    return load_config(proj.root).host(alias).scheduler


def resolve_host(cluster_name: str | None, cluster_type: str | None, project: Any = None) -> str:
    """The jobledger host alias for Hamilton-HPC-Orchestra's ``(cluster_name, cluster_type)``.

    A configured ``[hosts.NAME]`` wins (its scheduler must match ``cluster_type`` when
    given); ``"local"`` (name or type) is this machine; otherwise the one host whose
    scheduler is ``cluster_type``.
    """
    if cluster_name is None or cluster_name == "local":
        if cluster_type not in (None, "local"):
            return resolve_host(cluster_type, cluster_type, project)
        return "local"
    proj = project_for(project, create=True)
    config = load_config(proj.root)
    found = config.hosts.get(cluster_name)
    if found is not None:
        if cluster_type is not None and cluster_type != found.scheduler:
            raise ConfigError(
                f"cluster {cluster_name!r} is a {found.scheduler} host in jobledger.toml, "
                f"not {cluster_type!r}"
            )
        return cluster_name
    if cluster_type is None:
        config.host(cluster_name)  # raises the usual "unknown host alias" error
        return cluster_name
    if cluster_type == "local":
        return "local"
    matching = sorted(n for n, h in config.hosts.items() if h.scheduler == cluster_type)
    if cluster_type in config.hosts and config.hosts[cluster_type].scheduler == cluster_type:
        return cluster_type
    if len(matching) == 1:
        return matching[0]
    hint = (
        f"one of {', '.join(matching)}"
        if matching
        else f'[hosts.{cluster_name}] scheduler = "{cluster_type}"'
    )
    raise ConfigError(
        f"cluster {cluster_name!r} ({cluster_type}): not configured; name {hint} in jobledger.toml"
    )
