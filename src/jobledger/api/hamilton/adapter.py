"""Apache Hamilton: :func:`hamilton_adapter` runs tagged nodes as jobledger jobs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from jobledger.api.hamilton.jobs import portable
from jobledger.api.hamilton.submission import submit_job
from jobledger.model.job import Job


def _node_job(
    node_name: str,
    tags: Mapping[str, Any],
    node_callable: Callable[..., Any],
    node_kwargs: Mapping[str, Any],
    prefix: str,
    default_host: str | None,
    options: Mapping[str, Any],
) -> Job | None:
    host = tags.get(f"{prefix}host") or default_host
    if host is None or getattr(node_callable, "__jobledger_submit__", None) is not None:
        return None
    resources = dict(options)
    for key, value in tags.items():
        if key.startswith(prefix) and key != f"{prefix}host":
            resources[key[len(prefix) :]] = value
    func, env = portable(node_callable)
    if env:
        resources["env"] = {**env, **dict(resources.get("env") or {})}
    return Job(func, name=node_name, kwargs=dict(node_kwargs), host=str(host), **resources)


def hamilton_adapter(
    default_host: str | None = None,
    *,
    tag_prefix: str = "jobledger.",
    project: str | os.PathLike[str] | None = None,
    **job_options: Any,
) -> Any:
    """An Apache Hamilton lifecycle adapter that runs nodes as jobledger jobs.

    A node tagged ``@tag(**{"jobledger.host": "slurm"})`` (other ``jobledger.*`` tags are
    job options: ``jobledger.cpus``, ``jobledger.memory``, ``jobledger.time``,
    ``jobledger.partition`` ...) runs as a Python-call job on that host and the driver
    waits for its value; with ``default_host`` every untagged node does too. Nodes
    decorated with :class:`submit` run in the driver's process (they submit their own
    jobs). Needs the ``hamilton`` extra::

        dr = driver.Builder().with_modules(logic).with_adapters(hamilton_adapter()).build()
    """
    try:
        from hamilton.lifecycle import api as hamilton_api
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError(
            "hamilton_adapter needs Apache Hamilton: pip install 'jobledger[hamilton]'"
        ) from exc

    class JobledgerNodeExecutor(hamilton_api.NodeExecutionMethod):  # type: ignore[misc]
        """Runs tagged Hamilton nodes as jobledger jobs."""

        def run_to_execute_node(
            self,
            *,
            node_name: str,
            node_tags: dict[str, Any],
            node_callable: Any,
            node_kwargs: dict[str, Any],
            task_id: str | None = None,
            is_expand: bool = False,
            is_collect: bool = False,
            **future_kwargs: Any,
        ) -> Any:
            job = _node_job(
                node_name,
                node_tags,
                node_callable,
                node_kwargs,
                tag_prefix,
                default_host,
                job_options,
            )
            if job is None or is_expand or is_collect:
                return node_callable(**node_kwargs)
            info = submit_job(job, block=True, project=project)
            result = info.result
            if not result.ok:
                from jobledger.errors import JobFailedError

                detail = result.error.get("message") if result.error else result.reason
                raise JobFailedError(f"Hamilton node {node_name!r} failed on {job.host}: {detail}")
            return result.value

    return JobledgerNodeExecutor()


def is_submitted(func: Callable[..., Any]) -> bool:
    """True for a function decorated with :class:`submit`."""
    return getattr(func, "__jobledger_submit__", None) is not None


def hamilton_available() -> bool:
    """True when Apache Hamilton can be imported."""
    try:
        import hamilton  # noqa: F401
    except ImportError:
        return False
    return True
