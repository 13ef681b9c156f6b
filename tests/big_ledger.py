"""A big finished project recorded directly in the ledger (for views, tests and benches).

Running 100,000 real processes is not the point of a view test: :func:`seed` defines the
workflow ``big`` through a real Session in a separate process and appends the events a
run would have written. Jobs: ``sim-i`` for the first half, ``post-i`` (after ``sim-i``)
for the rest; every ``failed_every``-th job failed (exit 1), the last ``running`` ones are
still running (their run directories exist, empty), every other one completed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SEED = textwrap.dedent(
    """
    import sys, time
    import jobledger as jl
    from jobledger.ledger import events as ev
    from jobledger.session import session_for
    n, failed_every, running = (int(a) for a in sys.argv[1:4])
    half = n // 2
    sims = [jl.Job(name=f"sim-{i}", command=["true"]) for i in range(half)]
    posts = [jl.Job(name=f"post-{i}", command=["true"], after=[sims[i]]) for i in range(n - half)]
    project = jl.Project.open()
    definition = session_for(project).define(jl.Workflow(sims + posts, name="big"))
    now = time.time()
    led = project.ledger
    for number, spec in enumerate(definition.specs):
        key = spec.key
        led.append(ev.Intent(key=key, attempt=1, action="submit", host="local", run_dir=spec.run_dir))
        led.append(ev.Submitted(key=key, attempt=1, scheduler_id=str(1000 + number), host="local", at=now))
        led.append(ev.StateChanged(key=key, attempt=1, state="running", at=now))
        if number >= n - running:
            (project.root / spec.run_dir).mkdir(parents=True, exist_ok=True)  # as a started run leaves
            continue
        failed = number % failed_every == failed_every - 1
        state = "failed" if failed else "completed"
        led.append(ev.StateChanged(key=key, attempt=1, state=state, exit_code=int(failed), at=now + 1 + number % 7))
    led.flush(durable=True)
    led.save_snapshot()
    """
)


def seed(root: Path, n: int, *, failed_every: int = 1000, running: int = 3) -> Path:
    """Make ``root`` a project holding the recorded ``n``-job workflow ``big``."""
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    cli = [sys.executable, "-m", "jobledger.cli.main"]
    subprocess.run([*cli, "init", str(root)], check=True, capture_output=True, env=env)
    args = [str(n), str(failed_every), str(running)]
    out = subprocess.run(
        [sys.executable, "-c", SEED, *args], cwd=root, capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"seeding {root} failed: {out.stderr[-2000:]}")
    return root
