"""The awflow face: the seed's two examples verbatim, ensure/prune semantics, results, cycles.

The seed programs are copied from ``seeds/awflow.md`` with only the import line changed
and run as scripts (``python pi.py``) in a temporary project, exactly as a user would.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jobledger as jl
from conftest import env_with_src, run_cli
from jobledger.api.awflow import (
    AwflowJob,
    DependencyNeverSatisfiedException,
    JobException,
    after,
    available_backends,
    backend_alias,
    build_workflow,
    disable,
    ensure,
    job,
    leafs,
    resolve_backend,
    roots,
    schedule,
    terminal_nodes,
    waitfor,
)
from jobledger.config import load_config
from jobledger.errors import ConfigError, CycleError, ModelError, ResourceError
from jobledger.project import Project
from services import require, slurm_available

PI_SEED = """\
import glob
import numpy as np
import ast
import os

from jobledger import after, ensure, job, schedule

n = 10000
tasks = 10

@ensure(lambda i: os.path.exists(f'pi-{i}.npy'))
@job(cpus='4', memory='4GB', array=tasks)
def estimate(i: int):
    print(f'Executing task {i + 1} / {tasks}.')
    x = np.random.random(n)
    y = np.random.random(n)
    pi_estimate = (x**2 + y**2 <= 1)
    np.save(f'pi-{i}.npy', pi_estimate)

@after(estimate)
@ensure(lambda: os.path.exists('pi.npy'))
@job(cpus='4')
def merge():
    files = glob.glob('pi-*.npy')
    stack = np.vstack([np.load(f) for f in files])
    pi_estimate = stack.sum() / (n * tasks) * 4
    print('π ≅', pi_estimate)
    np.save('pi.npy', pi_estimate)

merge.prune()  # Prune jobs whose postconditions have been satisfied

schedule(merge, backend='local')  # Executes merge and its dependencies
"""

DYNAMIC_SEED = """\
from jobledger import after, job, schedule, terminal_nodes

@job(cpus='2', memory='4GB', array=5)
def generate(i: int):
    print(f'Generating data block {i}.')

@after(generate)
@job(cpus='1', memory='2GB', array=5)
def postprocess(i: int):
    print(f'Postprocessing data block {i}.')

def do_experiment(parameter):
    r\"\"\"This method allocates a `fit` and `make_plot` job
    based on the specified parameter.\"\"\"

    @after(postprocess)
    @job(name=f'fit_{parameter}')  # By default, the name is equal to the function name
    def fit():
        print(f'Fit {parameter}.')

    @after(fit)
    @job(name=f'plt_{parameter}')  # Simplifies the identification of the logfile
    def make_plot():
        print(f'Plot {parameter}.')

# Programmatically build workflow
for parameter in [0.1, 0.2, 0.3, 0.4, 0.5]:
    do_experiment(parameter)

