"""The helpers a run's own program calls: :func:`get_run_params` and :func:`post_run_results`."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any, cast

from jobledger.api.multirun.layout import (
    PARAMS_ENV,
    PARAMS_FILE,
    PARAMS_PICKLE,
    RESULTS_FILE,
    RUN_DIR_ENV,
    ParamMap,
)
from jobledger.errors import ModelError


def _run_dir() -> Path:
    return Path(os.environ.get(RUN_DIR_ENV) or Path.cwd())


def get_run_params() -> ParamMap:
    """The parameters of the run this process belongs to.

    Read from ``$JOBLEDGER_RUN_PARAMS`` when set, else ``params.json`` (or
    ``params.pkl``) in ``$JOBLEDGER_RUN_DIR`` or the current directory.
    """
    override = os.environ.get(PARAMS_ENV)
    candidates = [Path(override)] if override else []
    base = _run_dir()
    candidates += [base / PARAMS_FILE, base / PARAMS_PICKLE]
    for path in candidates:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue
        # params.pkl is written by multirun for this very run
        value = pickle.loads(data) if path.suffix == ".pkl" else json.loads(data)  # noqa: S301
        if not isinstance(value, dict):
            raise ModelError(f"{path} does not hold a parameter map")
        return cast("ParamMap", value)
    raise FileNotFoundError(
        f"no {PARAMS_FILE} in {base}: get_run_params() works inside a run started by "
        f"multirun (or set {PARAMS_ENV})"
    )


def post_run_results(results: Any) -> None:
    """Store a picklable object as this run's result (``results.pkl`` in the run folder).

    Posting again replaces the earlier result. The object comes back on the run's record
    (``record.result``) from :func:`multirun` and :func:`fetch_runs`.
    """
    try:
        import cloudpickle

        data = cloudpickle.dumps(results)
    except ImportError:  # pragma: no cover - cloudpickle is a dependency
        data = pickle.dumps(results)
    target = _run_dir() / RESULTS_FILE
    tmp = target.with_name(f".{RESULTS_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


getRunParams = get_run_params  # noqa: N816 - Karana's spelling
postRunResults = post_run_results  # noqa: N816 - Karana's spelling
