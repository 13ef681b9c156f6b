"""``import jobledger`` (issue 18.3): its cost beside a bare interpreter, measured in the
same run, and the heavy modules it does not load.

Run: ``python bench/import_bench.py [RUNS]`` (default 15; the median of each is used).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

HEAVY = ("rich", "click", "plumbum", "cloudpickle", "watchdog", "msgpack", "attrs")
TARGET = 0.1


def _median_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the import's cost beside its target and the bare interpreter."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    bare = _median_seconds("pass", runs)
    plain = _median_seconds("import jobledger", runs)
    sweep = _median_seconds("from jobledger import get_run_params", runs)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, json, jobledger; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    heavy = json.loads(loaded.stdout)
    cost = plain - bare
    print(f"import: median of {runs} fresh interpreters, load {os.getloadavg()[0]:.1f}")
    print(
        f"  import jobledger: {cost * 1000:.0f} ms over a bare interpreter ({bare * 1000:.0f} ms)"
        f" / target {TARGET * 1000:.0f} ms = {cost / TARGET:.2f}x (target <= 1x)"
        f" {'ok' if cost <= TARGET else 'MISSED'}"
    )
    print(
        f"  from jobledger import get_run_params (what a sweep run imports): {(sweep - bare) * 1000:.0f} ms over a bare interpreter"
    )
    print(
        f"  heavy modules loaded by the import: {', '.join(heavy) if heavy else 'none'} (of {', '.join(HEAVY)})"
    )


if __name__ == "__main__":
    main()