leafs = terminal_nodes(generate, prune=True)  # Find terminal nodes of workflow graph
schedule(*leafs, backend='local')
"""


def _script(project: Project, name: str, text: str) -> subprocess.CompletedProcess[str]:
    path = project.root / name
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, name],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _executed(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Executing task")]


# ================================================================== the seed, verbatim
def test_seed_pi_estimate_then_prune_skips_done_indices(project: Project) -> None:
    first = _script(project, "pi.py", PI_SEED)
    assert len(_executed(first.stdout)) == 10
    pi_line = next(line for line in first.stdout.splitlines() if line.startswith("π ≅"))
    print(pi_line)  # the estimate, visible with pytest -s
    assert 2.9 < float(pi_line.split()[-1]) < 3.4
    assert all((project.root / f"pi-{i}.npy").exists() for i in range(10))

    # everything holds: merge is done, nothing is scheduled, nothing runs
    second = _script(project, "pi.py", PI_SEED)
    assert _executed(second.stdout) == [] and "π ≅" not in second.stdout

    # one block and the result disappear: only index 3 and merge run again
    (project.root / "pi-3.npy").unlink()
    (project.root / "pi.npy").unlink()
    third = _script(project, "pi.py", PI_SEED)
    assert _executed(third.stdout) == ["Executing task 4 / 10."]
    assert "π ≅" in third.stdout
    assert (project.root / "pi-3.npy").exists() and (project.root / "pi.npy").exists()
    arrays = sorted(p.name for p in (project.root / "jobs").glob("estimate-*"))
    assert len(arrays) == 2  # the full array, then the pruned one (a different key)


def test_seed_dynamic_graph_built_in_a_loop(project: Project) -> None:
    done = _script(project, "dynamic.py", DYNAMIC_SEED)
    lines = done.stdout.splitlines()
    assert [f"Generating data block {i}." for i in range(5)] == lines[:5]
    for parameter in ("0.1", "0.2", "0.3", "0.4", "0.5"):
        assert lines.index(f"Fit {parameter}.") < lines.index(f"Plot {parameter}.")
        assert lines.index("Postprocessing data block 4.") < lines.index(f"Fit {parameter}.")
    names = {p.name.rsplit("-", 1)[0] for p in (project.root / "jobs").iterdir() if p.is_dir()}
    assert {"generate", "postprocess", "fit_0.1", "plt_0.5"} <= names
    again = _script(project, "dynamic.py", DYNAMIC_SEED)
    assert again.stdout == ""  # every job reused by key: nothing ran, nothing echoed


# ================================================================== decorators
def test_decorator_forms_settings_and_graph_links() -> None:
    @job
    def plain() -> int:
        return 1

    @job()
    def empty_parens() -> int:
        return 2

    @job(
        name="renamed",
        array="1-5:2%2",
        cpus="4",
        ram="2GB",
        timelimit="1:00:00",
        gpus=1,
        partition="gpu",
        mail_type="END",
        exclusive=None,
        env={"A": "1"},
    )
    def configured(i: int) -> int:
        return i

    assert isinstance(plain, AwflowJob) and plain.name == "plain" and plain() == 1
    assert empty_parens.name == "empty_parens" and empty_parens() == 2
    assert configured.name == "renamed" and configured.array == (1, 3, 5)
    assert configured.throttle == 2 and configured(7) == 7
    assert configured.__doc__ is None and configured.__wrapped__ is not None
    assert job(array=range(2, 4))(lambda i: i).array == (2, 3)
    assert job(array={4, 1})(lambda i: i).array == (1, 4)

    wf, names = build_workflow([configured], host="local")
    built = wf[names[configured]]
    r = built.resources
    assert (r.cpus, r.memory, r.time, r.gpus, r.partition) == (4, 2048, 3600, 1, "gpu")
    assert r.extra == ("--mail_type=END",) and r.exclusive
    assert built.env == {"A": "1"} and built.array is not None and built.array.max_concurrent == 2
    assert built.tasks[0].pass_index

    with pytest.raises(ResourceError, match=r"job 'bad'.*memory"):
        job(name="bad", memory="lots")(lambda: None)
    with pytest.raises(ModelError, match="status"):
        after(plain, status="sometimes")(lambda: None)
    with pytest.raises(ModelError, match="when"):
        ensure(lambda: True, when="during")(lambda: None)
    with pytest.raises(ModelError, match="waitfor"):
        waitfor("some")(lambda: None)

    @after(plain, empty_parens, status="any")
    @waitfor("any")
    @job
    def child() -> None:
        pass

    assert child.parents == [plain, empty_parens] and plain.children == [child]
    assert child.dependencies == {plain: "any", empty_parens: "any"} and child.waitfor == "any"
    assert terminal_nodes(plain) == [child] and leafs(empty_parens) == [child]
    assert roots(child) == [plain, empty_parens]
    wf, names = build_workflow([child])
    assert wf[names[child]].waitfor == "any"
    assert [(d.name, d.kind) for d in wf[names[child]].depends] == [
        ("plain", "afterany"),
        ("empty_parens", "afterany"),
    ]

    # decorators also accept a plain function (it becomes a job)
    @after(plain)
    def bare() -> None:
        pass

    assert isinstance(bare, AwflowJob) and bare.parents == [plain]


def test_same_names_get_suffixes_and_disabled_jobs_are_bypassed() -> None:
    @job
    def step() -> None:
        pass

    @after(step)
    @job(name="step")
    def step_again() -> None:
        pass

    @after(step_again, status="any")
    @job
    def last() -> None:
        pass

    disable(step_again)
    wf, names = build_workflow([last])
    assert names[last] == "last" and step_again not in names
    assert [(d.name, d.kind) for d in wf["last"].depends] == [("step", "afterany")]
    step_again.disabled = False
    wf, names = build_workflow([last])
    assert names[step] == "step-2" and names[step_again] == "step"  # found from the leaf


# ================================================================== run, results, failures
def test_results_exceptions_and_dependency_statuses(project: Project) -> None:
    class Custom(Exception):
        pass

    @job
    def ok() -> int:
        return 41

    @job(array={1, 3})
    def square(i: int) -> int:
        return i * i

    @job
    def bad() -> None:
        raise ValueError("boom")

    @job
    def odd() -> None:
        raise Custom("custom")

    @job(array=3)
    def partly(i: int) -> int:
        if i == 1:
            raise KeyError(i)
        return i

    @after(bad, status="failure")
    @job
    def cleanup() -> str:
        return "cleaned"

    @after(ok, bad, status="any")
    @job
    def anyway() -> str:
        return "any"

    values = schedule(ok, square, bad, odd, partly, cleanup, anyway)
    assert values[:2] == [41, [1, 9]]
    assert isinstance(values[2], ValueError) and str(values[2]) == "boom"
    assert "raise ValueError" in values[2].remote_traceback
    assert isinstance(values[3], JobException) and values[3].type_name == "Custom"
    assert isinstance(values[4], KeyError)
    assert values[5:] == ["cleaned", "any"]

    @after(bad)
    @job
    def never() -> int:
        return 0

    with pytest.raises(DependencyNeverSatisfiedException, match="never") as info:
        schedule(never)
    assert isinstance(info.value.results[0], DependencyNeverSatisfiedException)

    @after(ok, status="failure")
    @job
    def not_failed() -> int:
        return 0

    with pytest.raises(DependencyNeverSatisfiedException):
        schedule(not_failed)


def test_ensure_checks_after_running_and_decides_reuse(project: Project) -> None:
    marker = project.root / "made.txt"
    runs = project.root / "runs.txt"

    @ensure(lambda: marker.exists())
    @job
    def make() -> str:
        with runs.open("a") as fh:
            fh.write("make\n")
        marker.write_text("x")
        return "made"

    @ensure(lambda: False)
    @job
    def liar() -> int:
        return 1

    @ensure(lambda: Path("pre.txt").exists(), when="before")
    @job
    def needs_input() -> int:
        return 2

    assert not make.done
    first = schedule(make, liar, needs_input)
    assert first[0] == "made" and make.done
    assert isinstance(first[1], AssertionError) and "postcondition" in str(first[1])
    assert isinstance(first[2], AssertionError) and "precondition" in str(first[2])
    assert schedule(make) == [None]  # done: not run, and None for it, like awflow
    assert schedule(make, prune=False, force=False) == [None]
    marker.unlink()
    assert schedule(make) == ["made"]  # the postcondition no longer holds: it runs again
    assert runs.read_text().split() == ["make", "make"]
    Path("pre.txt").write_text("")
    assert schedule(needs_input) == [2]


def test_prune_semantics_without_running() -> None:
    done: set[str] = set()

    @ensure(lambda i: f"a{i}" in done)
    @job(array=4)
    def a(i: int) -> None:
        pass

    @after(a)
    @ensure(lambda: "b" in done)
    @job
    def b() -> None:
        pass

    @after(b)
    @job
    def c() -> None:
        pass

    done.update({"a0", "a2"})
    assert not a.done and not b.done and not c.done  # no postcondition: never done
    c.prune()
    assert c.parents == [b] and b.parents == [a] and a.array == (1, 3)
    c.prune()  # idempotent, like awflow
    assert a.array == (1, 3)

    @ensure(lambda: True)
    @job
    def ready() -> None:
        pass

    @ensure(lambda: False)
    @job
    def pending() -> None:
        pass

    @after(ready, pending)
    @waitfor("any")
    @job
    def either() -> None:
        pass

    @after(ready, pending)
    @job
    def both() -> None:
        pass

    either.prune()
    both.prune()
    assert either.parents == [] and both.parents == [pending]

    @job
    def off() -> None:
        pass

    @after(pending)
    @job
    def upstream_of_off() -> None:
        pass

    off.after(upstream_of_off)
    disable(upstream_of_off)

    @after(off)
    @job
    def tail() -> None:
        pass

    off.prune()
    assert off.parents == [pending]  # the disabled job is bypassed
    assert terminal_nodes(pending, prune=True) == [both, upstream_of_off, tail]


def test_prune_reruns_only_missing_indices(project: Project) -> None:
    root = project.root
    log = root / "log.txt"

    @ensure(lambda i: (root / f"out-{i}").exists())
    @job(array=4)
    def produce(i: int) -> int:
        with log.open("a") as fh:
            fh.write(f"{i}\n")
        (root / f"out-{i}").write_text(str(i))
        return i

    @after(produce)
    @job
    def total() -> int:
        return sum(int(p.read_text()) for p in root.glob("out-*"))

    assert schedule(total) == [6]
    # the hyrun-style verbs take awflow jobs too
    assert jl.check(total) == {"produce": jl.JobState.COMPLETED, "total": jl.JobState.COMPLETED}
    assert jl.fetch(total)["produce"].value == [0, 1, 2, 3]
    (project.root / "out-2").unlink()
    again = terminal_nodes(produce, prune=True)
    assert again == [total] and produce.array == (2,)
    assert schedule(*again) == [6]
    ran = log.read_text().split()
    assert sorted(ran[:4]) == ["0", "1", "2", "3"] and ran[4:] == ["2"]


def test_a_cycle_is_an_error_naming_it(project: Project) -> None:
    @job
    def first() -> None:
        pass

    @after(first)
    @job
    def second() -> None:
        pass

    @after(second)
    @job
    def third() -> None:
        pass

    first.after(third)
    first.prune()  # pruning a cyclic graph terminates
    assert len(terminal_nodes(first)) == 0  # no leaf: every job has a child
    with pytest.raises(CycleError, match="first -> second -> third -> first") as info:
        schedule(third)
    assert info.value.cycle == ["first", "second", "third", "first"]


# ================================================================== backends
def _without_schedulers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's PATH as on a machine without any batch scheduler (only ``sh``)."""
    bare = tmp_path / "bare-bin"
    bare.mkdir(exist_ok=True)
    if not (bare / "sh").exists():
        (bare / "sh").symlink_to("/bin/sh")
    monkeypatch.setenv("PATH", str(bare))


