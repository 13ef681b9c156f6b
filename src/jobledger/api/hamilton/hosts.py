"""Which jobledger host a Hamilton-HPC-Orchestra ``(cluster_name, cluster_type, options)``
means, and the clusters registered in code (``submit.CLUSTERS``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import attrs

from jobledger.config import IMPLICIT_HOSTS, implicit_host, load_config, register_host
from jobledger.errors import ConfigError
from jobledger.session.selection import project_for


@attrs.frozen
class Cluster:
    """A cluster registered in code on first use: ``@submit("hpc1", "slurm", {...})``."""

    name: str
    type: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)


#: Clusters registered by this process, by name (Hamilton-HPC-Orchestra's ``CLUSTERS``).
CLUSTERS: dict[str, Cluster] = {}


def register_cluster(name: str, cluster_type: str | None, options: Mapping[str, Any] | None) -> Cluster:
    """Register cluster ``name`` on first use; later uses name it alone and get it back.

    ``options`` are the keys of a ``[hosts.NAME]`` table (``host``/``ssh``, ``user``,
    ``port``, ``identity_file``, ``workdir``, ``python`` ...): with them the cluster is a
    host of its own (over SSH when ``host`` is given). A second registration that
    contradicts the first is an error naming both.
    """
    known = CLUSTERS.get(name)
    if known is not None and known.type is None and not known.options:
        known = None  # named before without a type: this use says what it is
    if known is not None:
        clash = (cluster_type is not None and cluster_type != known.type) or (
            options and dict(options) != dict(known.options)
        )
        if clash:
            raise ConfigError(
                f"cluster {name!r} is registered as {known.type or 'a configured host'} "
                f"with options {dict(known.options)}; not as {cluster_type} with {dict(options or {})}"
            )
        return known
    cluster = Cluster(name, cluster_type, dict(options or {}))
    if cluster.options:
        table = {"scheduler": cluster_type or "auto", **cluster.options}
        register_host(name, table, source=f"registered in code by submit({name!r}, {cluster_type!r}, ...)")
    CLUSTERS[name] = cluster
    return cluster


def _scheduler_of(alias: str, project: Any) -> str:
    if alias == "local":
        return "local"
    proj = project_for(project, create=True)
    return load_config(proj.root).host(alias).scheduler


def resolve_host(cluster_name: str | None, cluster_type: str | None, project: Any = None) -> str:
    """The jobledger host alias for Hamilton-HPC-Orchestra's ``(cluster_name, cluster_type)``.

    A configured ``[hosts.NAME]`` wins (its scheduler must match ``cluster_type`` when
    given); ``"local"`` (name or type) is this machine; a cluster registered with options
    is its own host; otherwise the one configured host whose scheduler is
    ``cluster_type``, else that scheduler on this machine (``sbatch`` on the PATH: no
    configuration needed). A name registered earlier (``submit("hpc1", "slurm")``) may be
    given alone.
    """
    if cluster_name is not None and cluster_type is None and cluster_name in CLUSTERS:
        cluster_type = CLUSTERS[cluster_name].type
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
    registered = CLUSTERS.get(cluster_name)
    if cluster_type is None or (registered is not None and registered.options):
        config.host(cluster_name)  # a host registered in code, or the usual "unknown host alias" error
        return cluster_name
    if cluster_type == "local":
        return "local"
    matching = sorted(n for n, h in config.hosts.items() if h.scheduler == cluster_type)
    if cluster_type in config.hosts and config.hosts[cluster_type].scheduler == cluster_type:
        return cluster_type
    if len(matching) == 1:
        return matching[0]
    if not matching and implicit_host(cluster_type) is not None:
        return cluster_type  # the scheduler of this machine, as the seed submits to it
    hint = (
        f"one of {', '.join(matching)}"
        if matching
        else f'[hosts.{cluster_name}] scheduler = "{cluster_type}"'
    )
    raise ConfigError(
        f"cluster {cluster_name!r} ({cluster_type}): not configured{_probed(cluster_type, matching)}; "
        f"name {hint} in jobledger.toml, or pass the cluster's options: "
        f"submit({cluster_name!r}, {cluster_type!r}, {{'host': 'login.example.org'}})"
    )


def _probed(cluster_type: str, matching: list[str]) -> str:
    entry = IMPLICIT_HOSTS.get(cluster_type)
    if matching or entry is None or not entry[1]:
        return ""
    missing = [c for c in entry[1] if shutil.which(c) is None]
    return f", and {', '.join(missing)} not found on this machine's PATH ({os.environ.get('PATH', '')})"
