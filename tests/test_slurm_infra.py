"""The SLURM adapter against the real cluster of ``infra/slurm-up.sh`` (``make slurm-up``).

Submits scripts rendered by :class:`SlurmAdapter` with its own argv, sees them in one
``squeue`` call parsed by its parser, and reads the final states back through ``scontrol``
and, when slurmdbd runs, ``sacct``. Skips (one line) when ``scontrol ping`` fails, fails
instead under ``CI=true``. Timings are printed: ``pytest -rP -m slurm tests/test_slurm_infra.py``.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from jobledger.errors import SubmitError
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency, Observation
from jobledger.schedulers.slurm import SlurmAdapter
from jobledger.states import JobState
from services import require, slurm_accounting, slurm_available

pytestmark = pytest.mark.slurm

A = SlurmAdapter()
S = JobState
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "slurm" / "scripts"
ODD_COMMENT = "jl:odd \"q\" 'x' $(touch /tmp/jl-pwned) `id` | #c:1"


def run(argv: Sequence[str], user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv (as ``user`` through runuser when given), no stdin, 60 s limit."""
    full = ["runuser", "-u", user, "--", *argv] if user else list(argv)
    return subprocess.run(
        full, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False
    )


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    require(slurm_available(), "SLURM (make slurm-up)")


@pytest.fixture
def work() -> Iterator[Path]:
    """A world-writable work dir under /tmp (jobs may run as another user)."""
    path = Path(f"/tmp/jl-slurm-test-{uuid.uuid4().hex[:8]}")
    (path / "run").mkdir(parents=True)
    path.chmod(0o777)
    (path / "run").chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Session:
    """Submit rendered scripts as one user and watch them with the adapter's commands."""

    def __init__(self, work: Path, user: str | None = None) -> None:
        self.work = work
        self.user = user
        self.login = user or pwd.getpwuid(os.getuid()).pw_name
        self.ids: list[str] = []
        self.tag = uuid.uuid4().hex[:6]

    def spec(self, name: str, body: str, **kw: object) -> BatchSpec:
        fields: dict[str, object] = {
            "job_name": f"jl-t{self.tag}-{name}",
            "comment": f"jl:{self.tag}-{name}:1",
            "run_dir": str(self.work / "run"),
            "workdir": str(self.work),
            "body": body,
        }
        fields.update(kw)
        return BatchSpec(**fields)  # type: ignore[arg-type]

    def submit(self, name: str, body: str, **kw: object) -> str:
        path = self.work / f"{name}.sh"
        path.write_text(A.render_script(self.spec(name, body, **kw)))
        path.chmod(0o644)
        p = run(A.submit_argv(str(path)), self.user)
        job_id = A.parse_submit(p.returncode, p.stdout, p.stderr)
        self.ids.append(job_id)
        return job_id

    def status(self) -> dict[str, Observation]:
        p = run(A.status_argv(self.login, self.ids), self.user)
        assert p.returncode == 0, p.stderr
        return {k: o for k, o in A.parse_status(p.stdout).items() if o.base_id in set(self.ids)}

    def wait(
        self, done: Callable[[dict[str, Observation]], bool], limit: float = 90
    ) -> dict[str, Observation]:
        deadline = time.monotonic() + limit
        while True:
            now = self.status()
            if done(now):
                return now
            if time.monotonic() > deadline:
                pytest.fail(f"jobs did not get there in {limit:g}s: {now}")
            time.sleep(0.3)

    def cleanup(self) -> None:
        if self.ids:
            run(A.cancel_argv(self.ids))


@pytest.fixture
def session(work: Path) -> Iterator[Session]:
    s = Session(work)
    yield s
    s.cleanup()


def all_final(expected: int) -> Callable[[dict[str, Observation]], bool]:
    return lambda obs: len(obs) >= expected and all(o.state.is_final for o in obs.values())


# --------------------------------------------------------------------------- tests
def test_array_round_trip_squeue_scontrol_sacct(session: Session) -> None:
    body = 'echo "task $SLURM_ARRAY_TASK_ID"; [ "$SLURM_ARRAY_TASK_ID" != 2 ] || exit 3'
    job = session.submit(
        "array", body, comment=ODD_COMMENT, array=ArraySpec.parse("0-3%2"),
        resources=Resources(cpus=1, memory="50M", time=120),
    )  # fmt: skip
    keys = {f"{job}[{i}]" for i in range(4)}
    seen_pending = False

    def done(obs: dict[str, Observation]) -> bool:
        nonlocal seen_pending
        seen_pending |= any(o.state is S.SUBMITTED for o in obs.values())
        return all_final(4)(obs)

    obs = session.wait(done)
    assert set(obs) == keys
    for i in range(4):
        o = obs[f"{job}[{i}]"]
        assert (o.base_id, o.array_index, o.comment) == (job, i, ODD_COMMENT)
        expected = (S.FAILED, 3) if i == 2 else (S.COMPLETED, 0)
        assert (o.state, o.exit_code) == expected
        assert o.started is not None and o.ended is not None
        log = session.work / "run" / f"slurm-{job}_{i}.out"
        assert log.read_text() == f"task {i}\n"
    assert not Path("/tmp/jl-pwned").exists()

    p = run(A.scontrol_argv(job))
    assert p.returncode == 0, p.stderr
    via_scontrol = A.parse_scontrol(p.stdout)
    assert {k: (o.state, o.exit_code, o.comment) for k, o in via_scontrol.items()} == {
        k: (o.state, o.exit_code, o.comment) for k, o in obs.items()
    }

    if not slurm_accounting():
        return  # sacct needs slurmdbd (SLURM_ACCOUNTING=slurmdbd make slurm-up)
    argv = A.accounting_argv([job]) or []
    deadline = time.monotonic() + 30
    while True:
        acct = A.parse_accounting(run(argv).stdout)
        if set(acct) == keys and all(o.state.is_final for o in acct.values()):
            break
        assert time.monotonic() < deadline, f"sacct never caught up: {acct}"
        time.sleep(0.3)
    assert {k: (o.state, o.exit_code) for k, o in acct.items()} == {
        k: (o.state, o.exit_code) for k, o in obs.items()
    }


