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

import hashlib
import json
import os
import pickle
import sys
import traceback


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    """Load the task, call it, store the outcome; returns the exit code."""
    task_path, unit = argv[1], argv[2]
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = pickle  # type: ignore[assignment,unused-ignore]
    with open(task_path, "rb") as fh:
        task = cloudpickle.load(fh)
    args = list(task.get("args", ()))
    if task.get("pass_index"):
        index = os.environ.get("JOBLEDGER_ARRAY_INDEX", "")
        args.insert(0, int(index) if index.lstrip("-").isdigit() else index)
    try:
        value = task["func"](*args, **task.get("kwargs", {}))
    except BaseException as exc:
        text = traceback.format_exc()
        sys.stderr.write(text)
        sys.stderr.flush()
        info = {"type": type(exc).__qualname__, "message": str(exc), "traceback": text}
        _write_atomic(os.path.join(unit, "error.json"), json.dumps(info).encode())
        return 1 if not isinstance(exc, SystemExit) or exc.code else 0
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
