"""The fake PBS Pro / Torque / LSF executables, driven end to end through the adapters.

Each test renders a batch script with the real adapter, submits it with the fake ``qsub``
or ``bsub`` (found on ``PATH``, run by the system ``python3``, not the venv), polls with
the adapter's one status command and parses the output with the adapter. Jobs really run
as detached process groups; ``fakesched.py shutdown`` kills what is left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import pytest

from jobledger.errors import SubmitError
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import (
    BatchSpec,
    NativeDependency,
    Observation,
    SchedulerAdapter,
    element_key,
)
from jobledger.schedulers.lsf import LsfAdapter
from jobledger.schedulers.pbs import PbsAdapter, TorqueAdapter
from jobledger.states import JobState

FAKES = Path(__file__).resolve().parent / "fakes"
FLAVORS = ("pbs", "torque", "lsf")
INDEX_VAR = {"pbs": "PBS_ARRAY_INDEX", "torque": "PBS_ARRAYID", "lsf": "LSB_JOBINDEX"}


class Fake:
    """One fake cluster in a temporary directory, seen through one adapter."""

    def __init__(self, flavor: str, root: Path) -> None:
        self.flavor = flavor
        self.root = root
        self.adapter: SchedulerAdapter = {
            "pbs": PbsAdapter,
            "torque": TorqueAdapter,
            "lsf": LsfAdapter,
        }[flavor]()
        home = root / "home"
        home.mkdir()
        bin_dir = FAKES / ("lsf" if flavor == "lsf" else flavor) / "bin"
        path = f"{bin_dir}:/usr/bin:/bin"
        if shutil.which("python3", path="/usr/bin:/bin") is None:  # keep the venv last
            path += f":{Path(sys.executable).parent}"
        self.env = {
            "PATH": path,
            "HOME": str(home),
            "FAKESCHED_DIR": str(root / "state"),
            "FAKESCHED_KILL_DELAY": "0.5",
            "LANG": "C.UTF-8",
        }
        self.count = 0

    def run(self, argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), input=stdin, env=self.env, capture_output=True, text=True, timeout=30,
            cwd=self.root, check=False,
        )  # fmt: skip

    def spec(self, body: str, **kwargs: object) -> BatchSpec:
        """A spec with its own run directory; ``body`` runs after ``cd workdir``."""
        self.count += 1
        run_dir = self.root / f"run{self.count}"
        run_dir.mkdir()
        workdir = self.root / "work"
        workdir.mkdir(exist_ok=True)
        spec = BatchSpec(
            job_name=f"job{self.count}",
            comment=f"jl:{self.count:016x}:1",
            run_dir=str(run_dir),
            workdir=str(workdir),
            body=f"cd {workdir}\n{body}",
        )
        return attrs.evolve(spec, **kwargs)

    def submit(self, spec: BatchSpec) -> str:
        script = Path(spec.run_dir) / "job.sh"
        script.write_text(self.adapter.render_script(spec))
        argv = self.adapter.submit_argv(str(script))
        stdin = script.read_text() if self.adapter.submit_uses_stdin else None
        done = self.run(argv, stdin)
        return self.adapter.parse_submit(done.returncode, done.stdout, done.stderr)

    def status(self, ids: Sequence[str] = ()) -> dict[str, Observation]:
        done = self.run(self.adapter.status_argv(None, ids))
        return self.adapter.parse_status(done.stdout)

    def wait(
        self,
        keys: Sequence[str],
        until: Callable[[Observation], bool] = lambda o: o.state.is_final,
        ids: Sequence[str] = (),
        timeout: float = 20,
    ) -> dict[str, Observation]:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.status(ids)
            if all(k in seen and until(seen[k]) for k in keys):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {keys}: {seen}")
            time.sleep(0.05)

    def log_text(self, spec: BatchSpec) -> str:
        """The scheduler's own log in the run directory (one per job or element)."""
        files = sorted(Path(spec.run_dir).glob("*.o*")) + sorted(p for p in Path(spec.run_dir).glob("*.out"))
        return "".join(p.read_text() for p in files)


