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


def _run(project: Project, path: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=project.root,
        env=env_with_src(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_noop_rerun_keeps_finished_records_packed(project: Project, tmp_path: Path) -> None:
    script = tmp_path / "big.py"
    script.write_text(SCRIPT)

    _run(project, script, "seed")
    got = json.loads(_run(project, script, "rerun").strip().splitlines()[-1])
    assert got["reused"] == 50
    # deciding "reused" and keeping the recorded places decoded none of the 50 records
    assert got["still_packed"] == 50


STATUS = textwrap.dedent(
    """
    import json
    from pathlib import Path
    from jobledger.ledger.store import Ledger
    from jobledger.ledger.state import ProjectState
    root = Path(".jobledger")
    answers = {}
    for use_snapshot in (True, False):
        ledger = Ledger(root / "ledger", root / "cache", use_snapshot=use_snapshot).open()
        reused = ProjectState(ledger.model).reused("big")
        jobs = ledger.model.jobs
        packed = len(jobs.rows or ()) if type(jobs).__name__ == "LazyJobs" else -1
        answers[str(use_snapshot)] = {"reused": sorted(reused), "still_packed": packed}
        if use_snapshot is False:
            ledger.save_snapshot()  # the next reader's snapshot holds the run just made
        ledger.close()
    print(json.dumps(answers))
    """
)


def test_the_jobs_a_run_reused_are_known_from_a_snapshot_taken_after_it(
    project: Project, tmp_path: Path
) -> None:
    """`status` after a re-run of a finished 100,000-job workflow decoded every record to
    count the reused jobs (6 s). The snapshot now knows each settled job's last activity."""
    script = tmp_path / "big.py"
    script.write_text(SCRIPT)
    status = tmp_path / "status.py"
    status.write_text(STATUS)

    _run(project, script, "seed")
    _run(project, script, "rerun")
    _run(project, status)  # replays the run and saves a snapshot that holds it
    got = json.loads(_run(project, status).strip().splitlines()[-1])
    from_snapshot, replayed = got["True"], got["False"]
    assert len(replayed["reused"]) == 50
    assert from_snapshot["reused"] == replayed["reused"]
    assert from_snapshot["still_packed"] == 50  # answered without decoding a record