def test_backend_names_map_to_configured_hosts(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as here:
        _without_schedulers(tmp_path, here)
        with pytest.raises(
            ConfigError, match=r'(?s)scheduler = "slurm".*\[hosts\.cluster\]\nscheduler = "slurm"'
        ) as info:
            resolve_backend("slurm", None, load_config(project.root))
        assert "sbatch, squeue not found on this machine's PATH" in str(info.value)  # what was probed
        assert available_backends() == ["local"]
    project.config_path.write_text(
        '[hosts.here]\nscheduler = "local"\n\n[hosts.cluster]\nscheduler = "slurm"\n'
    )
    config = load_config(project.root)
    assert resolve_backend("slurm", None, config) == "cluster"
    assert resolve_backend("local", None, config) == "local"
    assert resolve_backend("slurm", "here", config) == "here"
    assert resolve_backend("here", None, config) == "here"
    with pytest.raises(ConfigError, match="unknown host alias 'nowhere'"):
        resolve_backend("local", "nowhere", config)
    with monkeypatch.context() as here:
        _without_schedulers(tmp_path, here)
        assert available_backends() == ["local", "slurm", "here", "cluster"]

    @job
    def where() -> str:
        return os.environ.get("JOBLEDGER_TEST_MARK", "unset")

    assert schedule(where, backend="here") == ["unset"]  # a host alias as the backend


def test_satisfied_targets_give_none_and_check_fetch_create_no_work(project: Project) -> None:
    out = project.root / "out.txt"

    @ensure(lambda: out.exists())
    @job
    def make() -> str:
        out.write_text("x")
        return "made"

    @job
    def other() -> int:
        return 7

    assert schedule(make, other) == ["made", 7]
    make.prune()
    assert schedule(make, other) == [None, 7]  # one entry per target, as awflow returns
    assert schedule(make, backend="local", prune=True) == [None]

    # check/fetch of pruned (or done) jobs only read: nothing is defined, nothing pending
    before = len(list(project.ledger.iter_events()))
    assert jl.check(make) == {"make": jl.JobState.COMPLETED}
    assert jl.fetch(make)["make"].value == "made"
    root = project.root
    pruned = root / "p-1.txt"

    @ensure(lambda i: (root / f"p-{i}.txt").exists())
    @job(array=2)
    def piece(i: int) -> None:
        (root / f"p-{i}.txt").write_text(str(i))

    @after(piece)
    @job
    def join() -> int:
        return 1

    pruned.write_text("1")
    join.prune()
    assert piece.array == (0,)
    assert jl.check(join) == {} and jl.fetch(join) == {}  # never ran in this shape
    (project.root / "p-0.txt").write_text("0")
    piece.prune()
    assert jl.check(piece) == {} and jl.fetch(piece) == {}  # this shape never ran either

    @ensure(lambda i: (root / f"p-{i}.txt").exists())
    @job(array=2)
    def whole(i: int) -> None:
        pass

    whole.prune()
    assert whole.array == ()
    assert jl.check(whole) == {} and jl.fetch(whole) == {}  # every index done: nothing selected
    assert jl.check(make) == {"make": jl.JobState.COMPLETED}  # not every job of the project
    project.ledger.refresh()
    assert len(list(project.ledger.iter_events())) == before
    done = run_cli(project.root, "wait", "--timeout", "5")
    assert done.returncode == 0, done.stderr


LIVE = """\
import os, time
from jobledger import job, schedule

@job
def slow():
    print("started")
    for _ in range(300):
        if os.path.exists("go"):
            break
        time.sleep(0.1)
    print("finished" if os.path.exists("go") else "gave up")

print(schedule(slow, backend="local"))
"""


def test_a_jobs_output_reaches_the_terminal_as_it_runs(project: Project) -> None:
    (project.root / "live.py").write_text(LIVE)
    proc = subprocess.Popen(
        [sys.executable, "live.py"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_with_src(),
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first == "started\n"  # while the job waits for "go": it has not ended
        assert not (project.root / "go").exists() and proc.poll() is None
        (project.root / "go").touch()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == "finished\n[None]\n"
    assert "jobledger: 1 job in " in err and "1 completed" in err  # the summary of every run


# ================================================================== SLURM, no jobledger.toml
@pytest.mark.slurm
def test_slurm_backend_needs_no_configuration(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    assert not project.config_path.exists()
    assert backend_alias("slurm", None, load_config(project.root)) == "slurm"
    with pytest.raises(ConfigError, match='scheduler = "slurm"'):
        resolve_backend("slurm", None, load_config(project.root))  # only configured hosts
    assert "slurm" in available_backends()


@pytest.mark.slurm
def test_seed_pi_estimate_on_slurm(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    script = (
        PI_SEED.replace("backend='local'", "backend='slurm'")
        .replace("schedule(merge", "print(schedule(merge")
        .replace("# Executes merge and its dependencies", ")")
    )
    done = _script(project, "pi_slurm.py", script)
    assert not project.config_path.exists()  # the seed's own call, no jobledger.toml
    ids = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert len(ids) == 1 and isinstance(ids[0], str) and ids[0].isdigit()
    results = jl.wait(project=project.root, timeout=180)
    assert results["estimate"].state is jl.JobState.COMPLETED
    assert results["merge"].state is jl.JobState.COMPLETED
    assert results["merge"].scheduler_id == ids[0]
    assert results["merge"].host == "slurm"
    assert "π ≅" in results["merge"].read_stdout()
    assert (project.root / "pi.npy").exists()
    again = _script(project, "pi_slurm.py", script)  # everything holds: [None], as awflow
    assert ast.literal_eval(again.stdout.strip().splitlines()[-1]) == [None]


@pytest.mark.slurm
def test_seed_dynamic_graph_on_slurm(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    script = DYNAMIC_SEED.replace(
        "schedule(*leafs, backend='local')", "print(schedule(*leafs, backend='slurm'))"
    )
    assert script != DYNAMIC_SEED
    done = _script(project, "dynamic_slurm.py", script)
    ids = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert len(ids) == 5 and all(isinstance(i, str) and i.isdigit() for i in ids)
    results = jl.wait(project=project.root, timeout=240)
    assert len(results) == 12 and all(r.ok for r in results.values())
    assert {r.host for r in results.values()} == {"slurm"}
    assert "Plot 0.3." in results["plt_0.3"].read_stdout()
    assert [e.index for e in results["generate"].elements] == list(range(5))


PRUNED_RERUN = """\
import os, time
from jobledger import after, ensure, job, schedule

HERE = os.path.dirname(os.path.abspath(__file__))

def note(text):
    with open(os.path.join(HERE, "tally"), "a") as fh:
        fh.write(text + "\\n")

@ensure(lambda i: os.path.exists(os.path.join(HERE, f"est-{i}.txt")))
@job(array=2)
def estimate(i):
    note(f"estimate-{i}")
    open(os.path.join(HERE, f"est-{i}.txt"), "w").close()

@after(estimate)
@ensure(lambda: os.path.exists(os.path.join(HERE, "merged.txt")))
@job
def merge():
    note("merge")
    time.sleep(3)
    open(os.path.join(HERE, "merged.txt"), "w").close()

merge.prune()
schedule(merge, backend="local")
"""


def test_a_rerun_while_the_downstream_job_runs_does_not_run_it_again(project: Project) -> None:
    """The script dies while ``merge`` runs; run again, its prune finds ``estimate`` done,
    which would give ``merge`` a new key (no upstream left): the run in flight is carried
    on instead, and ``merge`` runs once."""
    (project.root / "wf.py").write_text(PRUNED_RERUN)
    env = {**env_with_src(), "JOBLEDGER_QUIET": "1"}
    first = subprocess.Popen([sys.executable, "wf.py"], cwd=project.root, env=env)
    tally = project.root / "tally"
    deadline = time.monotonic() + 60
    while "merge" not in (tally.read_text() if tally.exists() else ""):
        assert time.monotonic() < deadline and first.poll() is None, "merge never started"
        time.sleep(0.05)
    first.kill()
    first.wait()
    again = subprocess.run([sys.executable, "wf.py"], cwd=project.root, env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(tally.read_text().split()) == ["estimate-0", "estimate-1", "merge"]
    assert (project.root / "merged.txt").exists()