@pytest.fixture(params=FLAVORS)
def fake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fake]:
    cluster = Fake(request.param, tmp_path)
    yield cluster
    cluster.run([sys.executable, str(FAKES / "fakesched.py"), "shutdown"])


# ---------------------------------------------------------------------------- lifecycle
@pytest.mark.parametrize("code", [0, 3])
def test_job_queued_running_then_final_with_exit_code(fake: Fake, code: int) -> None:
    fake.env["FAKESCHED_START_DELAY"] = "0.8"
    spec = fake.spec(f'echo "in $(pwd)" > where.txt\nsleep 0.6\necho done\nexit {code}')
    job_id = fake.submit(spec)
    queued = fake.status([job_id])[job_id]
    assert queued.state is JobState.SUBMITTED
    assert queued.comment == spec.comment and queued.name == spec.job_name
    fake.wait([job_id], lambda o: o.state is JobState.RUNNING, [job_id])
    final = fake.wait([job_id], ids=[job_id])[job_id]
    expected = JobState.COMPLETED if code == 0 else JobState.FAILED
    assert (final.state, final.exit_code) == (expected, code)
    assert final.comment == spec.comment
    assert (fake.root / "work" / "where.txt").read_text() == f"in {fake.root / 'work'}\n"
    assert "done" in fake.log_text(spec)


def test_other_status_forms_agree(fake: Fake) -> None:
    """PBS text form, Torque XML and the LSF delimited form say the same as the default."""
    spec = fake.spec("exit 4")
    job_id = fake.submit(spec)
    final = fake.wait([job_id], ids=[job_id])[job_id]
    if fake.flavor == "lsf":
        argv = LsfAdapter(json_status=False).status_argv(None, [job_id])
    elif fake.flavor == "pbs":
        argv = PbsAdapter(json_status=False).status_argv(None, [job_id])
    else:
        argv = ["qstat", "-x", "-f", "-t", job_id]
    other = fake.adapter.parse_status(fake.run(argv).stdout)[job_id]
    assert (other.state, other.exit_code, other.comment) == (final.state, 4, spec.comment)
    assert final.state is JobState.FAILED


def test_job_environment_and_start_directory(fake: Fake) -> None:
    # no "cd workdir" in this body: where does the scheduler start the job?
    body = f"pwd > {fake.root}/start.txt\nenv > {fake.root}/env.txt"
    spec = attrs.evolve(fake.spec(""), body=body)
    job_id = fake.submit(spec)
    fake.wait([job_id], ids=[job_id])
    env = dict(line.split("=", 1) for line in (fake.root / "env.txt").read_text().splitlines() if "=" in line)
    start = (fake.root / "start.txt").read_text().strip()
    if fake.flavor == "pbs":  # PBS Pro has no chdir directive: jobs start in $HOME
        assert start == fake.env["HOME"]
        assert env["PBS_JOBID"] == job_id and env["JL_TAG"] == spec.comment
        assert env["PBS_O_WORKDIR"] == str(fake.root)
    elif fake.flavor == "torque":  # -d workdir
        assert start == spec.workdir
        assert env["PBS_JOBID"] == job_id and env["JL_TAG"] == spec.comment
    else:  # -cwd workdir
        assert start == spec.workdir
        assert env["LSB_JOBID"] == job_id and env["LSB_JOBINDEX"] == "0"


