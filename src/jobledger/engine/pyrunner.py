"""Runs one Python-callable task; copied into run directories as ``jl_runner.py``.

Stand-alone on purpose: it needs only the standard library and ``cloudpickle`` on the
target host, not jobledger itself. Usage::

    python jl_runner.py TASK.pkl UNIT_DIR

``TASK.pkl`` holds ``{"func", "args", "kwargs", "pass_index"}`` pickled with cloudpickle.
The return value goes to ``UNIT_DIR/result.pkl`` (written to a temporary name, then
renamed) with its digest in ``UNIT_DIR/result.json``; an exception prints its traceback
to stderr, is described in ``UNIT_DIR/error.json`` and gives exit code 1.
"""

from __future__ import annotations

import gc
import hashlib
import json
import linecache
import os
import pickle
import sys
import traceback
import types


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fix_code(code: types.CodeType, origins: dict[tuple[str, int, bytes], str]) -> types.CodeType:
    """``code`` (and the code nested in it) with the file name it was written in."""
    consts = tuple(_fix_code(c, origins) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    filename = origins.get((code.co_name, code.co_firstlineno, code.co_code), code.co_filename)
    if filename == code.co_filename and consts == code.co_consts:
        return code
    return code.replace(co_filename=filename, co_consts=consts)


def restore_origins(task: dict[str, object]) -> None:
    """Give functions pickled by value their real file names back, and ``linecache`` the
    lines they span, so tracebacks name the user's file and line and show the source."""
    origins = task.get("code_files") or {}
    sources = task.get("sources") or {}
    if not isinstance(origins, dict) or not isinstance(sources, dict):
        return
    for filename, lines in sources.items():
        if not os.path.exists(filename) and isinstance(lines, dict) and lines:
            text = [lines.get(n, "\n") for n in range(1, max(lines) + 1)]
            linecache.cache[filename] = (sum(map(len, text)), None, text, filename)
    if not origins:
        return
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            fixed = _fix_code(obj.__code__, origins)
            if fixed is not obj.__code__:
                obj.__code__ = fixed


def main(argv: list[str]) -> int:
    """Load the task, call it, store the outcome; returns the exit code."""
    task_path, unit = argv[1], argv[2]
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = pickle  # type: ignore[assignment,unused-ignore]
    with open(task_path, "rb") as fh:
        task = cloudpickle.load(fh)
    restore_origins(task)
    args = list(task.get("args", ()))
    if task.get("pass_index"):
        index = os.environ.get("JOBLEDGER_ARRAY_INDEX", "")
        args.insert(0, int(index) if index.lstrip("-").isdigit() else index)
    try:
        value = task["func"](*args, **task.get("kwargs", {}))
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            value = None  # sys.exit() / sys.exit(0): a clean end, as for a script
        else:
            return _failed(exc, unit, exc.code if isinstance(exc.code, int) else 1, cloudpickle)
    except BaseException as exc:
        return _failed(exc, unit, 1, cloudpickle)
    try:
        data = cloudpickle.dumps(value)
    except Exception as exc:
        sys.stderr.write(f"jobledger: cannot pickle the return value: {exc!r}\n")
        info = {"type": type(exc).__qualname__, "message": f"return value not picklable: {exc}"}
        _write_atomic(os.path.join(unit, "error.json"), json.dumps(info).encode())
        return 1
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    _write_atomic(os.path.join(unit, "result.pkl"), data)
    meta = {"digest": digest, "size": len(data), "type": type(value).__qualname__}
    _write_atomic(os.path.join(unit, "result.json"), json.dumps(meta).encode())
    sys.stdout.flush()
    return 0


def _failed(exc: BaseException, unit: str, code: int, pickler: object) -> int:
    """Print the traceback, describe the exception in ``error.json`` (and pickle it to
    ``exception.pkl`` when it can be); returns the exit code (``sys.exit(N)`` keeps N, as
    a shell would see it)."""
    text = traceback.format_exc()
    sys.stderr.write(text)
    sys.stderr.flush()
    try:
        _write_atomic(os.path.join(unit, "exception.pkl"), pickler.dumps(exc))  # type: ignore[attr-defined]
    except Exception:  # noqa: S110 - the description below is enough
        pass
    info = {"type": type(exc).__qualname__, "message": str(exc), "traceback": text}
    _write_atomic(os.path.join(unit, "error.json"), json.dumps(info).encode())
    return code & 0xFF if code & 0xFF else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
