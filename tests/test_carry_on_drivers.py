"""Who drives after whom (issue 15, item 4): a waiter takes over when the driver dies, a
cancel sticks under any retry policy, two scripts whose workflows share a name both
complete, and a ``jobledger wait`` that stops early names what is unfinished and why.

Each task appends its name to a tally file outside the project: every job runs exactly
once (or, cancelled, never).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import env_with_src
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project
from services import require, slurm_available

pytestmark = pytest.mark.slow

BACKENDS = ["local", pytest.param("slurm", marks=pytest.mark.slurm)]


class Place:
    """A project whose jobs go to ``host``, a tally outside it, and ways to run things."""

    def __init__(self, base: Path, backend: str) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.root = base / "proj"
        self.tally = base / "tally.txt"
        self.elsewhere = base / "elsewhere"
        self.elsewhere.mkdir(parents=True)
        Project.init(self.root).close()
        self.host = "local"
        if backend == "slurm":
            require(slurm_available(), "SLURM (make slurm-up)")
            self.host = "cluster"
            (self.root / "jobledger.toml").write_text(
                '[hosts.cluster]\nscheduler = "slurm"\npoll_interval = 0.3\n'
            )

    def env(self) -> dict[str, str]:
        env = env_with_src()
        env["JOBLEDGER_QUIET"] = "1"
        return env

    def script(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text.replace("@TALLY@", repr(str(self.tally))).replace("@HOST@", repr(self.host)))
        return path

    def start(self, *argv: str) -> subprocess.Popen[str]:
        """Start ``python ARGV`` in the project (end it with ``communicate``)."""
        return subprocess.Popen(
            [sys.executable, *argv], cwd=self.root, env=self.env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def finished(self, *argv: str) -> None:
        """Run ``python ARGV`` in the project; it must succeed."""
        proc = self.start(*argv)
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err

    def cli(
        self, *args: str, cwd: Path | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobledger.cli.main", *args], cwd=cwd or self.root, env=self.env(),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def ran(self) -> list[str]:
        return sorted(self.tally.read_text().split()) if self.tally.exists() else []

    def rows(self) -> dict[str, dict]:  # type: ignore[type-arg]
        out = self.cli("status", "--json")
        assert out.returncode == 0, out.stderr
        return {r["name"]: r for r in json.loads(out.stdout)}

    def wait_for(self, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while what not in self.ran():
            assert time.monotonic() < deadline, f"{what} never ran (tally: {self.ran()})"
            time.sleep(0.05)

    def verified(self) -> bool:
        return verify_ledger(self.root / ".jobledger" / "ledger").ok


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def place(backend: str, tmp_path: Path) -> Iterator[Place]:
    yield Place(tmp_path, backend)


def side_by_side(check: Callable[[str], None], variants: Sequence[str]) -> None:
    """Run ``check(variant)`` for each variant at once; fail naming each that failed."""
    with ThreadPoolExecutor(len(variants)) as pool:
        futures = {v: pool.submit(check, v) for v in variants}
    for future in futures.values():
        error = future.exception()
        if isinstance(error, pytest.skip.Exception):
            raise error  # a service missing on this machine skips the test
    failed = [f"{v}: {f.exception()}" for v, f in futures.items() if f.exception() is not None]
    assert not failed, "\n\n".join(failed)


# ---------------------------------------------------------------------- take-over
CHAIN = textwrap.dedent(
    """
    import os, sys
    import jobledger as jl

    TALLY = @TALLY@

    def note(name):
        with open(TALLY, "a") as fh:
            fh.write(name + "\\n")

    def flaky():
        # fails the first time: the retry must be decided and submitted by whoever drives
        marker = TALLY + ".flaky"
        note("flaky")
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first attempt fails")

    def build():
        # "first" runs until the test has killed the driver
        hold = f"while [ ! -e {TALLY}.release ]; do sleep 0.1; done"
        first = jl.Job(name="first", command=f"echo first >> {TALLY}; {hold}", host=@HOST@)
        retried = jl.Job(name="retried", command=flaky, after=[first], retries=2, retry_on=["failed"],
                         host=@HOST@)
        last = jl.Job(name="last", command=f"echo last >> {TALLY}", after=[retried], host=@HOST@)
        return jl.Workflow([first, retried, last], name="chain")

    if __name__ == "__main__":
        jl.run(build(), wait=True, check=False)
    """
)

WAITER = textwrap.dedent(
    """
    import sys
    import jobledger as jl
    results = jl.wait(project=sys.argv[1], progress=False, check=False)
    print(sorted((name, r.state.value) for name, r in results.items()))
    """
)


def test_a_waiter_takes_over_when_the_driver_dies(backend: str, tmp_path: Path) -> None:
    """The waiter (``jobledger wait`` from elsewhere, or ``jl.wait`` of a second script)
    starts while the script drives — it only follows — and the script is killed: the
    waiter becomes the driver; it decides the retry and submits the downstream job."""
    side_by_side(lambda waiter: _take_over(Place(tmp_path / waiter, backend), waiter), ["cli", "jl.wait"])


def _take_over(place: Place, waiter: str) -> None:
    place.script("chain.py", CHAIN)
    driver = place.start("chain.py")
    place.wait_for("first")
    if waiter == "cli":
        follower = subprocess.Popen(
            [sys.executable, "-m", "jobledger.cli.main", "-C", str(place.root), "wait"],
            cwd=place.elsewhere, env=place.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    else:
        (place.elsewhere / "waiter.py").write_text(WAITER)
        follower = subprocess.Popen(
            [sys.executable, "waiter.py", str(place.root)], cwd=place.elsewhere, env=place.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    time.sleep(1.0)  # the follower is following
    assert driver.poll() is None, "the script ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.communicate(timeout=60)
    Path(f"{place.tally}.release").touch()
    out, err = follower.communicate(timeout=240)
    assert follower.returncode == 0, err
    assert place.ran() == ["first", "flaky", "flaky", "last"], (place.ran(), out, err)
    rows = place.rows()
    assert {n: r["state"] for n, r in rows.items()} == dict.fromkeys(
        ["first", "retried", "last"], "completed"
    )
    assert len(rows["retried"]["attempts"]) == 2
    assert all(r["host"] == place.host for r in rows.values())
    assert place.verified()


# ---------------------------------------------------------------------- cancel
VICTIMS = textwrap.dedent(
    """
    import jobledger as jl

    TALLY = @TALLY@
    POLICY = dict(retries=3, retry_on=["cancelled", "failed", "timeout", "lost"])

    def build():
        # the gate holds "waiting" back until the test has cancelled it
        hold = f"while [ ! -e {TALLY}.release ]; do sleep 0.1; done"
        gate = jl.Job(name="gate", command=f"{hold}; echo gate >> {TALLY}", host=@HOST@)
        waiting = jl.Job(name="waiting", command=f"echo waiting >> {TALLY}", after=[gate], host=@HOST@,
                         **POLICY)
        running = jl.Job(name="running", command=f"echo running >> {TALLY}; sleep 60; echo late >> {TALLY}",
                         host=@HOST@, **POLICY)
        after = jl.Job(name="after", command=f"echo after >> {TALLY}", after=[waiting, running], host=@HOST@)
        return jl.Workflow([gate, waiting, running, after], name="victims")

    if __name__ == "__main__":
        jl.run(build(), wait=True, check=False)
    """
)


def test_a_cancel_sticks_under_any_retry_policy(backend: str, tmp_path: Path) -> None:
    """``jobledger cancel`` of a running job and of one not yet submitted, both with a
    policy that retries ``cancelled``; the driver is killed afterwards and the work is
    carried on (``jobledger resume`` from a subdirectory, ``jobledger wait`` from
    elsewhere): neither runs again, their dependent never runs."""
    side_by_side(lambda then: _cancel_sticks(Place(tmp_path / then, backend), then), ["resume", "wait"])


def _cancel_sticks(place: Place, then: str) -> None:
    place.script("victims.py", VICTIMS)
    driver = place.start("victims.py")
    try:
        place.wait_for("running")
        out = place.cli("cancel", "waiting", "running", "--grace", "2")
        Path(f"{place.tally}.release").touch()
        assert out.returncode == 0, out.stderr
        assert "cancelled waiting" in out.stdout and "cancelled running" in out.stdout
        time.sleep(1.0)  # the driver sees the cancels and the gate's end
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=60)
    if then == "resume":
        carried = place.cli("resume", cwd=place.root / "jobs")
    else:
        carried = place.cli("-C", str(place.root), "wait", cwd=place.elsewhere)
    assert carried.returncode == 1, carried.stderr  # a job did not complete: the cancelled ones
    time.sleep(1.0)
    rows = place.rows()
    states = {n: r["state"] for n, r in rows.items()}
    assert states == {
        "gate": "completed",
        "waiting": "cancelled",
        "running": "cancelled",
        "after": "dependency_failed",
    }, rows
    assert len(rows["waiting"]["attempts"]) == 1 and len(rows["running"]["attempts"]) == 1
    assert place.ran() == ["gate", "running"]  # "waiting" never started, "running" never ended
    assert place.verified()


# ---------------------------------------------------------------------- one name, two scripts
UNNAMED = textwrap.dedent(
    """
    import os, sys
    import jobledger as jl

    TALLY = @TALLY@
    me = os.path.splitext(os.path.basename(__file__))[0]
    first = jl.Job(name=f"{me}-first", command=f"echo {me}-first >> {TALLY}; sleep 2", host=@HOST@)
    second = jl.Job(name=f"{me}-second", command=f"echo {me}-second >> {TALLY}", after=[first], host=@HOST@)
    if sys.argv[1] == "exit":
        jl.run(jl.Workflow([first, second]))  # no name: "default"
        os._exit(0)
    jl.run(jl.Workflow([first, second]), wait=True)
    """
)


def test_two_scripts_sharing_a_workflow_name_both_complete(place: Place) -> None:
    """Two unnamed workflows ("default") of two scripts: the first leaves pending work
    when it ends, the second runs; every job of both runs once."""
    place.script("one.py", UNNAMED)
    place.script("two.py", UNNAMED)
    place.finished("one.py", "exit")
    place.finished("two.py", "wait")
    resumed = place.cli("resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert place.ran() == sorted(["one-first", "one-second", "two-first", "two-second"])
    states = {n: r["state"] for n, r in place.rows().items()}
    assert states == dict.fromkeys(["one-first", "one-second", "two-first", "two-second"], "completed")
    assert place.verified()


# ---------------------------------------------------------------------- an early stop says why
STUCK = textwrap.dedent(
    """
    import os, time
    import jobledger as jl

    TALLY = @TALLY@
    slow = jl.Job(name="slow", command=f"echo slow >> {TALLY}; sleep 30", host=@HOST@)
    blocked = jl.Job(name="blocked", command=f"echo blocked >> {TALLY}", after=[slow], host=@HOST@)
    handle = jl.run(jl.Workflow([slow, blocked], name="stuck"))
    while jl.check(handle)["slow"] is not jl.JobState.RUNNING:  # (a job handed and not yet
        time.sleep(0.05)  # started when its driver dies waits for the next driver)
    os._exit(0)
    """
)


def test_wait_that_stops_early_names_the_unfinished_jobs_and_why(place: Place) -> None:
    place.script("stuck.py", STUCK)
    place.finished("stuck.py")
    place.wait_for("slow")
    started = time.monotonic()
    out = place.cli("wait", "--timeout", "2")
    assert out.returncode == 3, out.stdout + out.stderr
    assert time.monotonic() - started < 20, "it gave up, then drove on until the jobs ended"
    message = out.stderr
    assert f"slow (running on {place.host})" in message, message
    why = "submitted on cluster" if place.host == "cluster" else "waiting for its upstream jobs"
    assert f"blocked ({why}" in message, message
    assert "Traceback" not in message
    place.cli("cancel", "stuck", "--grace", "1")