# ---------------------------------------------------------------------------- arrays
def test_array_with_throttle(fake: Fake) -> None:
    var = INDEX_VAR[fake.flavor]
    spec = fake.spec(
        f'echo "${var}" > "out-${var}.txt"\nsleep 0.5\n[ "${var}" != 3 ]',
        array=ArraySpec.parse("1-4%2"),
    )
    job_id = fake.submit(spec)
    keys = [element_key(job_id, i) for i in range(1, 5)]
    most = 0
    deadline = time.monotonic() + 20
    while True:
        seen = fake.status([job_id])
        most = max(most, sum(seen[k].state is JobState.RUNNING for k in keys if k in seen))
        if all(k in seen and seen[k].state.is_final for k in keys):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    assert most == 2
    assert [seen[k].state for k in keys] == [
        JobState.COMPLETED, JobState.COMPLETED, JobState.FAILED, JobState.COMPLETED,
    ]  # fmt: skip
    assert seen[keys[2]].exit_code == 1
    assert all(seen[k].base_id == job_id and seen[k].comment == spec.comment for k in keys)
    for i in range(1, 5):
        assert (fake.root / "work" / f"out-{i}.txt").read_text() == f"{i}\n"


# ---------------------------------------------------------------------------- dependencies
def test_dependency_waits_then_runs(fake: Fake) -> None:
    upstream = fake.submit(fake.spec("sleep 0.8"))
    downstream = fake.submit(fake.spec("echo ran > after.txt", dependencies=(NativeDependency(upstream),)))
    waiting = fake.wait([upstream], lambda o: o.state is JobState.RUNNING)[downstream]
    assert waiting.state is JobState.SUBMITTED and waiting.reason == "Dependency"
    final = fake.wait([upstream, downstream])
    assert final[upstream].state is final[downstream].state is JobState.COMPLETED
    assert (fake.root / "work" / "after.txt").exists()


def test_afterok_on_a_failed_upstream_never_runs(fake: Fake) -> None:
    upstream = fake.submit(fake.spec("exit 1"))
    spec = fake.spec("touch never.txt", dependencies=(NativeDependency(upstream, "afterok"),))
    downstream = fake.submit(spec)
    if fake.flavor == "lsf":  # LSF keeps it pending forever
        seen = fake.wait([downstream], lambda o: o.reason == "DependencyNeverSatisfied", [downstream])
        assert seen[downstream].state is JobState.SUBMITTED
    else:  # PBS deletes it; only PBS Pro says why
        seen = fake.wait([downstream], ids=[upstream, downstream])
        expected = JobState.DEPENDENCY_FAILED if fake.flavor == "pbs" else JobState.CANCELLED
        assert seen[downstream].state is expected
        assert seen[downstream].exit_code is None
    assert not (fake.root / "work" / "never.txt").exists()


# ---------------------------------------------------------------------------- cancel
def test_cancel_running_and_queued(fake: Fake) -> None:
    fake.env["FAKESCHED_SLOTS"] = "1"
    running = fake.spec(f"echo $$ > {fake.root}/pid.txt\nsleep 30")
    running_id = fake.submit(running)
    queued_id = fake.submit(fake.spec("sleep 30"))
    fake.wait([running_id], lambda o: o.state is JobState.RUNNING)
    pid_file = fake.root / "pid.txt"
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert fake.status([queued_id])[queued_id].state is JobState.SUBMITTED

    done = fake.run(fake.adapter.cancel_argv([queued_id, running_id]))
    fake.adapter.parse_cancel(done.returncode, done.stdout, done.stderr)
    final = fake.wait([running_id, queued_id], ids=[running_id, queued_id])
    assert final[queued_id].state is JobState.CANCELLED
    if fake.flavor == "torque":  # Torque cannot tell qdel from any other SIGTERM
        assert (final[running_id].state, final[running_id].signal) == (JobState.FAILED, 15)
    else:
        assert final[running_id].state is JobState.CANCELLED
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)

    again = fake.run(fake.adapter.cancel_argv([running_id]))
    assert again.returncode != 0
    fake.adapter.parse_cancel(again.returncode, again.stdout, again.stderr)  # already ended


