"""Content hashes of a job's declared input files: part of its key."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path


def hash_inputs(inputs: Sequence[str], workdir: str | None) -> dict[str, str]:
    """Content hash of each declared input file (missing files hash as ``'missing'``)."""
    out: dict[str, str] = {}
    base = Path(workdir) if workdir else Path.cwd()
    for name in inputs:
        path = Path(name) if Path(name).is_absolute() else base / name
        out[name] = file_digest(path)
    return out


def file_digest(path: Path) -> str:
    """BLAKE2b of a file's bytes, or ``'missing'``."""
    try:
        with path.open("rb") as fh:
            h = hashlib.blake2b(digest_size=16)
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
            return h.hexdigest()
    except FileNotFoundError:
        return "missing"
    except IsADirectoryError:
        h = hashlib.blake2b(digest_size=16)
        for sub in sorted(path.rglob("*")):
            if sub.is_file():
                h.update(str(sub.relative_to(path)).encode() + b"\0" + file_digest(sub).encode())
        return h.hexdigest()
