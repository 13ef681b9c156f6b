"""A no-op re-run of a finished workflow reads the snapshot's index, not every job record."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import env_with_src
from jobledger.project import Project

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jobledger as jl
    from jobledger.ledger import events as ev
    from jobledger.session import session_for
    n = 50
    workflow = jl.Workflow([jl.Job(name=f"t{i}", command=["true"]) for i in range(n)], name="big")
    project = jl.Project.open()
    if sys.argv[1] == "seed":
        definition = session_for(project).define(workflow)
        for spec in definition.specs:
            key = spec.key
            project.ledger.append(ev.Intent(key=key, attempt=1, action="submit", host="local", run_dir=spec.run_dir))
            project.ledger.append(ev.Submitted(key=key, attempt=1, scheduler_id="local", host="local"))
            project.ledger.append(ev.StateChanged(key=key, attempt=1, state="completed", exit_code=0))
        project.ledger.flush(durable=True)
        project.ledger.save_snapshot()
    else:
        handle = jl.run(workflow)
        jobs = session_for(project).ledger.model.jobs
        still_packed = len(jobs.rows or ()) if type(jobs).__name__ == "LazyJobs" else -1
        handle.wait(progress=False)
        print(json.dumps({"reused": len(handle.reused), "still_packed": still_packed}))
    """
)


def test_noop_rerun_keeps_finished_records_packed(project: Project, tmp_path: Path) -> None:
    script = tmp_path / "big.py"
    script.write_text(SCRIPT)

    def run(phase: str) -> str:
        out = subprocess.run(
            [sys.executable, str(script), phase],
            cwd=project.root,
            env=env_with_src(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    run("seed")
    got = json.loads(run("rerun").strip().splitlines()[-1])
    assert got["reused"] == 50
    # deciding "reused" and keeping the recorded places decoded none of the 50 records
    assert got["still_packed"] == 50
