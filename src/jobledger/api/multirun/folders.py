"""The sweep's folders on disk: the output folder, one folder per run, parameters, manifest."""

from __future__ import annotations

import datetime as _dt
import json
import pickle
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobledger.api.multirun.files import FileResource, _place_inputs, _place_shared
from jobledger.api.multirun.layout import MANIFEST_FILE, PARAMS_FILE, PARAMS_PICKLE, ParamMap
from jobledger.model.hashing import canonical_hash


def _output_dir(output_path: Path | str | None) -> Path:
    if output_path is None:
        return _default_output()
    return Path(output_path).expanduser().absolute()


def _default_output() -> Path:
    stamp = _dt.datetime.now().strftime("multirun_%Y-%m-%d_%H-%M-%S")
    path = Path.cwd() / stamp
    suffix = 1
    while path.exists():
        path = Path.cwd() / f"{stamp}_{suffix}"
        suffix += 1
    return path


def _write_params(run_dir: Path, params: ParamMap) -> None:
    try:
        text = json.dumps(params, indent=2, sort_keys=True, allow_nan=True)
        roundtrip = json.loads(text) == params
    except (TypeError, ValueError):
        roundtrip = False
    if roundtrip:
        _write_if_changed(run_dir / PARAMS_FILE, (text + "\n").encode())
        (run_dir / PARAMS_PICKLE).unlink(missing_ok=True)
    else:
        _write_if_changed(run_dir / PARAMS_PICKLE, pickle.dumps(params))
        (run_dir / PARAMS_FILE).unlink(missing_ok=True)


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _params_digest(params: Mapping[str, Any]) -> str:
    return canonical_hash(dict(params), "run parameters")[:8]


def _folder(index: int, params: Mapping[str, Any]) -> str:
    return f"{index:04d}-{_params_digest(params)}"


def _prepare(
    output: Path,
    cmd: list[str],
    params_list: list[ParamMap],
    folders: list[str],
    resources: list[FileResource],
    skip: set[str],
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    _place_shared(resources, output)
    for params, folder in zip(params_list, folders, strict=True):
        run_dir = output / folder
        if folder in skip:
            continue  # done, or still running: leave the folder as the run has it
        run_dir.mkdir(exist_ok=True)
        _write_params(run_dir, params)
        _place_inputs(resources, output, run_dir)
    manifest = {
        "cmd": cmd,
        "runs": [
            {"index": i, "dir": folder, "digest": folder.split("-", 1)[1]} for i, folder in enumerate(folders)
        ],
        "inputs": [{"path": str(r.path), "linkage": r.linkage, "name": str(r.name)} for r in resources],
        "updated": time.time(),
    }
    _write_if_changed(output / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())