def test_one_squeue_call_sees_many_jobs_running_at_once(session: Session) -> None:
    n = 12
    t0 = time.perf_counter()
    for i in range(n):
        session.submit(f"many{i}", "sleep 4")
    submit_s = time.perf_counter() - t0
    most_running = 0

    def done(obs: dict[str, Observation]) -> bool:
        nonlocal most_running
        most_running = max(most_running, sum(o.state is S.RUNNING for o in obs.values()))
        return all_final(n)(obs)

    t0 = time.perf_counter()
    obs = session.wait(done, limit=60)
    wall = time.perf_counter() - t0
    assert {o.state for o in obs.values()} == {S.COMPLETED}
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        session.status()
        samples.append(time.perf_counter() - t0)
    print(
        f"{n} sbatch: {submit_s * 1000:.0f} ms; most running at once: {most_running}; "
        f"all done after {wall:.1f} s; one squeue+parse: {min(samples) * 1000:.1f} ms"
    )
    assert most_running >= 8, "SLURM_CPUS should oversubscribe (slurm-up default 16)"


def test_failed_upstream_gives_dependency_failed(session: Session) -> None:
    up = session.submit("up", "exit 1")
    down = session.submit("down", "true", dependencies=(NativeDependency(up, "afterok"),))
    anyway = session.submit("any", "true", dependencies=(NativeDependency(up, "afterany"),))
    obs = session.wait(all_final(3))
    assert obs[up].state is S.FAILED
    assert obs[down].state is S.DEPENDENCY_FAILED
    assert obs[down].reason == "DependencyNeverSatisfied"
    assert obs[anyway].state is S.COMPLETED


def test_cancel_and_cancel_again(session: Session) -> None:
    job = session.submit("long", "sleep 300")
    session.wait(lambda obs: job in obs and obs[job].state is S.RUNNING, limit=30)
    p = run(A.cancel_argv([job]))
    A.parse_cancel(p.returncode, p.stdout, p.stderr)
    obs = session.wait(all_final(1), limit=30)
    assert obs[job].state is S.CANCELLED
    p = run(A.cancel_argv([job]))
    A.parse_cancel(p.returncode, p.stdout, p.stderr)  # already ended: not an error


def test_lookup_finds_a_job_by_name(session: Session) -> None:
    job = session.submit("findme", "true")
    p = run(A.lookup_argv(session.login, f"jl-t{session.tag}-findme"))
    assert list(A.parse_status(p.stdout)) == [job]


def test_rejection_is_not_transient(session: Session) -> None:
    with pytest.raises(SubmitError, match="Invalid partition name") as info:
        session.submit("badpart", "true", resources=Resources(partition="no-such-partition"))
    assert info.value.transient is False


def test_jobs_of_an_unprivileged_user(work: Path) -> None:
    if os.getuid() != 0:
        require("needs root to act as another user (runuser)", "SLURM as another user")
    try:
        user = pwd.getpwnam("hpcuser").pw_name
    except KeyError:
        user = "daemon"  # sbatch refuses only 'nobody'; any other account may submit
    s = Session(work, user)
    try:
        job = s.submit("mine", "id -un")
        obs = s.wait(all_final(1), limit=30)  # squeue --me as that user
        assert obs[job].state is S.COMPLETED
        assert (work / "run" / f"slurm-{job}.out").read_text() == f"{user}\n"
    finally:
        s.cleanup()


@pytest.mark.parametrize("name", ["minimal", "array-throttle"])
def test_golden_scripts_pass_sbatch_test_only(name: str) -> None:
    p = run(["sbatch", "--test-only", str(GOLDEN / f"{name}.sh")])
    assert p.returncode == 0, p.stderr
    assert "to start at" in p.stderr


def test_quoted_values_reach_slurm_intact() -> None:
    p = run(["sbatch", "--test-only", str(GOLDEN / "quoting.sh")])
    assert p.returncode != 0
    assert "invalid partition specified: gpu # a" in p.stderr, shlex.quote(p.stderr)
