"""The Karana ``multirun`` face: parameter sweeps as ONE jobledger array job.

::

    from jobledger import multirun, FileResource, ParallelLocalRunner, ClusterRunner

    runs = [{"alpha": a, "seed": s} for a in (0.1, 0.2) for s in range(25)]
    records = multirun(
        runs=runs,
        cmd=["python", "simulate.py"],
        output_path="sweep",
        input_files=["mesh.h5", FileResource("table.csv", linkage="copy")],
        runner=ClusterRunner("slurm", max_parallel=20, time="1h"),
    )
    for rec in records:
        print(rec.params, rec.status, rec.result, rec.run_dir)

and inside ``simulate.py``::

    from jobledger import get_run_params, post_run_results
    params = get_run_params()
    post_run_results({"energy": run(params["alpha"])})

Layout of ``output_path``::

    multirun.json           manifest: the command and every run (index, folder, digest)
    shared/<name>           the one copy of each ``linkage="shared"`` input
    0000-1a2b3c4d/          one folder per run: ``<index>-<parameter digest>``
      params.json           that run's parameters (``params.pkl`` when not JSON-able)
      results.pkl           what the run posted with ``post_run_results``
      run_inputs.txt        digest of the input files the run used
      run_status.json       ``{"exit_code": N}``, written when the command ended
      jobledger.stdout      links to the run's stdout/stderr in the project's run folder
      jobledger.stderr

How it runs: the runs that still need to run become **one array job** whose index *i*
``cd``s into run *i*'s folder (a ``case`` table inside the job's command) and runs
``cmd`` there. On a cluster that is a single ``sbatch --array`` (or ``qsub -t``, ``bsub
-J name[..]``); locally each index is its own process, at most ``max_parallel`` at once.
Nothing but :class:`~jobledger.Job`/:class:`~jobledger.Workflow` objects and the session
(``Session.run``, ``Session.wait``, ``Session.cancel``) are used.

Reuse: a run whose folder already holds ``run_status.json`` with exit code 0, run on the
input files as they are now (``run_inputs.txt``), is **skipped**; everything else (new
runs, failed runs, runs whose folder was deleted or whose input files changed) goes into
the array of this call. The array therefore holds exactly the runs left to do: a re-run
of a finished sweep submits nothing, and appending 10 parameter sets submits an array of
those 10 (indices 50-59, so their folders keep their sweep index). The folder name
contains the parameter digest, so changing a run's parameters gives it a new folder and
it runs again. A run that an earlier call's array still runs (that call was killed) is
followed to its end, never submitted twice.

In the ledger the sweep is one workflow holding every array (*batch*) that last ran one
of its runs, so ``jobledger status`` shows the whole sweep after any re-run
(:mod:`.batches`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it so)
if TYPE_CHECKING:
    from typing import Any

    from jobledger.api.multirun.cluster import ClusterRunner, ParallelLocalRunner
    from jobledger.api.multirun.cluster import _common_parent as _common_parent
    from jobledger.api.multirun.display import display_status, displayStatus
    from jobledger.api.multirun.files import FileResource
    from jobledger.api.multirun.files import _check_names as _check_names
    from jobledger.api.multirun.files import _copy as _copy
    from jobledger.api.multirun.files import _linkage as _linkage
    from jobledger.api.multirun.files import _place_inputs as _place_inputs
    from jobledger.api.multirun.files import _place_shared as _place_shared
    from jobledger.api.multirun.files import _remove as _remove
    from jobledger.api.multirun.files import _resource as _resource
    from jobledger.api.multirun.files import _same_file as _same_file
    from jobledger.api.multirun.files import _symlink as _symlink
    from jobledger.api.multirun.folders import _default_output as _default_output
    from jobledger.api.multirun.folders import _folder as _folder
    from jobledger.api.multirun.folders import _output_dir as _output_dir
    from jobledger.api.multirun.folders import _params_digest as _params_digest
    from jobledger.api.multirun.folders import _prepare as _prepare
    from jobledger.api.multirun.folders import _write_if_changed as _write_if_changed
    from jobledger.api.multirun.folders import _write_params as _write_params
    from jobledger.api.multirun.inside import _run_dir as _run_dir
    from jobledger.api.multirun.inside import get_run_params, getRunParams, post_run_results, postRunResults
    from jobledger.api.multirun.layout import INDEX_ENV as INDEX_ENV
    from jobledger.api.multirun.layout import LINKAGES as LINKAGES
    from jobledger.api.multirun.layout import MANIFEST_FILE as MANIFEST_FILE
    from jobledger.api.multirun.layout import PARAMS_ENV as PARAMS_ENV
    from jobledger.api.multirun.layout import PARAMS_FILE as PARAMS_FILE
    from jobledger.api.multirun.layout import PARAMS_PICKLE as PARAMS_PICKLE
    from jobledger.api.multirun.layout import RESULTS_FILE as RESULTS_FILE
    from jobledger.api.multirun.layout import RUN_DIR_ENV as RUN_DIR_ENV
    from jobledger.api.multirun.layout import SHARED_DIR as SHARED_DIR
    from jobledger.api.multirun.layout import STATUS_FILE as STATUS_FILE
    from jobledger.api.multirun.layout import STDERR_LINK as STDERR_LINK
    from jobledger.api.multirun.layout import STDERR_TAIL as STDERR_TAIL
    from jobledger.api.multirun.layout import STDOUT_LINK as STDOUT_LINK
    from jobledger.api.multirun.layout import FileLinkage, ParamMap, ParamValue, RunStatus
    from jobledger.api.multirun.run_endings import _finish as _finish
    from jobledger.api.multirun.runners import AbstractRunner
    from jobledger.api.multirun.runners import _validate_job_options as _validate_job_options
    from jobledger.api.multirun.runners import sweep_workflow_name as sweep_workflow_name
    from jobledger.api.multirun.runs import Run, RunStatistics
    from jobledger.api.multirun.runs import _load_result as _load_result
    from jobledger.api.multirun.runs import _read_status as _read_status
    from jobledger.api.multirun.sweep import _T as _T
    from jobledger.api.multirun.sweep import SweepResult, fetch_runs, multirun, multirun_async, multirunAsync
    from jobledger.api.multirun.sweep import _read_params as _read_params
    from jobledger.api.multirun.sweep import _run_sync as _run_sync
    from jobledger.api.multirun.sweep import log as log
    from jobledger.api.verbs import RunHandle as RunHandle
    from jobledger.api.verbs import WaitTimeout as WaitTimeout
    from jobledger.api.verbs import fetch as fetch
    from jobledger.api.verbs import run as run
    from jobledger.api.verbs import stop as stop
    from jobledger.api.verbs import wait as wait
    from jobledger.errors import ModelError as ModelError
    from jobledger.model.hashing import canonical_hash as canonical_hash
    from jobledger.model.job import Job as Job
    from jobledger.model.names import safe_name as safe_name
    from jobledger.model.workflow import Workflow as Workflow
    from jobledger.session.results import Result as Result
    from jobledger.session.results import tail_text as tail_text
    from jobledger.session.selection import Selection as Selection
    from jobledger.session.selection import project_for as project_for
    from jobledger.states import JobState as JobState
del TYPE_CHECKING

#: Module -> the names it provides here, loaded on first access (:pep:`562`): a run's own
#: program imports :func:`get_run_params` from here without loading the engine.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "jobledger.api.multirun.cluster": (
        "ClusterRunner",
        "ParallelLocalRunner",
        "_common_parent",
    ),
    "jobledger.api.multirun.display": (
        "display_status",
        "displayStatus",
    ),
    "jobledger.api.multirun.files": (
        "FileResource",
        "_check_names",
        "_copy",
        "_linkage",
        "_place_inputs",
        "_place_shared",
        "_remove",
        "_resource",
        "_same_file",
        "_symlink",
    ),
    "jobledger.api.multirun.folders": (
        "_default_output",
        "_folder",
        "_output_dir",
        "_params_digest",
        "_prepare",
        "_write_if_changed",
        "_write_params",
    ),
    "jobledger.api.multirun.inside": (
        "_run_dir",
        "get_run_params",
        "getRunParams",
        "post_run_results",
        "postRunResults",
    ),
    "jobledger.api.multirun.layout": (
        "INDEX_ENV",
        "LINKAGES",
        "MANIFEST_FILE",
        "PARAMS_ENV",
        "PARAMS_FILE",
        "PARAMS_PICKLE",
        "RESULTS_FILE",
        "RUN_DIR_ENV",
        "SHARED_DIR",
        "STATUS_FILE",
        "STDERR_LINK",
        "STDERR_TAIL",
        "STDOUT_LINK",
        "FileLinkage",
        "ParamMap",
        "ParamValue",
        "RunStatus",
    ),
    "jobledger.api.multirun.run_endings": ("_finish",),
    "jobledger.api.multirun.runners": (
        "AbstractRunner",
        "_validate_job_options",
        "sweep_workflow_name",
    ),
    "jobledger.api.multirun.runs": (
        "Run",
        "RunStatistics",
        "_load_result",
        "_read_status",
    ),
    "jobledger.api.multirun.sweep": (
        "_T",
        "SweepResult",
        "fetch_runs",
        "multirun",
        "multirun_async",
        "multirunAsync",
        "_read_params",
        "_run_sync",
        "log",
    ),
    "jobledger.api.verbs": (
        "RunHandle",
        "WaitTimeout",
        "fetch",
        "run",
        "stop",
        "wait",
    ),
    "jobledger.errors": ("ModelError",),
    "jobledger.model.hashing": ("canonical_hash",),
    "jobledger.model.job": ("Job",),
    "jobledger.model.names": ("safe_name",),
    "jobledger.model.workflow": ("Workflow",),
    "jobledger.session.results": (
        "Result",
        "tail_text",
    ),
    "jobledger.session.selection": (
        "Selection",
        "project_for",
    ),
    "jobledger.states": ("JobState",),
}
_WHERE: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load a name on first access."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


# ``__all__`` is the public face. The other names imported above keep everything the former
# single module held importable from here: private helpers, constants and the jobledger
# names it imported (``name as name`` marks an explicit re-export).
__all__ = [
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
    "displayStatus",
    "display_status",
    "fetch_runs",
    "getRunParams",
    "get_run_params",
    "multirun",
    "multirunAsync",
    "multirun_async",
    "postRunResults",
    "post_run_results",
]
