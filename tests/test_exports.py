"""The public surface: ``__all__`` lists exactly what exists, sorted, nothing stale."""

from __future__ import annotations

import subprocess
import sys

import jobledger


def test_all_names_exist_and_are_sorted() -> None:
    missing = [name for name in jobledger.__all__ if not hasattr(jobledger, name)]
    assert missing == []
    assert list(jobledger.__all__) == sorted(jobledger.__all__)
    assert len(set(jobledger.__all__)) == len(jobledger.__all__)


def test_every_public_attribute_is_listed() -> None:
    public = {
        name
        for name, value in vars(jobledger).items()
        if not name.startswith("_") and not isinstance(value, type(sys)) and name != "annotations"
    }
    assert public - set(jobledger.__all__) == set()


def test_both_spellings_of_the_seeds() -> None:
    assert jobledger.multirunAsync is jobledger.multirun_async
    assert jobledger.getRunParams is jobledger.get_run_params
    face = jobledger.api.hpcrunner  # type: ignore[attr-defined]
    assert face.Job is not jobledger.Job  # hpc-runner's own, mutable Job
    assert isinstance(face.Job("true", name="t").to_job(), jobledger.Job)


def test_import_is_fast_and_scans_nothing() -> None:
    code = "import time; t = time.perf_counter(); import jobledger; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 2.0
