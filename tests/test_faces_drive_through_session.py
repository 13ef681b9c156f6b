"""Every face drives through the Session: no polling loop is left in ``src/jobledger/api``.

A face waits with ``Session.wait`` (``on_final``/``on_step`` callbacks, or in a thread for
the ``await`` forms) or steps the session until something holds; it never sleeps on a
timer of its own, never asks ``wait(timeout=0)`` and never uses ``WaitTimeout`` to loop.
The check reads the syntax tree of every module of every face (hpc-runner's too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "src" / "jobledger" / "api"


def polling(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: what`` for each polling construct in ``source``."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    sleeps = {"sleep"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio"):
            sleeps |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in sleeps:
                found.append(f"{filename}:{node.lineno}: sleeps ({ast.unparse(func)})")
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "timeout" and isinstance(value, ast.Constant) and value.value == 0:
                    found.append(f"{filename}:{node.lineno}: a non-blocking wait (timeout=0)")
        if isinstance(node, (ast.While, ast.For, ast.AsyncFor)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ExceptHandler) and inner.type is not None:
                    if "WaitTimeout" in ast.unparse(inner.type):
                        found.append(f"{filename}:{inner.lineno}: WaitTimeout caught inside a loop")
    return sorted(set(found))


def test_no_face_polls() -> None:
    files = sorted(API.rglob("*.py"))
    assert len(files) > 20  # every face is there: awflow, hamilton, hpcrunner, multirun, aio
    assert {p.parent.name for p in files} >= {"awflow", "hamilton", "hpcrunner", "multirun"}
    found = [hit for path in files for hit in polling(path.read_text(), str(path.relative_to(API)))]
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import time\nwhile True:\n    time.sleep(0.2)\n",
        "import asyncio\nasync def f():\n    await asyncio.sleep(0.1)\n",
        "from time import sleep as nap\nnap(1)\n",
        "wait(handle, timeout=0)\n",
        "while True:\n    try:\n        wait(h, timeout=1)\n    except WaitTimeout:\n        continue\n",
        "for _ in x:\n    try:\n        pass\n    except (KeyError, verbs.WaitTimeout):\n        pass\n",
    ],
)
def test_the_check_finds_each_kind_of_loop(snippet: str) -> None:
    assert polling(snippet) != []


def test_the_check_lets_a_timeout_error_through() -> None:
    ok = (
        "def wait(self, timeout=None):\n"
        "    try:\n"
        "        return self.info.wait(timeout)\n"
        "    except WaitTimeout:\n"
        "        raise TimeoutExpired(self.args, timeout) from None\n"
    )
    assert polling(ok) == []
