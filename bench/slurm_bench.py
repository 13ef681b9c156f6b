"""SLURM figures (issue 4): a 200-job DAG with dependencies and a 1,000-index array,
submitted to the real cluster (``make slurm-up``): sbatch calls per job and wall time.
Same-shape jobs (issue 18.4): 500 independent jobs on the real SLURM and the real Grid
Engine, packed into arrays and (same run) each submitted alone: submissions counted from the
jobs' scheduler ids, queue time beside the targets (<= 5 submissions, <= 1 s)."""

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


PACKED_JOBS = 500
TARGET_SUBMISSIONS = 5
TARGET_QUEUE_S = 1.0


def _available(scheduler: str) -> bool:
    probe = ["scontrol", "ping"] if scheduler == "slurm" else ["qstat", "-f"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and (scheduler != "slurm" or "UP" in done.stdout)


def _same_shape(scheduler: str, pack_limit: int | None) -> tuple[int, float, float]:
    """Submissions, seconds until all were queued, seconds until all ended (each job
    submitted alone (``pack_limit = 0``) is cancelled once queued: only its queueing counts)."""
    import os

    import jobledger as jl
    from jobledger.session import session_for

    with tempfile.TemporaryDirectory(prefix=f"jl-{scheduler}-pack-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        project = jl.Project.init(root)
        config = f'[hosts.cluster]\nscheduler = "{scheduler}"\npoll_interval = 1.0\n'
        if pack_limit is not None:
            config += f'[schedulers.{scheduler}]\npack_limit = "{pack_limit}"\n'
        (root / "jobledger.toml").write_text(config)
        os.chdir(root)
        jobs = [jl.Job(name=f"same{i}", command=f"echo {i}", host="cluster") for i in range(PACKED_JOBS)]
        start = time.perf_counter()
        handle = jl.run(jl.Workflow(jobs, name="same500"), project=root)
        session = session_for(project)
        session.finish()  # drive until every job is submitted
        queued = time.perf_counter() - start
        if pack_limit == 0:
            handle.stop()
        results = handle.wait(timeout=1800, progress=False, check=False)
        done = time.perf_counter() - start
        session.close()
        os.chdir("/")
        ids = {(r.scheduler_id or "").partition("[")[0].partition(".")[0] for r in results.values()}
        return len(ids - {""}), queued, done


def packed() -> None:
    """Print the same-shape figures of each scheduler that answers here."""
    for scheduler in ("slurm", "sge"):
        if not _available(scheduler):
            print(f"{scheduler}: same-shape jobs not measured (no {scheduler} answering)")
            continue
        subs, queued, done = _same_shape(scheduler, None)
        alone_subs, alone_queued, _ = _same_shape(scheduler, 0)
        print(f"{scheduler}: {PACKED_JOBS} same-shape jobs (real cluster)")
        print(
            f"  submissions {subs} / target {TARGET_SUBMISSIONS} = {subs / TARGET_SUBMISSIONS:.2f}x"
            f" (target <= 1x); each alone: {alone_subs}"
        )
        print(
            f"  queued in {queued:.2f} s / target {TARGET_QUEUE_S:.1f} s = {queued / TARGET_QUEUE_S:.2f}x"
            f" (target <= 1x); each alone {alone_queued:.2f} s, packed = {queued / alone_queued:.2f}x of that"
        )
        print(f"  all {PACKED_JOBS} completed after {done:.2f} s")


if __name__ == "__main__":
    main()
    packed()
    sys.exit(0)
