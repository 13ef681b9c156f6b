"""SgeAdapter against the real Grid Engine of ``infra/sge-up.sh`` (``make sge-up``).

Each test renders scripts with the adapter, submits them with ``submit_argv``, reads one
``qstat -xml`` with ``parse_status`` and the outcome with ``accounting_argv`` +
``parse_accounting``: the same path the engine takes, with ``subprocess`` as the host.
Skipped (one line) when Grid Engine is not usable; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jobledger.errors import SubmitError
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency, Observation
from jobledger.schedulers.sge import SgeAdapter
from jobledger.states import JobState
from services import require, sge_available

pytestmark = pytest.mark.sge

T = TypeVar("T")


@pytest.fixture(scope="module")
def sge() -> SgeAdapter:
    require(sge_available(), "Grid Engine (make sge-up)")
    return SgeAdapter()


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o755)
    yield tmp_path


@pytest.fixture
def cleanup(sge: SgeAdapter) -> Iterator[list[str]]:
    """Job ids to qdel at the end of a test, whatever happened."""
    ids: list[str] = []
    yield ids
    if ids:
        subprocess.run(sge.cancel_argv(ids), capture_output=True, text=True, check=False)


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
    )


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


def unique(name: str) -> str:
    return f"jlt{os.getpid()}-{name}"


def make_spec(work: Path, name: str, body: str, **kw: object) -> BatchSpec:
    run_dir = work / name
    run_dir.mkdir(exist_ok=True)
    run_dir.chmod(0o777)
    fields: dict[str, object] = {
        "job_name": unique(name),
        "comment": f"jl:{name}:1",
        "run_dir": str(run_dir),
        "workdir": str(work),
        "body": body,
    }
    fields.update(kw)
    return BatchSpec(**fields)  # type: ignore[arg-type]


def submit(sge: SgeAdapter, spec: BatchSpec, work: Path, cleanup: list[str]) -> str:
    path = work / f"{spec.job_name}.sh"
    path.write_text(sge.render_script(spec))
    p = run(sge.submit_argv(str(path)))
    job = sge.parse_submit(p.returncode, p.stdout, p.stderr)
    cleanup.append(job)
    return job


def status(sge: SgeAdapter, user: str | None = None) -> dict[str, Observation]:
    p = run(sge.status_argv(user, ()))
    assert p.returncode == 0, p.stderr
    return sge.parse_status(p.stdout)


def observed(
    sge: SgeAdapter, key: str, state: JobState | None = None, native: str | None = None
) -> Observation | None:
    """The job's observation when it is in ``state`` (or shows ``native``), else None."""
    obs = status(sge).get(key)
    if obs is None or (state is not None and obs.state is not state):
        return None
    return obs if native is None or obs.native == native else None


def accounting(sge: SgeAdapter, keys: list[str], timeout: float = 60.0) -> dict[str, Observation]:
    """Wait until qacct has a final record for every key; return those records."""

    def probe() -> dict[str, Observation] | None:
        argv = sge.accounting_argv(keys)
        assert argv is not None
        p = run(argv)
        assert p.returncode == 0, p.stderr
        found = sge.parse_accounting(p.stdout)
        if all(k in found and found[k].state.is_final for k in keys):
            return found
        return None

    return wait_for(f"qacct records of {keys}", probe, timeout)


# ---------------------------------------------------------------------------------- tests
def test_version(sge: SgeAdapter) -> None:
    p = run(sge.version_argv())
    assert p.returncode == 0
    assert sge.parse_version(p.stdout).startswith("SGE 8.1")