def test_cancel_one_array_element(fake: Fake) -> None:
    job_id = fake.submit(fake.spec("sleep 30", array=ArraySpec.parse("1-3")))
    keys = [element_key(job_id, i) for i in (1, 2, 3)]
    fake.wait(keys, lambda o: o.state is JobState.RUNNING, [job_id])
    done = fake.run(fake.adapter.cancel_argv([keys[1]]))
    fake.adapter.parse_cancel(done.returncode, done.stdout, done.stderr)
    seen = fake.wait([keys[1]], ids=[job_id])
    assert seen[keys[1]].state.is_final
    assert seen[keys[0]].state is seen[keys[2]].state is JobState.RUNNING


# ---------------------------------------------------------------------------- walltime
def test_walltime_kill_is_a_timeout(fake: Fake) -> None:
    if fake.flavor == "lsf":  # -W is in whole minutes: one minute, scaled to 1.5 s
        fake.env["FAKESCHED_WALLTIME_SCALE"] = "0.025"
        seconds = 60
    else:
        seconds = 1
    spec = fake.spec("sleep 30", resources=Resources(time=seconds))
    job_id = fake.submit(spec)
    final = fake.wait([job_id], ids=[job_id])[job_id]
    assert final.state is JobState.TIMEOUT
    if fake.flavor == "lsf":
        assert final.reason.startswith("TERM_RUNLIMIT") and final.exit_code == 140


# ---------------------------------------------------------------------------- faults
def test_transient_and_hard_submit_failures(fake: Fake) -> None:
    spec = fake.spec("true")
    fake.env["FAKESCHED_FAIL_NEXT_SUBMIT"] = "transient"
    with pytest.raises(SubmitError) as err:
        fake.submit(spec)
    assert err.value.transient
    job_id = fake.submit(spec)  # the fault was used once
    assert fake.wait([job_id], ids=[job_id])[job_id].state is JobState.COMPLETED
    fake.env["FAKESCHED_FAIL_NEXT_SUBMIT"] = "hard"
    with pytest.raises(SubmitError) as err:
        fake.submit(spec)
    assert not err.value.transient


def test_lost_submit_reply_is_found_again_by_tag(fake: Fake) -> None:
    (fake.root / "state").mkdir()
    (fake.root / "state" / "fail_next_submit").write_text("lost\n")
    spec = fake.spec("sleep 0.2")
    with pytest.raises(SubmitError) as err:
        fake.submit(spec)
    assert err.value.transient  # so the engine reconciles before resubmitting
    listing = fake.run(fake.adapter.lookup_argv(None, spec.job_name))
    found = [o for o in fake.adapter.parse_status(listing.stdout).values() if o.comment == spec.comment]
    assert len(found) == 1 and found[0].name == spec.job_name


def test_status_failure_is_transient(fake: Fake) -> None:
    fake.env["FAKESCHED_FAIL_NEXT_STATUS"] = "transient"
    done = fake.run(fake.adapter.status_argv(None, []))
    assert done.returncode != 0
    assert fake.adapter.is_transient(done.stderr)
    assert fake.run(fake.adapter.status_argv(None, [])).returncode == 0


def test_unknown_ids_and_version(fake: Fake) -> None:
    raw = ["bjobs", "424242"] if fake.flavor == "lsf" else ["qstat", "-f", "424242"]
    done = fake.run(raw)
    assert done.returncode != 0 and "424242" in done.stderr
    if fake.flavor != "lsf":  # the adapter's call keeps what qstat printed for known ids
        known = fake.submit(fake.spec("true"))
        done = fake.run(fake.adapter.status_argv(None, ["424242", known]))
        assert done.returncode == 0 and "Unknown Job Id" in done.stderr
        assert list(fake.adapter.parse_status(done.stdout)) == [known]
    version = fake.run(fake.adapter.version_argv())
    assert version.returncode == 0
    marker = {"pbs": "pbs_version = ", "torque": "Version: ", "lsf": "IBM Spectrum LSF"}
    assert marker[fake.flavor] in version.stdout + version.stderr
