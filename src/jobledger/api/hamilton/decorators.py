"""The :class:`submit` decorator: a generator function yields its job's dict and gets a :class:`JobInfo`."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any

from jobledger.api.hamilton.hosts import CLUSTERS, register_cluster, resolve_host
from jobledger.api.hamilton.info import JobInfo
from jobledger.api.hamilton.jobs import job_from_config
from jobledger.api.hamilton.monitor import Monitor
from jobledger.api.hamilton.submission import submit_job


def _drive_generator(func: Callable[..., Any], args: Any, kwargs: Any, act: Callable[[Any], Any]) -> Any:
    generator = func(*args, **kwargs)
    try:
        config = next(generator)
    except StopIteration as stop_:
        return stop_.value  # returned without yielding (e.g. a cached shortcut)
    if not isinstance(config, Mapping):
        generator.close()
        raise TypeError(f"{func.__name__} must yield a dict describing its job, not {config!r}")
    outcome = act(config)
    try:
        generator.send(outcome)
    except StopIteration as stop_:
        return stop_.value
    generator.close()
    raise ValueError(f"{func.__name__}: a submitted function yields exactly once")


class submit:  # noqa: N801 - Hamilton-HPC-Orchestra's name
    """Decorator: the generator function yields its job's dict and gets a :class:`JobInfo`.

    ``cluster_name`` is the default host. The first ``submit("hpc1", "slurm")`` registers
    cluster ``hpc1`` in code, as Hamilton-HPC-Orchestra does (:data:`CLUSTERS`), and
    ``submit("hpc1")`` reuses it afterwards: with no ``[hosts.hpc1]`` in jobledger.toml its
    jobs go to the ``slurm`` of this machine (``sbatch`` on the PATH), or to the one
    configured host of that type. ``options`` (the seed's third argument) are the keys of
    a ``[hosts.NAME]`` table, e.g. ``{"host": "login.hpc1.org", "user": "me"}`` for a
    cluster reached over SSH. ``"local"`` is this machine. Each call may choose another
    host with the ``host`` key.
    """

    CLUSTERS = CLUSTERS

    def __init__(
        self,
        cluster_name: str | None = None,
        cluster_type: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        project: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.cluster_name = cluster_name
        if cluster_name is not None and cluster_name != "local":
            cluster_type = register_cluster(cluster_name, cluster_type, options).type or cluster_type
        self.cluster_type = cluster_type
        self.project = project
        self.timeout = timeout

    @classmethod
    def get_n_clusters(cls) -> int:
        """How many clusters this process registered."""
        return len(CLUSTERS)

    @property
    def host(self) -> str:
        """The default host alias (resolved against jobledger.toml now)."""
        return resolve_host(self.cluster_name, self.cluster_type, self.project)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isgeneratorfunction(func):
            raise TypeError(
                f"function {getattr(func, '__name__', func)!r} submitted to "
                f"{self.cluster_name or 'a cluster'} must be a generator function "
                "(that yields the job's dict)"
            )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _drive_generator(func, args, kwargs, lambda cfg: self.submit(cfg, func.__name__))

        wrapper.__annotations__ = {**getattr(func, "__annotations__", {})}
        wrapper.__annotations__["return"] = inspect.signature(func).return_annotation
        wrapper.__jobledger_submit__ = self  # type: ignore[attr-defined]
        return wrapper

    def submit(self, config: Mapping[str, Any], default_name: str = "job") -> JobInfo:
        """Submit the job a yielded ``config`` describes (what the decorator does)."""
        job, control = job_from_config(
            config, default_name=default_name, default_host=self.host, project=self.project
        )
        return submit_job(job, project=self.project, timeout=self.timeout, **control)

    @property
    def monitor(self) -> Monitor:
        """Follow the jobs of this decorator's host."""
        return Monitor(self.host, self.project)

    def __repr__(self) -> str:
        return f"submit({self.cluster_name!r}, {self.cluster_type!r})"
