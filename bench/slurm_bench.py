"""SLURM figures (issue 4): a 200-job DAG with dependencies and a 1,000-index array,
submitted to the real cluster (``make slurm-up``): sbatch calls per job and wall time."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Print the figures (or why they cannot be measured here)."""
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False)
    if "UP" not in ping.stdout:
        print("slurm: not measured (no SLURM controller answering; run make slurm-up)")
        return
    import jobledger as jl
    from jobledger.session import session_for

    with tempfile.TemporaryDirectory(prefix="jl-slurm-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        project = jl.Project.init(root)
        (root / "jobledger.toml").write_text('[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 1.0\n')
        jobs: list[jl.Job] = []
        for i in range(200):
            after = [jobs[i - 1 - k] for k in (0, 3) if i - 1 - k >= 0 and i % 10]
            jobs.append(jl.Job(name=f"dag{i}", command="true", host="slurm", after=after))
        import os

        os.chdir(root)
        start = time.perf_counter()
        handle = jl.run(jl.Workflow(jobs, name="dag200"), project=root)
        session = session_for(project)
        session.finish()  # drive until every job is submitted
        submitted = time.perf_counter() - start
        intents = [
            e
            for e in project.ledger.iter_events()
            if e.type == "intent" and e.data.get("workflow") == "dag200"
        ]
        native = sum(1 for e in intents if e.data.get("native_deps"))
        handle.wait(timeout=900, progress=False)
        done = time.perf_counter() - start
        print("slurm: 200-job DAG with dependencies (real cluster)")
        print(
            f"  sbatch calls: {len(intents)} for 200 jobs ({len(intents) / 200:.2f} per job), {native} with native dependencies"
        )
        print(f"  all queued in {submitted:.2f} s; all completed after {done:.2f} s")
        array = jl.Job(name="array1000", command="true", host="slurm", array=1000)
        start = time.perf_counter()
        handle = jl.run(jl.Workflow([array], name="array1000"), project=root)
        session.finish()
        queued = time.perf_counter() - start
        calls = [
            e
            for e in project.ledger.iter_events()
            if e.type == "intent" and e.data.get("workflow") == "array1000"
        ]
        handle.wait(timeout=1800, progress=False)
        print(
            f"  1,000-index array: {len(calls)} sbatch call, queued in {queued:.2f} s, completed after {time.perf_counter() - start:.2f} s"
        )
        session.close()


if __name__ == "__main__":
    main()
    sys.exit(0)
