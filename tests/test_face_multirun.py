"""The Karana multirun face: sweeps as one array job, inputs, reuse, failures, SLURM."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
import typing
from pathlib import Path

import pytest

import jobledger
from conftest import env_with_src, run_cli
from jobledger.api import multirun as mr
from jobledger.api.multirun import (
    ClusterRunner,
    FileResource,
    ParallelLocalRunner,
    RunStatistics,
    display_status,
    fetch_runs,
    get_run_params,
    multirun,
    multirun_async,
    post_run_results,
)
from jobledger.errors import ModelError
from jobledger.project import Project
from services import require, slurm_available

SRC = str(Path(__file__).resolve().parents[1] / "src")

SIM = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from jobledger.api.multirun import get_run_params, post_run_results

    p = get_run_params()
    x = p["x"]
    # one marker per execution: tells how often each run really ran
    Path(os.environ["MR_COUNTER"], f"{x}-{os.getpid()}").touch()
    if x in p.get("fail", []):
        print(f"run {x} fails on purpose", file=sys.stderr)
        sys.exit(3)
    post_run_results({
        "x": x,
        "sq": x * x,
        "shared": Path("shared.txt").read_text().strip(),
        "copy": Path("copy.txt").read_text().strip(),
        "link": Path("link.txt").read_text().strip(),
        "cwd": os.getcwd(),
    })
    """
)


