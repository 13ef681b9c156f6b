"""A later process carries on exactly what the ledger holds (issue 15, item 4).

The defining script exits or is killed (SIGKILL) at a random point; then ``jobledger
wait``, ``jobledger resume``, ``jl.wait`` from a second script or a re-run of the script
carries on, from the project or from another current directory. Every job — shell jobs
and Python calls of every kind (a function of the script, of a module next to it, a
closure, a lambda, a ``functools.partial``, a bound method) — runs exactly once, on the
host chosen at first (``run(host=...)``, ``jobledger run --host``, ``JOBLEDGER_HOST``), in
the directory it was defined in. Each task appends ``name host cwd`` to a tally file
outside the project: that file is the witness.

Variants run side by side inside one test (one project each) to keep the suite short.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from conftest import env_with_src
from jobledger.ledger.verify import verify_ledger
from jobledger.project import Project
from services import require, sge_available, slurm_available, sshd_available, sshd_info

pytestmark = pytest.mark.slow

HELPERS = textwrap.dedent(
    """
    import dataclasses
    import os


    def note(name, tally):
        with open(tally, "a") as fh:
            fh.write(f"{name} {os.environ.get('JL_WHERE', '?')} {os.getcwd()}\\n")
        return name


    def closure(name, tally):
        def inner():
            return note(name, tally)

        return inner


    @dataclasses.dataclass(frozen=True)
    class Recorder:
        tally: str

        def run(self, name):
            return note(name, self.tally)
    """
)

WF = textwrap.dedent(
    """
    import functools
    import os
    import sys

    import jobledger as jl

    import helpers

    TALLY = @TALLY@
    GATE = @GATE@


    def in_script():
        return helpers.note("script_func", TALLY)


    def line(name):
        return f'echo "{name} $JL_WHERE $PWD" >> {TALLY}'


    def build():
        gate = jl.Job(name="gate", command=f"sleep {GATE}; " + line("gate"))
        up = [gate]
        middle = [
            jl.Job(name="shell", command="cat data.txt > /dev/null && " + line("shell"), inputs=["data.txt"], after=up),
            jl.Job(name="script_func", command=in_script, after=up),
            jl.Job(name="module_func", command=helpers.note, args=("module_func", TALLY), after=up),
            jl.Job(name="closure", command=helpers.closure("closure", TALLY), after=up),
            jl.Job(name="lambda", command=lambda: helpers.note("lambda", TALLY), after=up),
            jl.Job(name="partial", command=functools.partial(helpers.note, "partial", TALLY), after=up),
            jl.Job(name="bound", command=helpers.Recorder(TALLY).run, args=("bound",), after=up),
        ]
        merge = jl.Job(name="merge", command=line("merge"), after=middle)
        return jl.Workflow([gate, *middle, merge], name="carry")


    if __name__ == "__main__":
        how, end = sys.argv[1], sys.argv[2]
        host = how.split(":", 1)[1] if how.startswith("arg:") else None
        if end == "exit":  # leave without driving on (no atexit): work is left for others
            jl.run(build(), host=host)
            os._exit(0)
        jl.run(build(), host=host, wait=True)
    """
)
NAMES = ["gate", "shell", "script_func", "module_func", "closure", "lambda", "partial", "bound", "merge"]

SECOND_ALL = """\
import jobledger as jl
jl.wait(project=@PROJECT@, progress=False)
"""

SECOND_IMPORT = """\
import sys
sys.path.insert(0, @PROJECT@)
import jobledger as jl
import wf
jl.wait(wf.build(), project=@PROJECT@, progress=False)
"""


def _py(text: str, **values: object) -> str:
    for name, value in values.items():
        text = text.replace(f"@{name.upper()}@", repr(value))
    return text


@attrs.define
class Variant:
    """One project, one way of choosing the host, one way of dying, one way of carrying on."""

    root: Path
    tally: Path
    elsewhere: Path
    host: str
    choose: str
    """``arg`` (``run(host=...)``), ``cli`` (``jobledger run --host``) or ``env``."""
    end: str
    """``kill`` (SIGKILL at a random moment) or ``exit`` (``os._exit`` right after run)."""
    carry: str
    delay: float
    log: list[str] = attrs.field(factory=list)

    @property
    def label(self) -> str:
        return f"{self.carry}/{self.choose}/{self.end}/{self.delay:.2f}s"

    # ------------------------------------------------------------------ processes
    def env(self) -> dict[str, str]:
        env = env_with_src()
        # no empty entry (the current directory) on the jobs' import path
        env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p)
        env["JOBLEDGER_QUIET"] = "1"
        if self.choose == "env":
            env["JOBLEDGER_HOST"] = self.host
        return env

    def define_argv(self, script: str, end: str) -> list[str]:
        if self.choose == "cli":
            return [
                sys.executable,
                "-m",
                "jobledger.cli.main",
                "run",
                "--host",
                self.host,
                script,
                "plain",
                end,
            ]
        how = f"arg:{self.host}" if self.choose == "arg" else "plain"
        return [sys.executable, script, how, end]

    def cli(self, *args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "jobledger.cli.main", *args]
        return self.run(argv, cwd, timeout)

    def run(self, argv: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout)
        self.log.append(
            f"$ (cd {cwd}; {' '.join(argv[1:])}) -> {done.returncode}\n{done.stdout}{done.stderr}"
        )
        return done

    def start(self) -> None:
        """Run the defining script and let it die (or exit) once the workflow is recorded."""
        argv = self.define_argv("wf.py", self.end)
        proc = subprocess.Popen(
            argv, cwd=self.root, env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while not gate_dispatched(self.root):
            assert time.monotonic() < deadline, f"{self.label}: the gate was never submitted"
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        if not gate_dispatched(self.root):
            raise AssertionError(f"{self.label}: the defining script ended early: {proc.communicate()[1]}")
        if self.end == "kill":
            time.sleep(self.delay)
            proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=120)
        self.log.append(f"defining script ended {proc.returncode}: {err[-2000:]}")

    def carry_on(self) -> subprocess.CompletedProcess[str]:
        """The later process of this variant."""
        sub = self.root / "sub"
        if self.carry == "wait":
            return self.cli("wait", cwd=self.root)
        if self.carry == "wait-elsewhere":
            return self.cli("-C", str(self.root), "wait", cwd=self.elsewhere)
        if self.carry == "resume":
            return self.cli("resume", cwd=self.root)
        if self.carry == "resume-sub":
            return self.cli("resume", cwd=sub)
        if self.carry == "jl.wait":
            script = self.elsewhere / "second.py"
            script.write_text(_py(SECOND_ALL, project=str(self.root)))
            return self.run([sys.executable, str(script)], self.elsewhere)
        if self.carry == "jl.wait-import":
            script = self.elsewhere / "second.py"
            script.write_text(_py(SECOND_IMPORT, project=str(self.root)))
            return self.run([sys.executable, str(script)], self.elsewhere)
        if self.carry == "rerun":
            return self.run(self.define_argv("wf.py", "wait"), self.root)
        if self.carry == "rerun-sub":
            return self.run(self.define_argv("../wf.py", "wait"), sub)
        raise AssertionError(self.carry)

    # ------------------------------------------------------------------ checks
    def tally_lines(self) -> list[list[str]]:
        text = self.tally.read_text() if self.tally.exists() else ""
        return [line.split(" ", 2) for line in text.splitlines()]

    def check(
        self, done: subprocess.CompletedProcess[str], where: Callable[[str], str] | None = None
    ) -> None:
        """Every job ran exactly once, on the chosen host, in the project directory."""
        why = "\n".join([f"variant {self.label}", *self.log])
        assert done.returncode == 0, why
        lines = self.tally_lines()
        assert sorted(name for name, *_ in lines) == sorted(NAMES), (
            f"ran {sorted(n for n, *_ in lines)}\n{why}"
        )
        for name, host, cwd in lines:
            assert host == self.host, f"{name} ran on {host}, not {self.host}\n{why}"
            ok = where(name, cwd) if where else cwd == str(self.root)
            assert ok, f"{name} ran in {cwd}, not in its own directory\n{why}"
        states, verified = ledger_says(self.root)
        assert verified, f"jobledger verify fails\n{why}"
        assert states == dict.fromkeys(NAMES, "completed"), why


def make_project(base: Path, name: str, hosts_toml: str) -> tuple[Path, Path, Path]:
    """A project with the script, its helper module, an input and a subdirectory; a tally
    file and another directory, both outside it."""
    root = base / name / "proj"
    outside = base / name / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    outside.chmod(0o777)  # jobs over SSH run as another user
    Project.init(root).close()
    (root / "jobledger.toml").write_text(hosts_toml)
    (root / "helpers.py").write_text(HELPERS)
    (root / "data.txt").write_text("input\n")
    (root / "sub" / "data.txt").write_text("input\n")  # the same input, seen from sub/
    return root, outside / "tally.txt", outside


def gate_dispatched(root: Path) -> bool:
    """True once the ledger holds an attempt of the first job (its submission began)."""
    if not any((root / ".jobledger" / "ledger").glob("*.seg")):
        return False
    project = Project.open(root)
    try:
        return any(j.name == "gate" and j.current is not None for j in project.ledger.state.jobs())
    finally:
        project.close()


def ledger_says(root: Path) -> tuple[dict[str, str], bool]:
    """Each job's state by name as the project's ledger holds it, and whether it verifies.

    A job of an earlier definition that never ran is left out: a re-run that found the
    work it waited for already done (awflow's prune) defines a smaller workflow, and the
    old one's job, never submitted, is superseded, not unfinished."""
    project = Project.open(root)
    try:
        state = project.ledger.state
        never_ran = {
            key
            for info in state.workflows().values()
            for key in info.superseded
            if (job := state.job(key)) is not None and job.current is None
        }
        states = {job.name: job.state.value for job in state.jobs() if job.key not in never_ran}
        return states, verify_ledger(project.ledger_dir).ok
    finally:
        project.close()


CARRY = ["wait", "wait-elsewhere", "resume", "resume-sub", "jl.wait", "jl.wait-import", "rerun", "rerun-sub"]


def variants(
    base: Path, host: str, hosts_toml: str, carries: Sequence[str], seed: int, gate: float
) -> list[Variant]:
    """One project per way of carrying on; host choice and way of dying vary among them."""
    rnd = random.Random(seed)
    out = []
    for number, carry in enumerate(carries):
        root, tally, outside = make_project(base, carry, hosts_toml)
        (root / "wf.py").write_text(_py(WF, tally=str(tally), gate=gate))
        choose = ("arg", "cli", "env")[(number + seed) % 3]
        end = ("kill", "exit")[(number // 3 + number + seed) % 2]
        out.append(Variant(root, tally, outside, host, choose, end, carry, rnd.uniform(0.0, gate + 1.0)))
    return out


def run_all(items: Sequence[Variant], where: Callable[[Variant, str, str], bool] | None = None) -> None:
    """Start, kill and carry on every variant side by side; check each."""

    def one(variant: Variant) -> None:
        variant.start()
        done = variant.carry_on()
        variant.check(done, None if where is None else lambda name, cwd: where(variant, name, cwd))

    all_done(one, items)


def all_done(one: Callable[[Any], None], items: Sequence[Any]) -> None:
    """Run ``one`` on every item side by side; fail naming every item that failed."""
    with ThreadPoolExecutor(len(items)) as pool:
        futures = [pool.submit(one, item) for item in items]
    errors = [str(f.exception()) for f in futures if f.exception() is not None]
    assert not errors, f"{len(errors)} of {len(items)} variants failed:\n\n" + "\n\n".join(errors)


def _seed() -> int:
    return int(os.environ.get("CARRY_ON_SEED") or time.time() * 1000) % 1_000_000


LOCAL_HOSTS = '[hosts.local]\nenv = { JL_WHERE = "local" }\n\n'


def _in_remote_run_dir(variant: Variant, name: str, cwd: str) -> bool:
    """A job on a host reached over SSH runs in its run directory under the remote root."""
    project = Project.open(variant.root)
    try:
        (job,) = [j for j in project.ledger.state.jobs() if j.name == name]
        return job.run_dir is not None and cwd.endswith("/" + job.run_dir) and cwd.startswith("/home/")
    finally:
        project.close()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory outside the project that the SSH test user may write to."""
    path = Path(tempfile.mkdtemp(prefix="jl-carry-", dir="/var/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    "backend",
    [
        "local",
        pytest.param("slurm", marks=pytest.mark.slurm),
        pytest.param("sge", marks=pytest.mark.sge),
        pytest.param("ssh", marks=[pytest.mark.ssh, pytest.mark.slurm]),
    ],
)
def test_carry_on_every_way(backend: str, tmp_path: Path, shared_dir: Path) -> None:
    """The defining script dies; each way of carrying on, from the project or from
    elsewhere, runs every job once, on the chosen host, in its own directory."""
    carries = CARRY
    base = tmp_path
    where = None
    if backend == "local":  # a second local host: the choice is visible even here
        toml = LOCAL_HOSTS + '[hosts.box]\nscheduler = "local"\nenv = { JL_WHERE = "box" }\n'
        host = "box"
    elif backend in ("slurm", "sge"):
        require(slurm_available() if backend == "slurm" else sge_available(), f"{backend} (make services-up)")
        toml = LOCAL_HOSTS + (
            f'[hosts.cluster]\nscheduler = "{backend}"\npoll_interval = 0.3\n'
            'env = { JL_WHERE = "cluster" }\n'
        )
        host = "cluster"
        if backend == "sge":
            carries = ["wait-elsewhere", "resume-sub", "jl.wait-import", "rerun-sub"]
    else:
        info = sshd_info()
        require(sshd_available(info), "the test sshd (make sshd-up)")
        require(slurm_available(), "SLURM (make slurm-up)")
        assert info is not None
        toml = LOCAL_HOSTS + (
            f'[hosts.far]\nssh = "{info.alias}"\nssh_config = "{info.ssh_config}"\nscheduler = "slurm"\n'
            f'workdir = "{shared_dir.name}-work"\npoll_interval = 0.5\npython = "{info.python}"\n'
            'env = { JL_WHERE = "far" }\n'
        )
        host = "far"
        base = shared_dir  # the tally must be writable by the SSH user
        carries = ["wait-elsewhere", "resume-sub", "rerun"]
        where = _in_remote_run_dir
    seed = _seed()
    items = variants(base, host, toml, carries, seed, gate=1.5 if backend == "local" else 3.0)
    print(f"seed {seed}:", ", ".join(v.label for v in items))
    run_all(items, where)


# ---------------------------------------------------------------------- the faces
NOTE = """\
import os


def note(what):
    with open(@TALLY@, "a") as fh:
        fh.write(f"{what} {os.environ.get('JL_WHERE', '?')} {os.getcwd()}\\n")
"""

AWFLOW = """\
import os
import sys
import time

from jobledger import after, ensure, job, schedule

from notes import note

HERE = os.path.dirname(os.path.abspath(__file__))


@ensure(lambda i: os.path.exists(os.path.join(HERE, f"est-{i}.txt")))
@job(array=4)
def estimate(i):
    time.sleep(1.0 + i / 4)
    note(f"estimate-{i}")
    with open(os.path.join(HERE, f"est-{i}.txt"), "w") as fh:
        fh.write("x")


@after(estimate)
@ensure(lambda: os.path.exists(os.path.join(HERE, "merged.txt")))
@job
def merge():
    note("merge")
    open(os.path.join(HERE, "merged.txt"), "w").close()


merge.prune()  # as the seed does: drop what already holds
schedule(merge, backend=@BACKEND@)
"""

HPCRUNNER = """\
import functools
import time

from jobledger import Pipeline

from notes import note

TALLY = @TALLY@


def step(name, seconds):
    time.sleep(seconds)
    note(name)


with Pipeline("hr") as p:
    p.add(functools.partial(step, "prep", 1.5), name="prep")
    p.add('echo "train $JL_WHERE $PWD" >> ' + TALLY, name="train", depends_on=["prep"])
    p.add(functools.partial(step, "evaluate", 0), name="evaluate", depends_on=["train"])
    p.submit(reuse=True)  # hpc-runner runs a pipeline anew on each submit; carrying on asks for reuse
p.wait()
"""

MULTIRUN = """\
import os

from jobledger.api.multirun import ClusterRunner, ParallelLocalRunner, multirun

HERE = os.path.dirname(os.path.abspath(__file__))
TALLY = @TALLY@
BACKEND = @BACKEND@

line = 'sleep 1; echo "run-$JOBLEDGER_RUN_INDEX $JL_WHERE $PWD" >> ' + TALLY
runner = ParallelLocalRunner(max_parallel=4) if BACKEND == "local" else ClusterRunner(BACKEND, max_parallel=4)
multirun(
    runs=[{"x": i} for i in range(8)],
    cmd=["bash", "-c", line],
    output_path=os.path.join(HERE, "sweep"),
    runner=runner,
)
"""

FACES = {
    "awflow": (AWFLOW, [f"estimate-{i}" for i in range(4)] + ["merge"]),
    "hpcrunner": (HPCRUNNER, ["prep", "train", "evaluate"]),
    "multirun": (MULTIRUN, [f"run-{i}" for i in range(8)]),
}


@attrs.define
class FaceVariant:
    """A face's script killed at a random moment, then carried on in one way."""

    face: str
    carry: str
    root: Path
    tally: Path
    elsewhere: Path
    host: str
    delay: float
    log: list[str] = attrs.field(factory=list)

    @property
    def label(self) -> str:
        return f"{self.face}/{self.carry}/{self.delay:.2f}s"

    def env(self) -> dict[str, str]:
        env = env_with_src()
        env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p)
        env["JOBLEDGER_QUIET"] = "1"
        env["HPC_SCHEDULER"] = self.host
        return env

    def run(self, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=240)
        self.log.append(
            f"$ (cd {cwd}; {' '.join(argv[1:])}) -> {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
        return done

    def script(self) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "face.py"], self.root)

    def start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "face.py"], cwd=self.root, env=self.env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not _dispatched(self.root) and proc.poll() is None:
            assert time.monotonic() < deadline, f"{self.label}: nothing was ever submitted"
            time.sleep(0.05)
        if not _dispatched(self.root):
            raise AssertionError(f"{self.label}: the script ended early: {proc.communicate()[1]}")
        time.sleep(self.delay)
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=120)
        self.log.append(f"script ended {proc.returncode}: {err[-2000:]}")

    def carry_on(self) -> None:
        cli = [sys.executable, "-m", "jobledger.cli.main"]
        if self.carry == "wait-elsewhere":
            self.run([*cli, "-C", str(self.root), "wait"], self.elsewhere)
        elif self.carry == "resume-sub":
            self.run([*cli, "resume"], self.root / "sub")
        # and, whatever came before, the script run again: nothing runs twice
        self.script()
        self.script()

    def check(self, expected: Sequence[str]) -> None:
        # a scheduler's jobs outlive scripts that only submit them (awflow on SLURM): the
        # ledger learns how they ended from whoever looks next, so look first
        waited = self.run([sys.executable, "-m", "jobledger.cli.main", "wait"], self.root)
        why = "\n".join([f"variant {self.label}", *self.log])
        assert waited.returncode == 0, why
        text = self.tally.read_text() if self.tally.exists() else ""
        lines = [line.split(" ", 2) for line in text.splitlines()]
        assert sorted(n for n, *_ in lines) == sorted(expected), f"ran {sorted(n for n, *_ in lines)}\n{why}"
        for name, host, cwd in lines:
            assert host == self.host, f"{name} ran on {host}, not {self.host}\n{why}"
            own = (
                Path(cwd).parent == self.root / "sweep" if self.face == "multirun" else cwd == str(self.root)
            )
            assert own, f"{name} ran in {cwd}\n{why}"
        states, verified = ledger_says(self.root)
        assert verified, why
        assert set(states.values()) == {"completed"}, f"{states}\n{why}"


