"""Engine figures (issue 3): no-op re-runs, planning a 100,000-job DAG (local throughput:
bench/local_bench.py).

Run: ``python bench/engine_bench.py``. Each figure runs in a fresh process and a fresh
project so one does not warm the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

RERUN = textwrap.dedent(
    """
    import json, sys, time
    import jobledger as jl
    from jobledger.ledger import events as ev
    from jobledger.session import session_for
    n, phase = int(sys.argv[1]), sys.argv[2]
    def workflow():
        return jl.Workflow([jl.Job(name=f"t{i}", command=["true"]) for i in range(n)], name="big")
    if phase == "seed":
        # record n completed jobs directly (running 100,000 real processes is not the point)
        project = jl.Project.open()
        definition = session_for(project).define(workflow())
        for spec in definition.specs:
            key = spec.key
            project.ledger.append(ev.Intent(key=key, attempt=1, action="submit", host="local", run_dir=spec.run_dir))
            project.ledger.append(ev.Submitted(key=key, attempt=1, scheduler_id="local", host="local"))
            project.ledger.append(ev.StateChanged(key=key, attempt=1, state="completed", exit_code=0))
        project.ledger.flush(durable=True)
        project.ledger.save_snapshot()
        print(json.dumps({"seeded": n}))
    else:
        start, cpu = time.perf_counter(), time.process_time()
        handle = jl.run(workflow())
        decided, cpu = time.perf_counter() - start, time.process_time() - cpu
        handle.wait(progress=False)
        waited = time.perf_counter() - start - decided
        assert len(handle.reused) == n, len(handle.reused)
        print(json.dumps({"seconds": decided, "cpu": cpu, "wait": waited}))
    """
)

PLAN = textwrap.dedent(
    """
    import json, resource, sys, time
    import jobledger as jl
    from jobledger.config import load_config
    from jobledger.engine.definitions import define
    from jobledger.engine.planner import plan
    from jobledger.ledger import events as ev
    from jobledger.ledger.reducer import Model, apply
    n = int(sys.argv[1])
    project = jl.Project.init(".")
    start, cpu = time.perf_counter(), time.process_time()
    jobs = []
    for i in range(n):
        after = [jobs[i - 1 - k] for k in (0, 7, 31) if i - 1 - k >= 0 and i % 5]
        jobs.append(jl.Job(name=f"j{i}", command=["python", "step.py", str(i)], cpus=1, after=after))
    wf = jl.Workflow(jobs, name="plan")
    definition = define(wf, project=project, config=load_config(project.root))
    model = Model()
    apply(model, ev.WorkflowDefined(name="plan", jobs=definition.specs, digest=definition.digest), (1, "w", 1), 0.0)
    decided = plan(model, [s.key for s in definition.specs], time.time(), {})
    ready = len(decided.commands)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "ready": ready}))
    """
)


def _py(code: str, *args: str, cwd: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _load() -> str:
    """The machine's load beside a figure (the cores are shared: a figure needs it)."""
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory(prefix="jl-bench-") as tmp:
        root = Path(tmp)
        print("engine: no-op re-runs and planning")
        for size, target in ((10_000, 0.5), (100_000, 5.0)):
            proj = root / f"r{size}"
            proj.mkdir()
            subprocess.run(
                [sys.executable, "-m", "jobledger.cli.main", "init", str(proj)],
                check=True,
                capture_output=True,
            )
            _py(RERUN, str(size), "seed", cwd=proj)
            got = _py(RERUN, str(size), "rerun", cwd=proj)
            print(
                f"  no-op re-run of a completed {size:,}-job workflow: {got['seconds']:.2f} s / target {target} s"
                f" = {got['seconds'] / target:.2f}x (target <= 1x; cpu {got['cpu']:.2f} s, {_load()});"
                f" then its wait() {got['wait']:.2f} s"
            )
            if size == 100_000:
                for verb in (["resume"], ["wait", "--timeout", "0"], ["cancel"], ["status", "--no-observe"]):
                    start = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-m", "jobledger.cli.main", *verb],
                        cwd=proj,
                        capture_output=True,
                        check=False,
                    )
                    took = time.perf_counter() - start
                    print(
                        f"  jobledger {' '.join(verb)} on the {size:,}-job project: {took:.2f} s (target <= 2 s)"
                    )
        (root / "plan").mkdir()
        got = _py(PLAN, "100000", cwd=root / "plan")
        print(
            f"  define + hash + plan a 100,000-job DAG: {got['seconds']:.2f} s / target 5 s = {got['seconds'] / 5:.2f}x,"
            f" peak {got['peak_mb']:.0f} MB / target 500 MB = {got['peak_mb'] / 500:.2f}x (targets <= 1x;"
            f" cpu {got['cpu']:.2f} s, {_load()})"
        )


if __name__ == "__main__":
    main()