def test_submit_observe_and_account(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    body = 'printf \'%s\\n\' "$JOB_NAME" \'$(touch INJECTED)\' "it\'s \\"quoted\\"" > ok.out\nsleep 1'
    ok = submit(sge, make_spec(work, "ok", body), work, cleanup)
    bad = submit(sge, make_spec(work, "bad", "sleep 1; exit 3"), work, cleanup)
    arr = submit(
        sge,
        make_spec(
            work,
            "arr",
            'echo "$SGE_TASK_ID" > "task.$SGE_TASK_ID"; sleep 1',
            array=ArraySpec.parse("1-3"),
            resources=Resources(time="5m", memory="256M"),
        ),
        work,
        cleanup,
    )
    keys = [ok, bad, f"{arr}[1]", f"{arr}[2]", f"{arr}[3]"]

    seen = status(sge)  # one qstat -xml call shows all of them, array tasks one by one
    assert set(keys) <= set(seen), seen.keys()
    assert all(seen[k].state in (JobState.SUBMITTED, JobState.RUNNING) for k in keys)
    assert seen[ok].name == unique("ok")
    assert seen[f"{arr}[2]"].base_id == arr and seen[f"{arr}[2]"].array_index == 2
    assert set(keys) <= set(status(sge, getpass.getuser()))

    final = accounting(sge, keys)
    assert (final[ok].state, final[ok].exit_code) == (JobState.COMPLETED, 0)
    assert (final[bad].state, final[bad].exit_code) == (JobState.FAILED, 3)
    for i in (1, 2, 3):
        assert final[f"{arr}[{i}]"].state is JobState.COMPLETED
        assert (work / f"task.{i}").read_text() == f"{i}\n"
        assert (work / "arr" / f"sge-{arr}.{i}.log").exists()
    assert (work / "ok" / f"sge-{ok}.log").exists()
    assert (work / "ok.out").read_text().splitlines() == [
        unique("ok"),
        "$(touch INJECTED)",
        'it\'s "quoted"',
    ]
    assert not (work / "INJECTED").exists()
    gone = status(sge)
    assert not set(keys) & set(gone)


def test_lookup_reveals_the_tag_and_cancel_pending(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    spec = make_spec(work, "held", "true", raw_args=("-h",), comment="jl:cafe01:2")
    job = submit(sge, spec, work, cleanup)
    assert status(sge)[job].reason == "held"
    p = run(sge.lookup_argv(None, spec.job_name))
    found = sge.parse_status(p.stdout)
    assert found[job].comment == "jl:cafe01:2"
    assert found[job].name == spec.job_name

    p = run(sge.cancel_argv([job]))
    sge.parse_cancel(p.returncode, p.stdout, p.stderr)
    wait_for("the held job to leave qstat", lambda: True if job not in status(sge) else None)
    p = run(sge.cancel_argv([job]))  # again: the job no longer exists, which is fine
    assert p.returncode != 0
    sge.parse_cancel(p.returncode, p.stdout, p.stderr)
    argv = sge.accounting_argv([job])
    assert argv is not None
    assert sge.parse_accounting(run(argv).stdout) == {}  # deleted while pending: no record


def test_cancel_running_and_time_limit(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    long = submit(sge, make_spec(work, "long", "sleep 120"), work, cleanup)
    limited = submit(
        sge,
        make_spec(work, "limited", "sleep 120", resources=Resources(time=2)),
        work,
        cleanup,
    )
    wait_for("the long job to run", lambda: observed(sge, long, JobState.RUNNING))
    p = run(sge.cancel_argv([long]))
    sge.parse_cancel(p.returncode, p.stdout, p.stderr)
    final = accounting(sge, [long, limited])
    assert (final[long].state, final[long].exit_code) == (JobState.CANCELLED, 137)
    assert (final[limited].state, final[limited].signal) == (JobState.TIMEOUT, 9)


def test_hold_jid_is_afterany(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    up = submit(sge, make_spec(work, "up", "sleep 2; exit 1"), work, cleanup)
    down = submit(
        sge,
        make_spec(work, "down", "true", dependencies=(NativeDependency(up, "afterok"),)),
        work,
        cleanup,
    )
    assert status(sge)[down].reason == f"Dependency ({up})"
    final = accounting(sge, [up, down])
    assert final[up].state is JobState.FAILED
    # SGE started the dependent although its upstream failed: afterok is the engine's job
    assert final[down].state is JobState.COMPLETED


def test_missing_run_dir_is_an_error_state(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    spec = make_spec(work, "norundir", "true", run_dir=str(work / "does-not-exist"))
    job = submit(sge, spec, work, cleanup)
    obs = wait_for("the job to enter Eqw", lambda: observed(sge, job, native="Eqw"))
    assert obs.state is JobState.FAILED
    final = accounting(sge, [job])
    assert final[job].reason == "failed 26: opening input/output file"


def test_unknown_queue_is_a_hard_submit_error(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    spec = make_spec(work, "badq", "true", resources=Resources(partition="nosuch.q"))
    with pytest.raises(SubmitError, match="unknown queue") as info:
        submit(sge, spec, work, cleanup)
    assert info.value.transient is False


def test_sge_reads_directives_anywhere_in_the_script(sge: SgeAdapter, work: Path, cleanup: list[str]) -> None:
    # why render_script refuses body lines starting with '#$' (written by hand here)
    first, second = unique("first"), unique("second")
    script = work / "inject.sh"
    script.write_text(
        f"#!/bin/bash\n#$ -N {first}\n#$ -h\n#$ -o /dev/null\ntrue\ncat <<EOF\n#$ -N {second}\nEOF\n"
    )
    p = run(sge.submit_argv(str(script)))
    job = sge.parse_submit(p.returncode, p.stdout, p.stderr)
    cleanup.append(job)
    assert status(sge)[job].name == second