@pytest.fixture
def sweep_env(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A simulation script, three input files and a counter folder."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "shared.txt").write_text("S\n")
    (data / "copy.txt").write_text("C\n")
    (data / "link.txt").write_text("L\n")
    script = data / "sim.py"
    script.write_text(SIM)
    counter = tmp_path / "counter"
    counter.mkdir()
    monkeypatch.setenv("MR_COUNTER", str(counter))
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return {"data": data, "script": script, "counter": counter, "root": project.root}


def _inputs(data: Path) -> list[FileResource | str]:
    return [
        str(data / "shared.txt"),  # a plain path: FileResource(path), linkage "shared"
        FileResource(data / "copy.txt", linkage="copy"),
        FileResource(data / "link.txt", linkage="link"),
    ]


def _executions(counter: Path) -> list[int]:
    return sorted(int(p.name.split("-")[0]) for p in counter.iterdir())


def _regular_files(root: Path, name: str) -> list[Path]:
    found = []
    for folder, _dirs, files in os.walk(root):  # does not follow symlinks
        for f in files:
            path = Path(folder, f)
            if f == name and not path.is_symlink():
                found.append(path)
    return found


def _check_layout(out: Path, records: list[mr.Run], data: Path) -> None:
    shared_copy = out / "shared" / "shared.txt"
    assert _regular_files(out, "shared.txt") == [shared_copy]  # one copy on disk
    assert len(_regular_files(out, "copy.txt")) == len(records)  # one copy per run
    assert _regular_files(out, "link.txt") == []
    for rec in records:
        link = rec.run_dir / "shared.txt"
        assert link.is_symlink() and link.resolve() == shared_copy.resolve()
        assert not os.path.isabs(os.readlink(link))  # relative: output folder can move
        assert (rec.run_dir / "link.txt").resolve() == (data / "link.txt").resolve()
        assert not (rec.run_dir / "copy.txt").is_symlink()


def test_fifty_run_sweep_with_shared_copied_and_linked_inputs(sweep_env: dict[str, Path]) -> None:
    data, counter = sweep_env["data"], sweep_env["counter"]
    out = sweep_env["root"] / "sweep"
    runs = [{"x": i, "alpha": i / 10} for i in range(50)]
    runner = ParallelLocalRunner(max_parallel=4)
    records = multirun(
        runs=runs,
        cmd=[sys.executable, str(sweep_env["script"])],
        output_path=out,
        input_files=_inputs(data),
        runner=runner,
    )
    assert len(records) == 50
    assert [r.params for r in records] == runs  # in the order of runs
    assert [r.index for r in records] == list(range(50))
    for i, rec in enumerate(records):
        assert rec.status == "success", rec.stderr
        assert rec.exit_code == 0
        assert rec.run_dir.parent == out and rec.run_dir.name.startswith(f"{i:04d}-")
        assert rec.result["sq"] == i * i
        assert rec.result == {
            "x": i,
            "sq": i * i,
            "shared": "S",
            "copy": "C",
            "link": "L",
            "cwd": str(rec.run_dir),
        }
        assert json.loads((rec.run_dir / "params.json").read_text()) == runs[i]
    _check_layout(out, records, data)
    assert _executions(counter) == list(range(50))

    stats = runner.compute_statistics()
    assert stats == records.statistics == RunStatistics.of(records)
    assert stats.success_count == stats.complete_count == stats.total_count == 50, records.report()
    assert stats.skipped_count == stats.pending_count == stats.running_count == 0
    assert stats.failure_count == 0
    counts = stats.skipped_count + stats.pending_count + stats.running_count
    assert counts + stats.success_count + stats.failure_count == stats.total_count

    # one array job of 50 indices on the local backend; the sweep selects it for the verbs
    results = jobledger.fetch(records)
    (job,) = results.values()
    assert job.ok and [e.index for e in job.elements] == list(range(50))
    assert all(r.job is not None and r.job.name == f"{job.name}[{r.index}]" for r in records)
    assert "jobledger.stderr" in os.listdir(records[0].run_dir)

    # read back later from the folder alone
    again = fetch_runs(out)
    assert [r.status for r in again] == ["success"] * 50
    assert [r.result for r in again] == [r.result for r in records]
    assert [r.params for r in again] == runs


def test_failing_runs_do_not_stop_the_others(
    sweep_env: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    failing = [3, 11, 20, 33, 47]
    runs = [{"x": i, "fail": failing} for i in range(50)]
    out = sweep_env["root"] / "failing"
    with caplog.at_level(logging.WARNING, logger="jobledger.multirun"):
        records = multirun(
            runs=runs,
            cmd=[sys.executable, str(sweep_env["script"])],
            output_path=out,
            input_files=_inputs(sweep_env["data"]),
            runner=ParallelLocalRunner(max_parallel=4),
        )
    stats = records.statistics
    assert (stats.success_count, stats.failure_count, stats.complete_count) == (45, 5, 50)
    assert [r.index for r in records.failures] == failing
    for rec in records.failures:
        assert rec.exit_code == 3
        assert f"run {rec.index} fails on purpose" in rec.stderr
        assert rec.result is None
        assert json.loads((rec.run_dir / "run_status.json").read_text()) == {"exit_code": 3}
    assert all(r.result is not None for r in records if r.status == "success")
    report = records.report()
    for i in failing:
        assert f"run {i} fails on purpose" in report
    assert "run 20 fails on purpose" in caplog.text  # the stderr tails are reported
    assert _executions(sweep_env["counter"]) == list(range(50))


def test_rerun_reruns_nothing_and_new_runs_only_run_themselves(sweep_env: dict[str, Path]) -> None:
    counter = sweep_env["counter"]
    out = sweep_env["root"] / "grow"
    cmd = [sys.executable, str(sweep_env["script"])]
    runs = [{"x": i} for i in range(50)]
    first = multirun(runs=runs, cmd=cmd, output_path=out, input_files=_inputs(sweep_env["data"]))
    assert first.statistics.success_count == 50, first.report()
    assert len(_executions(counter)) == 50
    stamps = {r.index: (r.run_dir / "results.pkl").stat().st_mtime_ns for r in first}

    runner = ParallelLocalRunner()
    again = multirun(
        runs=runs, cmd=cmd, output_path=out, input_files=_inputs(sweep_env["data"]), runner=runner
    )
    assert again.handle is None  # nothing was handed to the engine
    assert runner.compute_statistics().skipped_count == 50
    assert [r.status for r in again] == ["skipped"] * 50
    assert [r.result for r in again] == [r.result for r in first]  # results come back
    assert len(_executions(counter)) == 50
    assert {r.index: (r.run_dir / "results.pkl").stat().st_mtime_ns for r in again} == stamps

    more = runs + [{"x": i} for i in range(50, 60)]
    grown = multirun(
        runs=more, cmd=cmd, output_path=out, input_files=_inputs(sweep_env["data"]), runner=runner
    )
    stats = grown.statistics
    assert (stats.skipped_count, stats.success_count, stats.total_count) == (50, 10, 60)
    assert runner.compute_statistics() == stats
    assert _executions(counter) == list(range(60))  # the first 50 ran once, the new 10 once
    assert [r.result["sq"] for r in grown] == [i * i for i in range(60)]
    (job,) = jobledger.fetch(grown).values()
    assert [e.index for e in job.elements] == list(range(50, 60))  # an array of the new 10
    _check_layout(out, list(grown), sweep_env["data"])

    # changing one run's parameters gives it a new folder: only that run runs
    changed = [dict(p) for p in more]
    changed[7]["extra"] = True
    third = multirun(runs=changed, cmd=cmd, output_path=out, input_files=_inputs(sweep_env["data"]))
    assert [r.index for r in third if r.status == "success"] == [7]
    assert third[7].run_dir != grown[7].run_dir
    assert len(_executions(counter)) == 61


def test_failed_runs_run_again_on_the_next_call(sweep_env: dict[str, Path], tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    flag.touch()
    script = tmp_path / "flaky.sh"
    script.write_text(
        f'[ -e {flag} ] && [ "$JOBLEDGER_RUN_INDEX" = 1 ] && {{ echo nope >&2; exit 1; }}\necho ok\n'
    )
    out = tmp_path / "flaky"
    runs = [{"i": i} for i in range(3)]
    first = multirun(runs=runs, cmd=["bash", str(script)], output_path=out)
    assert [r.status for r in first] == ["success", "failure", "success"]
    assert first[1].stderr.strip() == "nope"
    flag.unlink()
    second = multirun(runs=runs, cmd=["bash", str(script)], output_path=out)
    assert [r.status for r in second] == ["skipped", "success", "skipped"]
    assert second[1].stdout.strip() == "ok"
    forced = multirun(runs=runs, cmd=["bash", str(script)], output_path=out, force=True)
    assert [r.status for r in forced] == ["success"] * 3


def test_default_output_is_a_new_timestamped_folder(project: Project) -> None:
    records = multirun(runs=[{"a": 1}, {"a": 2}], cmd=["sh", "-c", "pwd"])
    folders = [p for p in project.root.iterdir() if p.name.startswith("multirun_")]
    assert len(folders) == 1 and records.output_path == folders[0]
    assert [r.stdout.strip() for r in records] == [str(r.run_dir) for r in records]
    second = multirun(runs=[{"a": 1}], cmd=["true"])
    assert second.output_path != records.output_path
    assert second[0].status == "success"


def test_params_that_json_cannot_hold_are_pickled(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "from jobledger.api.multirun import *; p = get_run_params(); post_run_results(p)"
    runs = [{"shape": (2, 3), "path": Path("/x"), "n": 1}]
    (rec,) = multirun(runs=runs, cmd=[sys.executable, "-c", code], output_path=tmp_path / "pk")
    assert rec.status == "success", rec.stderr
    assert (rec.run_dir / "params.pkl").exists() and not (rec.run_dir / "params.json").exists()
    assert rec.result == runs[0]


def test_helpers_inside_and_outside_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOBLEDGER_RUN_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="inside a run"):
        get_run_params()
    (tmp_path / "params.json").write_text('{"a": 1}')
    assert get_run_params() == {"a": 1}
    other = tmp_path / "p.json"
    other.write_text('{"b": 2}')
    monkeypatch.setenv("JOBLEDGER_RUN_PARAMS", str(other))
    assert get_run_params() == {"b": 2}
    post_run_results([1, 2])
    post_run_results({"final": True})  # posting again replaces
    assert mr._load_result(tmp_path) == {"final": True}
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    monkeypatch.setenv("JOBLEDGER_RUN_DIR", str(run_dir))
    post_run_results(7)
    assert mr._load_result(run_dir) == 7


def test_file_resource() -> None:
    res = FileResource("a/b.txt")
    assert res.linkage == "shared" and res.name == Path("b.txt") and res.path == Path("a/b.txt")
    assert FileResource("a/b.txt", "copy", rename="in/c.txt").name == Path("in/c.txt")
    with pytest.raises(ModelError, match="linkage"):
        FileResource("a", linkage="hardlink")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="relative"):
        _ = FileResource("a", rename="/abs").name
    with pytest.raises(ModelError, match="does not exist"):
        mr._resource("/no/such/file")


def test_rename_and_folder_inputs(project: Project, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f.txt").write_text("deep")
    single = tmp_path / "one.txt"
    single.write_text("1")
    inputs: list[FileResource | Path | str] = [
        FileResource(tree, linkage="copy", rename="t"),
        FileResource(single, linkage="shared", rename="in/one.txt"),
        Path(single),
    ]
    with pytest.raises(ModelError, match="both become"):
        multirun(runs=[{}], cmd=["true"], output_path=tmp_path / "o", input_files=[single, single])
    records = multirun(
        runs=[{"k": 1}, {"k": 2}],
        cmd=["sh", "-c", "cat t/sub/f.txt in/one.txt one.txt"],
        output_path=tmp_path / "o2",
        input_files=inputs,
    )
    assert [r.stdout for r in records] == ["deep11", "deep11"]


def test_karana_runner_protocol_with_different_commands(project: Project, tmp_path: Path) -> None:
    runner = ClusterRunner("local", max_parallel=2)
    dirs = [tmp_path / "k" / str(i) for i in range(3)]
    for d in dirs:
        d.mkdir(parents=True)
    recs = [runner.add(["sh", "-c", f"echo {i} > out.txt; exit {i % 2}"], d) for i, d in enumerate(dirs)]
    asyncio.run(runner.gather())
    assert [r.status for r in recs] == ["success", "failure", "success"]
    assert [(d / "out.txt").read_text().strip() for d in dirs] == ["0", "1", "2"]
    assert all(r.task is not None and r.task.done() for r in recs)
    stats = runner.computeStatistics()
    assert (stats.success_count, stats.failure_count, stats.total_count) == (2, 1, 3)


def test_async_sweep_with_live_status_bar(project: Project, tmp_path: Path) -> None:
    runner = ParallelLocalRunner(max_parallel=2)
    seen: list[RunStatistics] = []

    async def watch() -> None:
        while not runner.active:
            await asyncio.sleep(0.01)
        while runner.active:
            seen.append(runner.compute_statistics())
            await asyncio.sleep(0.05)

    async def main() -> tuple[mr.SweepResult, RunStatistics]:
        buf = io.StringIO()
        from rich.console import Console

        console = Console(file=buf, force_terminal=False, width=120)
        sweep, final, _ = await asyncio.gather(
            multirun_async(
                runs=[{"t": i} for i in range(6)],
                cmd=["sh", "-c", "sleep 0.3"],
                output_path=tmp_path / "live",
                runner=runner,
            ),
            display_status(runner, refresh=0.05, console=console),
            watch(),
        )
        assert "runs" in buf.getvalue()
        return sweep, final

    sweep, final = asyncio.run(main())
    assert final.success_count == 6 == final.complete_count == final.total_count
    assert sweep.statistics == final
    assert any(s.running_count > 0 for s in seen)  # statuses moved while it ran
    assert any(0 < s.complete_count < 6 for s in seen)


def test_sync_multirun_inside_a_running_loop(project: Project, tmp_path: Path) -> None:
    async def notebook_cell() -> mr.SweepResult:
        return multirun(runs=[{"a": 1}], cmd=["true"], output_path=tmp_path / "nb")

    sweep = asyncio.run(notebook_cell())
    assert sweep[0].status == "success"


def test_karana_spellings() -> None:
    assert mr.multirunAsync is multirun_async
    assert mr.getRunParams is get_run_params
    assert mr.postRunResults is post_run_results
    assert mr.displayStatus is display_status
    assert ParallelLocalRunner().semaphore == 4
    with pytest.raises(ModelError):
        multirun(runs=[{}], cmd="echo hi")  # type: ignore[arg-type]
    with pytest.raises(ModelError):
        ParallelLocalRunner(max_parallel=0)


# ------------------------------------------------------------------------------ SLURM
@pytest.mark.slurm
def test_sweep_on_slurm_is_one_array_job(sweep_env: dict[str, Path]) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    root = sweep_env["root"]
    (root / "jobledger.toml").write_text('[hosts.slurm]\nscheduler = "slurm"\n')
    failing = [4, 44]
    runs = [{"x": i, "fail": failing} for i in range(50)]
    out = root / "on-slurm"
    # the job's environment is given explicitly: what sbatch exports is the environment
    # jobledger's host layer captured, not necessarily this process's current one
    env = {k: os.environ[k] for k in ("MR_COUNTER", "PYTHONPATH")}
    runner = ClusterRunner("slurm", max_parallel=16, time="10:00", env=env)
    records = multirun(
        runs=runs,
        cmd=[sys.executable, str(sweep_env["script"])],
        output_path=out,
        input_files=_inputs(sweep_env["data"]),
        runner=runner,
    )
    stats = runner.compute_statistics()
    assert (stats.success_count, stats.failure_count, stats.total_count) == (48, 2, 50)
    assert [r.index for r in records.failures] == failing
    assert all("fails on purpose" in r.stderr for r in records.failures)
    assert [r.result["sq"] for r in records if r.ok] == [i * i for i in range(50) if i not in failing]
    _check_layout(out, list(records), sweep_env["data"])

    # one sbatch: one attempt, one scheduler id shared by every index, one --array line
    (job,) = jobledger.fetch(records).values()
    assert job.host == "slurm" and job.attempts == 1
    assert {r.job.scheduler_id for r in records if r.job} == {job.scheduler_id}
    script = (job.run_dir / "job.sh").read_text()
    assert script.count("#SBATCH --array=") == 1
    assert "#SBATCH --array=0-49%16" in script

    # re-running submits nothing but the two failures, again as one array
    again = multirun(
        runs=runs,
        cmd=[sys.executable, str(sweep_env["script"])],
        output_path=out,
        input_files=_inputs(sweep_env["data"]),
        runner=runner,
    )
    assert again.statistics.skipped_count == 48
    (retry,) = jobledger.fetch(again).values()
    assert [e.index for e in retry.elements] == failing


def test_two_sweeps_at_once_from_one_event_loop(project: Project, tmp_path: Path) -> None:
    async def main() -> list[mr.SweepResult]:
        return list(
            await asyncio.gather(
                multirun_async(
                    runs=[{"i": i} for i in range(3)],
                    cmd=["sh", "-c", "sleep 0.3; echo a"],
                    output_path=tmp_path / "a",
                ),
                multirun_async(
                    runs=[{"i": i} for i in range(3)],
                    cmd=["sh", "-c", "sleep 0.3; echo b"],
                    output_path=tmp_path / "b",
                ),
            )
        )

    a, b = asyncio.run(main())
    assert [r.stdout.strip() for r in a] == ["a"] * 3
    assert [r.stdout.strip() for r in b] == ["b"] * 3
    assert a.workflow != b.workflow


def test_a_runner_of_ones_own_gets_the_karana_protocol(project: Project, tmp_path: Path) -> None:
    class Recorder(mr.AbstractRunner):
        def __init__(self) -> None:  # no super().__init__(): Karana's base has none
            self.calls: list[tuple[list[str], Path]] = []

        def add(self, cmd: list[str], cwd: Path = Path()) -> mr.Run:
            self.calls.append((cmd, cwd))
            record = mr.Run(cmd, cwd)
            self.runs.append(record)
            return record

        async def gather(self) -> None:
            for record in self.runs:
                if record.status == "pending":
                    (record.cwd / "run_status.json").write_text('{"exit_code": 0}')
                    record.status = "success"

    runner = Recorder()
    records = multirun(runs=[{"a": 1}, {"a": 2}], cmd=["x"], output_path=tmp_path / "own", runner=runner)
    assert [c[1] for c in runner.calls] == [r.run_dir for r in records]
    assert runner.compute_statistics().success_count == 2 and not runner.active
    again = multirun(
        runs=[{"a": 1}, {"a": 2}, {"a": 3}], cmd=["x"], output_path=tmp_path / "own", runner=runner
    )
    assert [r.status for r in again] == ["skipped", "skipped", "success"]
    assert len(runner.calls) == 3


# ------------------------------------------------------------- the sweep in the ledger
def _count_script(tmp_path: Path, flag: Path) -> Path:
    counter = tmp_path / "ran"
    counter.mkdir(exist_ok=True)
    script = tmp_path / "count.sh"
    script.write_text(
        f'touch {counter}/"$JOBLEDGER_RUN_INDEX-$$"\n'
        f'[ -e {flag} ] && [ "$JOBLEDGER_RUN_INDEX" = 7 ] && {{ echo broken >&2; exit 1; }}\n'
        "cat input.txt\n"
    )
    return script


def _ran(tmp_path: Path) -> list[int]:
    return sorted(int(p.name.split("-")[0]) for p in (tmp_path / "ran").iterdir())


def _status_runs(root: Path, workflow: str) -> dict[int, list[str]]:
    """Each run index of the sweep's workflow -> the states of its elements, batch by batch."""
    out = run_cli(root, "status", "--json", "-w", workflow)
    assert out.returncode == 0, out.stderr
    found: dict[int, list[str]] = {}
    for row in json.loads(out.stdout):
        for element in row["array"]:
            found.setdefault(element["index"], []).append(element["state"])
    return found


def test_status_shows_the_whole_sweep_after_a_rerun(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "broken"
    flag.touch()
    script = _count_script(tmp_path, flag)
    data = tmp_path / "input.txt"
    data.write_text("v1\n")
    out = project.root / "sweep50"
    runs = [{"i": i} for i in range(50)]

    def sweep() -> mr.SweepResult:
        return multirun(runs=runs, cmd=["bash", str(script)], output_path=out, input_files=[str(data)])

    first = sweep()
    assert [r.index for r in first.failures] == [7]
    summary = capsys.readouterr().err  # the summary of every jobledger run
    assert (
        "jobledger: 1 job in " in summary
        and "sweep50-runs-0-49: failed (element 7 of 50) with exit code 1" in summary
    )
    flag.unlink()
    second = sweep()  # re-runs run 7 alone
    assert [r.status for r in second].count("skipped") == 49 and second[7].status == "success"
    assert _ran(tmp_path) == sorted([*range(50), 7])
    name = mr.sweep_workflow_name(out)
    shown = _status_runs(project.root, name)
    assert sorted(shown) == list(range(50))  # all 50 runs visible, not just the re-run
    assert shown[7] == ["failed", "completed"]  # its first batch, then the re-run
    assert all(shown[i] == ["completed"] for i in range(50) if i != 7)
    third = sweep()  # nothing left: nothing submitted, the sweep still whole
    assert third.handle is None and _status_runs(project.root, name) == shown
    (job,) = jobledger.fetch(second).values()  # the sweep result names its own batch
    assert [e.index for e in job.elements] == [7]
    assert run_cli(project.root, "verify").returncode == 0


def test_changing_an_input_file_reruns_the_runs_that_use_it(project: Project, tmp_path: Path) -> None:
    script = _count_script(tmp_path, tmp_path / "never")
    data = tmp_path / "input.txt"
    out = tmp_path / "inputs"
    runs = [{"i": i} for i in range(3)]
    for linkage in ("copy", "shared", "link"):
        files: list[FileResource | Path | str] = [FileResource(data, linkage=linkage)]

        def sweep(files: list[FileResource | Path | str] = files) -> mr.SweepResult:
            return multirun(runs=runs, cmd=["bash", str(script)], output_path=out, input_files=files)

        data.write_text(f"{linkage} 1\n")
        assert [r.stdout.strip() for r in sweep()] == [f"{linkage} 1"] * 3
        ran = len(_ran(tmp_path))
        assert [r.status for r in sweep()] == ["skipped"] * 3, linkage  # unchanged: nothing runs
        assert len(_ran(tmp_path)) == ran
        data.write_text(f"{linkage} 2\n")  # the same file, new content: every run uses it
        changed = sweep()
        assert [r.status for r in changed] == ["success"] * 3, linkage
        assert [r.stdout.strip() for r in changed] == [f"{linkage} 2"] * 3
        assert len(_ran(tmp_path)) == ran + 3


KILLED = """\
import sys
from jobledger import ParallelLocalRunner, multirun

records = multirun(
    runs=[{"i": i} for i in range(6)],
    cmd=["bash", sys.argv[1]],
    output_path="killed",
    runner=ParallelLocalRunner(max_parallel=2),
)
print([r.status for r in records])
"""


def test_a_sweep_killed_and_run_again_never_reruns_runs_in_flight(project: Project, tmp_path: Path) -> None:
    counter = tmp_path / "ran"
    counter.mkdir()
    script = tmp_path / "slow.sh"
    script.write_text(f'touch {counter}/"$JOBLEDGER_RUN_INDEX-$$"\nsleep 3\necho done\n')
    (project.root / "sweep.py").write_text(KILLED)
    argv = [sys.executable, "sweep.py", str(script)]
    first = subprocess.Popen(argv, cwd=project.root, env=env_with_src(), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(list(counter.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(counter.iterdir())) == 4  # two runs done, two in flight, two queued
    finally:
        first.kill()
        first.wait()
    again = subprocess.run(
        argv, cwd=project.root, env=env_with_src(), capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(["skipped"] * 2 + ["success"] * 4)  # 0 and 1 had ended
    executions = sorted(int(p.name.split("-")[0]) for p in counter.iterdir())
    assert executions == list(range(6))  # every run once: none of those in flight ran twice
    results = fetch_runs(project.root / "killed")
    assert [r.stdout.strip() for r in results] == ["done"] * 6
    verified = run_cli(project.root, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_karana_names_and_run_defaults() -> None:
    record = mr.Run()
    assert (record.status, record.task, record.cmd, record.cwd) == ("pending", None, [], Path("."))
    for name in ("ParamMap", "ParamValue", "FileLinkage", "RunStatus"):
        assert name in mr.__all__ and getattr(jobledger, name) is getattr(mr, name)
    assert set(typing.get_args(jobledger.RunStatus)) == {
        "skipped",
        "pending",
        "running",
        "success",
        "failure",
    }
    assert set(typing.get_args(jobledger.FileLinkage)) == {"copy", "shared", "link"}
