"""``import jobledger`` stays light: every sweep run imports it to call ``get_run_params()``.

The public names load on first use (module ``__getattr__``); these tests check, in fresh
interpreters, that importing the package and the in-run helpers loads none of the heavy
dependencies, and that the lazy names are exactly the ones the type checker sees.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jobledger
from conftest import env_with_src

#: Dependencies that only the code that uses them may load.
HEAVY = ("rich", "click", "plumbum", "cloudpickle", "watchdog", "msgpack", "filelock", "asyncio")

_LOADED = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    {statement}
    seconds = time.perf_counter() - start
    print(json.dumps({{"seconds": seconds, "modules": sorted(sys.modules)}}))
    """
)


def _loaded(statement: str) -> tuple[float, set[str]]:
    """Seconds and the modules loaded by ``statement`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _LOADED.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        env=env_with_src(),
    )
    data = json.loads(out.stdout)
    return float(data["seconds"]), set(data["modules"])


def _tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_import_jobledger_loads_nothing_heavy() -> None:
    seconds, modules = _loaded("import jobledger")
    print(f"import jobledger: {seconds * 1000:.1f} ms in a fresh interpreter (target <= 100 ms)")
    assert _tops(modules) & set(HEAVY) == set()
    # the package and its one-line version module
    assert {m for m in modules if m.startswith("jobledger")} == {"jobledger", "jobledger.version"}


@pytest.mark.parametrize(
    "statement",
    [
        "from jobledger import get_run_params, post_run_results",
        "from jobledger import getRunParams, postRunResults",
        "from jobledger.api.multirun import get_run_params, post_run_results",
        "import jobledger; jobledger.get_run_params",
    ],
)
def test_the_in_run_path_is_light(statement: str) -> None:
    seconds, modules = _loaded(statement)
    print(f"{statement}: {seconds * 1000:.1f} ms")
    assert _tops(modules) & set(HEAVY) == set()
    ours = {m for m in modules if m.startswith("jobledger.")}
    assert ours <= {
        "jobledger.api",
        "jobledger.api.multirun",
        "jobledger.api.multirun.inside",
        "jobledger.api.multirun.layout",
        "jobledger.errors",
        "jobledger.version",
    }


def test_importtime_total_printed() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import jobledger"],
        capture_output=True,
        text=True,
        check=True,
        env=env_with_src(),
    )
    # "import time: self [us] | cumulative | imported package"
    rows = [line.split("|") for line in out.stderr.splitlines()[1:] if line.startswith("import time:")]
    ours = [int(r[1]) for r in rows if r[2].strip() == "jobledger"]
    total = sum(int(r[1]) for r in rows if not r[2].startswith("  "))
    print(
        f"python -X importtime -c 'import jobledger': jobledger {ours[0] / 1000:.1f} ms, all {total / 1000:.1f} ms"
    )
    assert len(ours) == 1


def _type_checking_names(path: Path) -> dict[str, str]:
    """``{name: module}`` of the imports under ``if TYPE_CHECKING:`` (what mypy sees)."""
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module != "typing":
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = stmt.module
    return found


@pytest.mark.parametrize("package", ["jobledger", "jobledger.api.multirun"])
def test_lazy_names_are_the_ones_the_type_checker_sees(package: str) -> None:
    module = importlib.import_module(package)
    path = Path(module.__file__ or "")
    assert _type_checking_names(path) == module._WHERE
    for name, where in module._WHERE.items():
        assert getattr(module, name) is getattr(importlib.import_module(where), name), name


def test_public_names_unchanged_and_listed_by_dir() -> None:
    assert set(jobledger.__all__) <= set(dir(jobledger))
    assert set(jobledger.__all__) == set(jobledger._WHERE) | {"__version__"}
    code = "from jobledger import *; import jobledger; names = dir(); print(sum(n in names for n in jobledger.__all__))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env_with_src()
    )
    assert int(out.stdout) == len(jobledger.__all__)


def test_subpackages_load_on_attribute_access() -> None:
    code = "import jobledger; print(jobledger.api.hpcrunner.Job.__module__, jobledger.errors.LedgerError.__name__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env_with_src()
    )
    assert out.stdout.split() == ["jobledger.api.hpcrunner.job", "LedgerError"]
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = jobledger.no_such_thing  # type: ignore[attr-defined]


def test_version_is_the_one_released() -> None:
    """``jobledger.__version__`` (shown in the report) is ``pyproject.toml``'s version."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    declared = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in pyproject.read_text().splitlines()
        if line.startswith("version =")
    )
    assert jobledger.__version__ == declared
    assert importlib.import_module("jobledger.version").__version__ is jobledger.__version__
