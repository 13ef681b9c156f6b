"""View figures (issue 18 items 5 and 7): the CLI at 100,000 jobs, the report at 10,000.

Run: ``python bench/views_bench.py [N]``. A finished N-job project (100,000 by default;
one job in 1,000 failed, 3 running, the rest completed: see tests/big_ledger.py) is recorded
directly in the ledger, then each command runs in a fresh process on a fresh copy of it and
its time to the first line of output is printed beside the 2 s target (for ``report``,
which writes a file and prints one line at the end, that is the whole command), with the
load average. The report of a 10,000-job workflow is printed beside 5 MB, and its load time
in headless Chromium (when found) beside 3 s. Python may write its bytecode caches here (a
first run compiles, as after an install).

The seeded projects are cached under ``$TMPDIR/jobledger-bench-seeds/`` keyed by a hash of
tests/big_ledger.py and of the ledger's sources (about 25 s to build the 100,000-job one);
``JOBLEDGER_BENCH_RESEED=1`` builds them again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from big_ledger import seed  # noqa: E402

CLI = [sys.executable, "-m", "jobledger.cli.main"]
SRC = Path(__file__).resolve().parent.parent / "src" / "jobledger"
#: The seven commands of issue 18.7, and ``graph`` (first line of output within 2 s).
COMMANDS = (
    ["status"],
    ["status", "--json"],
    ["resume"],
    ["wait", "--timeout", "0"],
    ["cancel"],
    ["log"],
    ["report", "-o", "big.html"],
    ["graph"],
)


def seeded(n: int) -> Path:
    """A finished ``n``-job project, built once per version of the generator and the ledger."""
    digest = hashlib.sha256((TESTS / "big_ledger.py").read_bytes())
    for path in sorted((SRC / "ledger").glob("*.py")):
        digest.update(path.read_bytes())
    cache = Path(tempfile.gettempdir()) / "jobledger-bench-seeds" / f"{n}-{digest.hexdigest()[:16]}"
    if cache.is_dir() and not os.environ.get("JOBLEDGER_BENCH_RESEED"):
        print(f"views: the {n:,}-job project cached in {cache}")
        return cache
    for stale in cache.parent.glob(f"{n}-*"):  # older generators' projects, a half-built one
        shutil.rmtree(stale, ignore_errors=True)
    start = time.perf_counter()
    building = cache.with_name(cache.name + ".tmp")
    seed(building, n)
    building.rename(cache)
    print(f"views: a {n:,}-job project recorded in {time.perf_counter() - start:.1f} s ({cache})")
    return cache


def first_line(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """Seconds to the first line of output, seconds to the end, and that line."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "100"
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    first = time.perf_counter() - start
    proc.stdout.read()
    proc.wait()
    return first, time.perf_counter() - start, line.decode(errors="replace").rstrip()


def main() -> None:
    """Print the figures."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    big = seeded(n)
    with tempfile.TemporaryDirectory(prefix="jl-views-") as tmp:
        root = Path(tmp)
        first_line([*CLI, "--help"], big)  # compile once, as an installed package would be
        for argv in COMMANDS:
            work = root / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(big, work, symlinks=True)
            first, total, line = first_line([*CLI, *argv], work)
            load = os.getloadavg()[0]
            print(
                f"  {' '.join(argv):<20} first line {first:5.2f} s / 2 s = {first / 2:.2f}x (target <= 1x);"
                f" all output {total:6.2f} s; load {load:.1f}; {line[:50]!r}",
                flush=True,
            )
        shutil.rmtree(root / "work", ignore_errors=True)
        ten = root / "ten"
        shutil.copytree(seeded(10_000), ten, symlinks=True)
        report = ten / "report.html"
        start = time.perf_counter()
        subprocess.run([*CLI, "report", "-o", str(report)], cwd=ten, check=True, capture_output=True)
        took = time.perf_counter() - start
        size = report.stat().st_size / 1e6
        print(
            f"  report of 10,000 jobs: {size:.2f} MB / 5 MB = {size / 5:.2f}x (target <= 1x), written in {took:.1f} s"
        )
        loaded = _browser_load(report, root / "profile")
        if loaded is None:
            print("  report of 10,000 jobs in headless Chromium: no Chromium found")
        else:
            print(
                f"  report of 10,000 jobs in headless Chromium: loaded in {loaded:.2f} s / 3 s = {loaded / 3:.2f}x"
            )


def _browser_load(page: Path, profile: Path) -> float | None:
    """Seconds headless Chromium takes to load ``page`` (its load event), or None."""
    from services import chromium_path
    from test_view_report import Chromium

    binary = chromium_path()
    if binary is None:
        return None
    profile.mkdir()
    browser = Chromium(binary, profile)
    try:
        browser.open_page(1280, 900)
        start = time.perf_counter()
        browser.call("Page.navigate", {"url": page.resolve().as_uri()})
        browser.wait_for("Page.loadEventFired", timeout=120)
        return time.perf_counter() - start
    finally:
        browser.close()


if __name__ == "__main__":
    main()