def _dispatched(root: Path) -> bool:
    """True once the ledger holds an attempt of any job."""
    if not any((root / ".jobledger" / "ledger").glob("*.seg")):
        return False
    project = Project.open(root)
    try:
        return any(j.current is not None for j in project.ledger.state.jobs())
    finally:
        project.close()


@pytest.mark.parametrize("backend", ["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def test_faces_carry_on(backend: str, tmp_path: Path) -> None:
    """awflow, hpc-runner and multirun scripts killed at random moments, then carried on
    by ``jobledger wait`` from elsewhere, ``jobledger resume`` from a subdirectory, or by
    running the script again: every job, array element and sweep run runs once."""
    if backend == "slurm":
        require(slurm_available(), "SLURM (make slurm-up)")
    toml = (
        LOCAL_HOSTS
        + '[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 0.3\nenv = { JL_WHERE = "slurm" }\n'
    )
    seed = _seed()
    rnd = random.Random(seed)
    items = []
    for face, (text, _names) in FACES.items():
        for carry in ("wait-elsewhere", "resume-sub", "rerun"):
            root, tally, outside = make_project(tmp_path, f"{face}-{carry}", toml)
            (root / "notes.py").write_text(_py(NOTE, tally=str(tally)))
            (root / "face.py").write_text(_py(text, tally=str(tally), backend=backend))
            items.append(FaceVariant(face, carry, root, tally, outside, backend, rnd.uniform(0.0, 2.5)))
    print(f"seed {seed}:", ", ".join(v.label for v in items))

    def one(variant: FaceVariant) -> None:
        variant.start()
        variant.carry_on()
        variant.check(FACES[variant.face][1])

    all_done(one, items)
