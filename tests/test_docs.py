"""Every fenced ``python`` and ``bash`` block of README.md and docs/ runs, as a reader would.

Sybil (a maintained collector of examples in documentation) reads each page: its fenced
blocks, its invisible blocks and its ``skip`` directives. Each page runs in a folder of its
own, its blocks in order, as a separate process each — a script, not a line in a REPL:

- a ``python`` block whose first line is ``# NAME.py`` is that file: it is written to the
  page's folder (a later block runs it, as the page tells the reader to);
- any other ``python`` block runs as a script, after the page's invisible setup
  (``<!-- invisible-code-block: python ... -->``, which a rendered page does not show);
- a ``bash`` block runs under ``bash -e -o pipefail``; a ``cd`` carries over to the next
  block;
- a block that needs a cluster follows ``<!-- skip: next if(not slurm, "needs SLURM") -->``
  (``sge`` for Grid Engine): skipped (with that reason) only off CI on a machine without
  it; under ``CI=true`` it runs, against the real SLURM (or SGE) of the suite;
- ``console`` (a terminal transcript), ``text``, ``toml`` and ``json`` blocks show output,
  files or configuration and are not run.

A page is one test (its blocks depend on each other), so ``pytest -n`` keeps each page's
blocks together and in order.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from services import in_ci, sge_available, slurm_available

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
RUN = ("python", "bash")
SHOWN = ("console", "text", "toml", "json")
FENCE = re.compile(r"^ *(`{3,}|~{3,})(\S*)", re.MULTILINE)
FILE_LINE = re.compile(r"#\s*([\w./-]+\.py)\s*$")
BLOCK_TIMEOUT = 240


def _env(namespace: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLEDGER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JOBLEDGER_USER_CONFIG"] = str(namespace["home"] / "no-user-config.toml")
    env["JOBLEDGER_QUIET"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _where(example: Example) -> str:
    return f"{Path(example.path).relative_to(REPO)}:{example.line}"


def _ran(example: Example, argv: list[str], code: str) -> str | None:
    namespace = example.namespace
    done = subprocess.run(
        argv,
        input=code,
        cwd=namespace["cwd"],
        env=_env(namespace),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    if done.returncode == 0:
        return None
    return (
        f"{_where(example)}: the block exited with {done.returncode}\n--- block ---\n{code}"
        f"--- stdout ---\n{done.stdout[-3000:]}--- stderr ---\n{done.stderr[-3000:]}"
    )


def run_python(example: Example) -> str | None:
    """A file block is written; a script block runs after the page's invisible setup."""
    code = str(example.parsed)
    namespace = example.namespace
    if "invisible" in str(example.region.lexemes.get("directive") or ""):
        namespace["setup"] += code
        return None
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    named = FILE_LINE.fullmatch(first.strip())
    if named:
        target = Path(namespace["cwd"]) / named.group(1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
        return None
    return _ran(example, [sys.executable, "-"], namespace["setup"] + code)


def run_bash(example: Example) -> str | None:
    """The block under ``bash -e -o pipefail``; its last directory is the next block's."""
    namespace = example.namespace
    pwd = namespace["home"] / ".pwd"
    code = f"{example.parsed}\npwd > {pwd}\n"
    failed = _ran(example, ["bash", "-e", "-o", "pipefail"], code)
    if failed is None and pwd.exists():
        namespace["cwd"] = pwd.read_text().strip()
    return failed


@functools.cache
def clusters() -> dict[str, bool]:
    """Which clusters the blocks may use: all of them under CI (a missing one fails there)."""
    return {"slurm": in_ci() or slurm_available() is None, "sge": in_ci() or sge_available() is None}


PARSERS = [SkipParser(), CodeBlockParser("python", run_python), CodeBlockParser("bash", run_bash)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_page_runs(page: Path, tmp_path: Path) -> None:
    document = Document.parse(str(page), *PARSERS)
    work = tmp_path / "work"
    work.mkdir()
    document.namespace.update(cwd=str(work), home=tmp_path, setup="", **clusters())
    ran: list[str] = []
    skipped: list[str] = []
    for example in document.examples():
        start = time.monotonic()
        try:
            example.evaluate()
        except unittest.SkipTest as skip:  # Sybil's skip directive
            skipped.append(f"{_where(example)}: {skip}")
        else:
            ran.append(f"{_where(example)} ({time.monotonic() - start:.1f} s)")
    print(f"ran {len(ran)} block(s): {', '.join(ran)}; skipped: {skipped or 'none'}")
    if skipped and not ran:
        pytest.skip("; ".join(skipped))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_page_fences_say_whether_they_run(page: Path) -> None:
    """A block either runs (python, bash) or is shown (console, text, toml, json)."""
    text = page.read_text()
    fences = FENCE.findall(text)
    opening = [lang for i, (_ticks, lang) in enumerate(fences) if i % 2 == 0]
    odd = [lang or "(none)" for lang in opening if lang not in RUN + SHOWN]
    assert odd == [], f"{page.relative_to(REPO)}: fences {odd}; use one of {RUN + SHOWN}"


def test_no_page_speaks_of_the_teams_own_work() -> None:
    """Docs speak to users: no notes about work in progress, no modules that do not exist."""
    words = re.compile(
        r"the lead|until .* lands|as the engine issue|DESIGN\.md|STYLE\.md|seeds/|"
        r"jobledger\.api\.faces|TODO|FIXME|\(issue \d+\)|issue \d+ ",
        re.IGNORECASE,
    )
    found = [
        f"{page.relative_to(REPO)}:{n}: {line.strip()}"
        for page in PAGES
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if words.search(line)
    ]
    assert found == []
