"""What goes into a run directory before submission: script, task pickles, runner."""

from __future__ import annotations

import functools
import hashlib
import linecache
import os
import pickle
import site
import sys
import sysconfig
import types
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


@functools.lru_cache(maxsize=256)
def _user_module_of(module: types.ModuleType) -> types.ModuleType | None:
    name = module.__name__
    path = getattr(module, "__file__", None)
    if not path or name == "__main__" or name.split(".")[0] == "jobledger":
        return None
    resolved = os.path.realpath(path)
    installed = {os.path.realpath(p) for p in (*site.getsitepackages(), site.getusersitepackages())}
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    if resolved.startswith(stdlib) or any(resolved.startswith(p) for p in installed):
        return None
    return module


def _reachable(roots: tuple[Any, ...]) -> list[Any]:
    """Everything a pickle of ``roots`` may carry: functions, their code, closures,
    defaults and — for code pickled by value — the globals it names, classes, and the
    contents of the user's modules."""
    out: list[Any] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack and len(seen) < 20_000:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        if isinstance(item, types.CodeType):
            stack.extend(c for c in item.co_consts if isinstance(c, types.CodeType))
        elif isinstance(item, types.FunctionType):
            stack.append(item.__code__)
            stack.extend(c.cell_contents for c in item.__closure__ or () if _cell_set(c))
            stack.extend(item.__defaults__ or ())
            if _by_value(item.__module__):
                names = item.__globals__
                stack.extend(names[n] for n in _names(item.__code__) if n in names)
        elif isinstance(item, types.ModuleType):
            if _user_module_of(item) is not None:
                stack.extend(vars(item).values())
        elif isinstance(item, functools.partial):
            stack += [item.func, *item.args, *item.keywords.values()]
        elif isinstance(item, types.MethodType):
            stack += [item.__func__, item.__self__]
        elif isinstance(item, type):
            if _by_value(item.__module__):
                stack.extend(vars(item).values())
        elif isinstance(item, (staticmethod, classmethod)):
            stack.append(item.__func__)
        elif isinstance(item, property):
            stack += [item.fget, item.fset, item.fdel]
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif _by_value(type(item).__module__):
            stack.append(type(item))
    return out


def _names(code: types.CodeType) -> set[str]:
    """Global names used by ``code`` and the code nested in it (lambdas, inner functions)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def user_modules(*roots: Any) -> list[types.ModuleType]:
    """The user's own modules that code reachable from ``roots`` lives in or names: they
    travel by value (a lambda of the script calling a function of a module next to it)."""
    found: dict[str, types.ModuleType] = {}
    for item in _reachable(roots):
        module = item if isinstance(item, types.ModuleType) else None
        if isinstance(item, (types.FunctionType, type)):
            module = sys.modules.get(getattr(item, "__module__", None) or "")
        if module is not None and _user_module_of(module) is not None:
            found[module.__name__] = module
    return list(found.values())


def code_origins(*roots: Any) -> tuple[dict[tuple[str, int, bytes], str], dict[str, dict[int, str]]]:
    """Where the code reachable from ``roots`` was written, and the lines it spans.

    cloudpickle may rename the file of code it pickles by value (3.1.3 writes
    ``<dynamic-code>``); the runner puts the names back and gives ``linecache`` the lines,
    so a failing job's traceback names the user's file and line and shows the line, also on
    a host that does not have the file. Returns ``({(name, first line, bytecode): file},
    {file: {line number: text}})``.
    """
    codes = [item for item in _reachable(roots) if isinstance(item, types.CodeType)]
    origins: dict[tuple[str, int, bytes], str] = {}
    sources: dict[str, dict[int, str]] = {}
    for code in codes:
        origins[(code.co_name, code.co_firstlineno, code.co_code)] = code.co_filename
        lines = linecache.getlines(code.co_filename)
        if lines:
            last = max((line for *_, line in code.co_lines() if line), default=code.co_firstlineno)
            kept = sources.setdefault(code.co_filename, {})
            for number in range(max(1, code.co_firstlineno), min(len(lines), last) + 1):
                kept[number] = lines[number - 1]
    return origins, sources


def _cell_set(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - probing an empty cell raises
    except ValueError:
        return False
    return True


def _by_value(module_name: str | None) -> bool:
    """True when code of this module is pickled by value (``__main__`` or the user's)."""
    if module_name == "__main__":
        return True
    module = sys.modules.get(module_name or "")
    return module is not None and _user_module_of(module) is not None


def pickle_task(job: Job, number: int, task: Task) -> bytes:
    """Pickle one Python-callable task, or raise a :class:`ModelError` naming the job.

    Functions from the user's own modules (next to the script, not installed) are pickled
    by value, so the job's Python needs only cloudpickle, not the user's files. The
    files and lines of the code travel along (see :func:`code_origins`).
    """
    origins, sources = code_origins(task.func, task.args, task.kwargs)
    payload: dict[str, Any] = {
        "func": task.func,
        "args": task.args,
        "kwargs": task.kwargs,
        "pass_index": task.pass_index,
        "code_files": origins,
        "sources": sources,
    }
    by_value = getattr(_pickler, "register_pickle_by_value", None)
    modules = user_modules(task.func, task.args, task.kwargs) if by_value is not None else []
    try:
        for module in modules:
            by_value(module)  # type: ignore[misc]
        try:
            return bytes(_pickler.dumps(payload))
        finally:
            for module in modules:
                _pickler.unregister_pickle_by_value(module)
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
