"""jobledger: workflows of HPC jobs, recorded in an append-only, hashed, mergeable ledger.

The public names below load on first use (:pep:`562` module ``__getattr__``): ``import
jobledger`` costs next to nothing, so a sweep run that only calls :func:`get_run_params`
does not load the engine, the views or their dependencies.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it so)
if TYPE_CHECKING:
    from typing import Any

    from jobledger.api.aio import (
        arun,
        as_completed,
        await_,
        check_async,
        fetch_async,
        run_async,
        stop_async,
        update_async,
        wait_async,
    )
    from jobledger.api.awflow import (
        AwflowJob,
        DependencyNeverSatisfiedException,
        JobException,
        after,
        available_backends,
        disable,
        ensure,
        job,
        leafs,
        roots,
        schedule,
        terminal_nodes,
        waitfor,
    )
    from jobledger.api.hamilton import JobInfo, cmdline, hamilton_adapter, submit
    from jobledger.api.hpcrunner import (
        ArrayJobResult,
        JobArray,
        JobResult,
        JobStatus,
        Pipeline,
        PipelineError,
        get_config,
        get_scheduler,
        job_from_config,
        list_schedulers,
        register_scheduler,
        reload_config,
        submit_job,
    )
    from jobledger.api.multirun import (
        AbstractRunner,
        ClusterRunner,
        FileLinkage,
        FileResource,
        ParallelLocalRunner,
        ParamMap,
        ParamValue,
        Run,
        RunStatistics,
        RunStatus,
        SweepResult,
        display_status,
        displayStatus,
        fetch_runs,
        get_run_params,
        getRunParams,
        multirun,
        multirun_async,
        multirunAsync,
        post_run_results,
        postRunResults,
    )
    from jobledger.api.verbs import RunHandle, WaitTimeout, check, fetch, init, retry, run, stop, update, wait
    from jobledger.errors import (
        CommandFailed,
        ConfigError,
        ConnectionFailed,
        CorruptRecordError,
        CycleError,
        DuplicateJobError,
        HashingError,
        HostError,
        JobFailedError,
        JobledgerError,
        LedgerError,
        LockError,
        ModelError,
        ProjectError,
        ResourceError,
        SchedulerError,
        SubmitError,
        UnknownDependencyError,
        UnsupportedResource,
    )
    from jobledger.model import (
        ArraySpec,
        Backoff,
        Dependency,
        Job,
        Resources,
        RetryPolicy,
        Task,
        Workflow,
    )
    from jobledger.project import Project
    from jobledger.session.results import Result
    from jobledger.states import JobState
    from jobledger.view.report import StatusReport, status
del TYPE_CHECKING

from jobledger.version import __version__  # noqa: E402 (after the TYPE_CHECKING block)

#: Module -> the public names it provides (loaded on first access).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "jobledger.api.aio": (
        "arun",
        "as_completed",
        "await_",
        "check_async",
        "fetch_async",
        "run_async",
        "stop_async",
        "update_async",
        "wait_async",
    ),
    "jobledger.api.awflow": (
        "AwflowJob",
        "DependencyNeverSatisfiedException",
        "JobException",
        "after",
        "available_backends",
        "disable",
        "ensure",
        "job",
        "leafs",
        "roots",
        "schedule",
        "terminal_nodes",
        "waitfor",
    ),
    "jobledger.api.hamilton": (
        "JobInfo",
        "cmdline",
        "hamilton_adapter",
        "submit",
    ),
    "jobledger.api.hpcrunner": (
        "ArrayJobResult",
        "JobArray",
        "JobResult",
        "JobStatus",
        "Pipeline",
        "PipelineError",
        "get_config",
        "get_scheduler",
        "job_from_config",
        "list_schedulers",
        "register_scheduler",
        "reload_config",
        "submit_job",
    ),
    "jobledger.api.multirun": (
        "AbstractRunner",
        "ClusterRunner",
        "FileLinkage",
        "FileResource",
        "ParallelLocalRunner",
        "ParamMap",
        "ParamValue",
        "Run",
        "RunStatistics",
        "RunStatus",
        "SweepResult",
        "display_status",
        "displayStatus",
        "fetch_runs",
        "get_run_params",
        "getRunParams",
        "multirun",
        "multirun_async",
        "multirunAsync",
        "post_run_results",
        "postRunResults",
    ),
    "jobledger.api.verbs": (
        "RunHandle",
        "WaitTimeout",
        "check",
        "fetch",
        "init",
        "retry",
        "run",
        "stop",
        "update",
        "wait",
    ),
    "jobledger.errors": (
        "CommandFailed",
        "ConfigError",
        "ConnectionFailed",
        "CorruptRecordError",
        "CycleError",
        "DuplicateJobError",
        "HashingError",
        "HostError",
        "JobFailedError",
        "JobledgerError",
        "LedgerError",
        "LockError",
        "ModelError",
        "ProjectError",
        "ResourceError",
        "SchedulerError",
        "SubmitError",
        "UnknownDependencyError",
        "UnsupportedResource",
    ),
    "jobledger.model": (
        "ArraySpec",
        "Backoff",
        "Dependency",
        "Job",
        "Resources",
        "RetryPolicy",
        "Task",
        "Workflow",
    ),
    "jobledger.project": ("Project",),
    "jobledger.session.results": ("Result",),
    "jobledger.states": ("JobState",),
    "jobledger.view.report": (
        "StatusReport",
        "status",
    ),
}
_WHERE: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a public name (or a subpackage such as ``jobledger.api``) on first access."""
    import importlib

    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AbstractRunner",
    "ArrayJobResult",
    "ArraySpec",
    "AwflowJob",
    "Backoff",
    "ClusterRunner",
    "CommandFailed",
    "ConfigError",
    "ConnectionFailed",
    "CorruptRecordError",
    "CycleError",
    "Dependency",
    "DependencyNeverSatisfiedException",
    "DuplicateJobError",
    "FileLinkage",
    "FileResource",
    "HashingError",
    "HostError",
    "Job",
    "JobArray",
    "JobException",
    "JobFailedError",
    "JobInfo",
    "JobResult",
    "JobState",
    "JobStatus",
    "JobledgerError",
    "LedgerError",
    "LockError",
    "ModelError",
    "ParallelLocalRunner",
    "ParamMap",
    "ParamValue",
    "Pipeline",
    "PipelineError",
    "Project",
    "ProjectError",
    "ResourceError",
    "Resources",
    "Result",
    "RetryPolicy",
    "Run",
    "RunHandle",
    "RunStatistics",
    "RunStatus",
    "SchedulerError",
    "StatusReport",
    "SubmitError",
    "SweepResult",
    "Task",
    "UnknownDependencyError",
    "UnsupportedResource",
    "WaitTimeout",
    "Workflow",
    "__version__",
    "after",
    "arun",
    "as_completed",
    "available_backends",
    "await_",
    "check",
    "check_async",
    "cmdline",
    "disable",
    "displayStatus",
    "display_status",
    "ensure",
    "fetch",
    "fetch_async",
    "fetch_runs",
    "getRunParams",
    "get_config",
    "get_run_params",
    "get_scheduler",
    "hamilton_adapter",
    "init",
    "job",
    "job_from_config",
    "leafs",
    "list_schedulers",
    "multirun",
    "multirunAsync",
    "multirun_async",
    "postRunResults",
    "post_run_results",
    "register_scheduler",
    "reload_config",
    "retry",
    "roots",
    "run",
    "run_async",
    "schedule",
    "status",
    "stop",
    "stop_async",
    "submit",
    "submit_job",
    "terminal_nodes",
    "update",
    "update_async",
    "wait",
    "wait_async",
    "waitfor",
]
