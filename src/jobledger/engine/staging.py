"""What goes into a run directory before submission: script, task pickles, runner."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import site
import sys
import sysconfig
from importlib import resources as _resources
from typing import Any

from jobledger.errors import HashingError, ModelError
from jobledger.model.job import Job
from jobledger.model.task import Task

try:  # cloudpickle pickles closures and __main__ functions by value
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - cloudpickle is a dependency
    _pickler = pickle


@functools.lru_cache(maxsize=1)
def runner_source() -> bytes:
    """Bytes of the stand-alone Python task runner (``jl_runner.py``)."""
    return (_resources.files("jobledger.engine") / "pyrunner.py").read_bytes()


def _user_module(func: Any) -> Any:
    """The module of ``func`` when it is the user's own code (not installed, not jobledger):
    such a module may not be importable where the job runs, so it travels by value."""
    name = getattr(func, "__module__", None)
    module = sys.modules.get(name or "")
    path = getattr(module, "__file__", None)
    if module is None or not path or name == "__main__" or (name or "").split(".")[0] == "jobledger":
        return None
    resolved = os.path.realpath(path)
    installed = {os.path.realpath(p) for p in (*site.getsitepackages(), site.getusersitepackages())}
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    if resolved.startswith(stdlib) or any(resolved.startswith(p) for p in installed):
        return None
    return module


def pickle_task(job: Job, number: int, task: Task) -> bytes:
    """Pickle one Python-callable task, or raise a :class:`ModelError` naming the job.

    Functions from the user's own modules (next to the script, not installed) are pickled
    by value, so the job's Python needs only cloudpickle, not the user's files.
    """
    payload: dict[str, Any] = {
        "func": task.func,
        "args": task.args,
        "kwargs": task.kwargs,
        "pass_index": task.pass_index,
    }
    module = _user_module(task.func)
    by_value = getattr(_pickler, "register_pickle_by_value", None)
    try:
        if module is not None and by_value is not None:
            by_value(module)
            try:
                return bytes(_pickler.dumps(payload))
            finally:
                _pickler.unregister_pickle_by_value(module)
        return bytes(_pickler.dumps(payload))
    except Exception as exc:
        raise ModelError(
            f"job {job.name!r}: task {number} ({task.label}) cannot be pickled to run in "
            f"another process: {exc}"
        ) from None


def task_files(job: Job) -> dict[str, bytes]:
    """``{file name: bytes}`` of the pickles and runner a job's Python tasks need."""
    files: dict[str, bytes] = {}
    for number, task in enumerate(job.tasks):
        if task.is_python:
            files[f"task-{number}.pkl"] = pickle_task(job, number, task)
    if files:
        files["jl_runner.py"] = runner_source()
    return files


def check_picklable(job: Job) -> None:
    """Fail early (before anything is recorded) when a callable cannot be shipped."""
    for number, task in enumerate(job.tasks):
        if task.is_python:
            pickle_task(job, number, task)


def content_digest(data: bytes) -> str:
    """BLAKE2b-128 hex of ``data``."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


__all__ = [
    "HashingError",
    "check_picklable",
    "content_digest",
    "pickler",
    "runner_source",
    "task_files",
]


def pickler() -> Any:
    """The module used to pickle callables (cloudpickle)."""
    return _pickler
