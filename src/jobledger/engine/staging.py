"""What goes into a run directory before submission: script, task pickles, runner."""

from __future__ import annotations

import functools
import hashlib
import pickle
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


def pickle_task(job: Job, number: int, task: Task) -> bytes:
    """Pickle one Python-callable task, or raise a :class:`ModelError` naming the job."""
    payload: dict[str, Any] = {
        "func": task.func,
        "args": task.args,
        "kwargs": task.kwargs,
        "pass_index": task.pass_index,
    }
    try:
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
