"""``make bench``: every benchmark, figures printed beside their ceilings and targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in (
    "machine_bench.py",
    "import_bench.py",
    "ledger_bench.py",
    "local_bench.py",
    "engine_bench.py",
    "slurm_bench.py",
    "views_bench.py",
):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
