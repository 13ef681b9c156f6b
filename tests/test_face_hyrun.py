"""The hyrun face: JobGraph as hyrun's notebook shows it, its JSON round trip, run/check/
fetch/get_status on the local backend and the real SLURM (no jobledger.toml), the flags of
``run``, and the read-only property of check/fetch/update on anything that never ran."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from copy import copy
from pathlib import Path

import pytest

import jobledger as jl
from conftest import run_cli
from jobledger.api import hyrun
from jobledger.api.hyrun import Job, JobGraph, JobStatus, Output
from jobledger.errors import ModelError, ProjectError
from jobledger.project import Project
from services import require, slurm_available

NOTEBOOK_EDGES = [(0, 1), (1, 2), (1, 3), (2, 4)]


def notebook_graph() -> JobGraph:
    """hyrun's docs/src/user_guide/job_graph.ipynb, cell 2 (import line changed)."""
    jobs = [Job(id=i, hash=f"hash{i}", status="unknown") for i in range(7)]
    dependencies = [(jobs[i].hash, jobs[j].hash) for (i, j) in NOTEBOOK_EDGES]
    return JobGraph(nodes=jobs, edges=dependencies)


def history(root: Path) -> dict[str, bytes]:
    """Every file of the project but the rebuildable caches, with its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[:2] != (".jobledger", "cache"):
            out[str(rel)] = path.read_bytes()
    return out


def test_the_notebooks_graph_examples() -> None:
    graph = notebook_graph()
    assert graph.nodes == [f"hash{i}" for i in range(7)]
    assert graph.edges == [("hash0", "hash1"), ("hash1", "hash2"), ("hash1", "hash3"), ("hash2", "hash4")]
    assert str(graph).splitlines() == [
        "╟── hash0",
        "╎   └─╼ hash1",
        "╎       ├─╼ hash2",
        "╎       │   └─╼ hash4",
        "╎       └─╼ hash3",
        "╟── hash5",
        "╙── hash6",
    ]
    assert graph.topological == ["hash0", "hash5", "hash6", "hash1", "hash2", "hash3", "hash4"]
    graph["hash0"]["status"] = "running"
    graph[("hash0", "hash1")]["weight"] = 0.5
    assert [n for n in graph.nodes if graph[n].get("status") != "running"] == [
        f"hash{i}" for i in range(1, 7)
    ]
    assert [(u, v) for u, v in graph.edges if graph[(u, v)].get("weight", 0.0) > 0.2] == [("hash0", "hash1")]

    newgraph = copy(graph)
    newgraph.remove_edge("hash1", "hash2")
    newgraph.remove_node("hash6")
    newgraph.add_node(Job(hash="hash7"))
    newgraph.add_edge("hash3", "hash7")
    assert str(newgraph).splitlines()[3] == "╎           └─╼ hash7"
    assert "hash6" in graph  # the copy is its own graph

    pruned = copy(graph)
    pruned.remove_edge("hash1", "hash2", remove_descendants=True)
    assert pruned.nodes == ["hash0", "hash1", "hash3", "hash5", "hash6"]
    assert sorted(graph.descendants("hash0")) == ["hash1", "hash2", "hash3", "hash4"]
    assert graph.descendants("hash5") == []
    assert sorted(graph.ancestors("hash3")) == ["hash0", "hash1"]

    # the default run requirement: every direct ancestor COMPLETED
    assert graph.is_ready_to_run("hash0") and graph.is_ready_to_run("hash5")
    assert not graph.is_ready_to_run("hash1")
    graph["hash0"]["status"] = "COMPLETED"
    assert graph.is_ready_to_run("hash1")
    with pytest.raises(ModelError, match="no node 'nope'"):
        graph.add_edge("hash0", "nope")


def test_graph_file_round_trip(tmp_path: Path) -> None:
    graph = notebook_graph()
    graph[("hash2", "hash4")]["weight"] = 0.75
    path = tmp_path / "jobgraph"
    graph.write(filename=path)
    data = json.loads(path.read_text())
    assert data["directed"] is True and data["multigraph"] is False
    assert data["nodes"][0] == {"hash": "hash0", "status": "unknown", "db_id": None, "id": "hash0"}
    assert {"weight": 0.75, "source": "hash2", "target": "hash4"} in data["edges"]
    back = JobGraph().read(path)
    assert back.nodes == graph.nodes and back.edges == graph.edges
    assert back[("hash2", "hash4")] == {"weight": 0.75}
    assert back.write() == graph.write()
    assert hyrun.get_workflow(str(path)).edges == graph.edges


def test_constructor_spellings_and_errors() -> None:
    a, b = Job("echo a", name="a"), Job("echo b", name="b")
    by_index = JobGraph(jobs=[a, b], dependencies=[(0, 1, 0.3)])
    assert by_index.edges == [(a.hash, b.hash)] and by_index[(a.hash, b.hash)] == {"weight": 0.3}
    by_object = JobGraph(nodes=[a, b], edges=[(a, b)])
    assert by_object.edges == by_index.edges
    assert JobGraph(nodes=[a, b], weights=[(0, 1, 2.0)])[(a.hash, b.hash)]["weight"] == 2.0
    with pytest.raises(TypeError, match="nodes once"):
        JobGraph(nodes=[a], jobs=[b])
    with pytest.raises(ModelError, match="cycle"):
        _ = JobGraph(nodes=[a, b], edges=[(0, 1), (1, 0)]).topological
    mixed = Job([{"program": "true", "scheduler": "slurm"}, {"program": "true"}], name="mixed")
    with pytest.raises(ModelError, match="one host, got local, slurm"):
        mixed.model()


def test_runsettings_fields_become_the_job() -> None:
    import datetime as dt

    rs = {
        "program": "python",
        "args": ["sim.py", "--n", "10"],
        "launcher": "mpirun -np 4",
        "env_vars": {"OMP_NUM_THREADS": "1"},
        "ntasks": 4,
        "cpus_per_task": 2,
        "job_time": dt.timedelta(hours=1, minutes=30),
        "scheduler": "slurm",
        "output_file": "sim.out",
        "conda_env": "hylleraas",
    }
    model = Job(rs, name="sim").model()
    assert model is not None
    assert model.host == "slurm"
    assert model.tasks[0].argv == (
        "conda", "run", "-n", "hylleraas", "mpirun", "-np", "4", "python", "sim.py", "--n", "10",
    )  # fmt: skip
    assert model.tasks[0].env == {"OMP_NUM_THREADS": "1"}
    assert (model.resources.tasks, model.resources.cpus, model.resources.time) == (4, 2, 5400)
    wrapped = Job(rs | {"pre_cmd": "module load x", "post_cmd": "echo done"}, name="w").model()
    assert wrapped is not None and wrapped.tasks[0].shell is not None
    assert wrapped.tasks[0].shell.splitlines()[0] == "module load x"


def test_run_check_fetch_and_the_file_on_the_local_backend(project: Project) -> None:
    root = project.root
    prep = Job({"program": "sh", "args": ["-c", "echo 21 > x.txt"], "output_file": "x.txt"}, name="prep")
    double = Job({"program": "sh", "args": ["-c", "echo $(( $(cat x.txt) * 2 ))"]}, name="double")
    graph = JobGraph(nodes=[prep, double], edges=[(0, 1)])

    before = history(root)
    dry = hyrun.run(graph, dry_run=True)  # records and submits nothing
    assert history(root) == before
    assert set(dry) == {"double"}

    outputs = hyrun.run(graph, wait=True)
    assert [len(o) for o in outputs] == [1, 1]
    assert isinstance(outputs[1][0], Output)
    assert outputs[1][0].stdout == "42\n" and outputs[1][0].returncode == 0
    assert outputs[0][0].output_file == str(root / "x.txt")
    assert next(iter(dry.values())) == [graph[n]["db_id"] for n in graph.nodes]  # the keys the run used
    assert prep.db_id == graph[prep.hash]["db_id"] and prep.status == "COMPLETED"

    graph.write("graph.json")
    before = history(root)
    statuses = hyrun.check("graph.json")
    assert [s.status for s in statuses] == ["COMPLETED", "COMPLETED"]
    assert all(isinstance(s, JobStatus) and s.job_id == "local" for s in statuses)
    assert [o[0].stdout for o in hyrun.fetch_results("graph.json")] == ["", "42\n"]
    assert [s.job_name for s in hyrun.get_status(graph)] == ["prep", "double"]
    assert history(root) == before  # check, fetch and get_status write nothing

    # the file alone runs again, with the same keys: everything is reused
    again = hyrun.run("graph.json", wait=True)
    assert again[1][0].stdout == "42\n"
    assert set(jl.status(root).counts) == {"completed"}
    assert len(jl.status(root).rows) == 2
    # x.txt exists, but the ledger has the job completed: it is reused, not skipped
    assert hyrun.run(graph) == dry
    jl.wait("double")
    # a job the ledger does not know is skipped when its output file exists (hyrun)
    other = Job({"program": "sh", "args": ["-c", "echo other > x.txt"], "output_file": "x.txt"}, name="other")
    assert (
        hyrun.run(JobGraph(nodes=[other, Job("echo after", name="after")], edges=[(0, 1)]), wait=True)[0][
            0
        ].returncode
        is None
    )
    assert (root / "x.txt").read_text() == "21\n"
    forced = hyrun.run(graph, rerun=True)
    assert next(iter(forced.values()))[0] == graph[prep.hash]["db_id"]
    jl.wait("double")


def test_a_failing_job_gives_its_error_and_does_not_raise(project: Project) -> None:
    def boom() -> None:
        raise ValueError("no convergence")

    outputs = hyrun.run([Job("exit 3", name="bad"), Job(jl.Task(boom), name="py")], wait=True)
    bad, py = outputs[0][0], outputs[1][0]
    assert bad.returncode == 3 and "exit code 3" in str(bad.error)
    assert isinstance(py.error, ValueError) and "no convergence" in str(py.error)


def test_arun_and_flags_from_the_tasks(project: Project) -> None:
    graph = hyrun.get_workflow([{"program": "echo", "args": ["hi"], "wait": True}])
    outputs = hyrun.run(graph)  # a task's wait=True makes the run wait
    assert outputs[0][0].stdout == "hi\n"
    later = asyncio.run(hyrun.arun(Job("echo async", name="later")))
    assert later[0][0].stdout == "async\n"


def test_check_fetch_update_never_record_what_never_ran(project: Project, tmp_path: Path) -> None:
    root = project.root
    jl.run(jl.Job(name="earlier", command="true"), wait=True)
    graph = JobGraph(nodes=[Job("echo never", name="never"), Job("echo twice", name="twice")], edges=[(0, 1)])
    graph_file = tmp_path / "graph.json"
    graph.write(graph_file)
    job = jl.Job(name="loose", command="echo loose")
    before = history(root)
    for item in (graph, str(graph_file), graph_file, job, [job], Job("echo n", name="n")):
        assert [s.status for s in hyrun.check(item)] in (["UNKNOWN"], ["UNKNOWN", "UNKNOWN"])
        assert all(o[0].returncode is None for o in hyrun.fetch(item))
        assert all(o[0].returncode is None for o in hyrun.update(item))
        assert jl.check(item) == {} and jl.fetch(item) == {} and jl.update(item) == {}
    assert history(root) == before  # byte for byte
    status = run_cli(root, "status", "--json")
    assert [row["name"] for row in json.loads(status.stdout)] == ["earlier"]
    waited = run_cli(root, "wait", timeout=60)
    assert waited.returncode == 0, waited.stderr
    assert history(root) == before  # and `jobledger wait` ran none of them


def test_stop_takes_names_of_workflows_and_jobs(project: Project) -> None:
    jl.run(
        jl.Workflow(
            [jl.Job(name="one", command="sleep 60"), jl.Job(name="two", command="sleep 60")], name="wf"
        )
    )
    assert jl.stop("one") == ["one"]  # the job named so, not a job whose command is "one"
    states = jl.check("wf")
    assert states["one"] is jl.JobState.CANCELLED and not states["two"].is_final
    assert hyrun.stop("wf") == ["two"]
    with pytest.raises(ProjectError, match=r"no job or workflow named 'three'.*workflows: wf"):
        jl.stop("three")
    assert jl.check("three") == {}


def test_remove_cancels_and_takes_nodes_out(project: Project) -> None:
    graph = hyrun.get_workflow([Job("sleep 60", name="long"), Job("true", name="short")])
    hyrun.run(graph)
    jl.wait("short")
    assert hyrun.remove(graph) == ["long"]
    assert [graph[n]["name"] for n in graph.nodes] == ["short"]


def test_a_jobledger_workflow_is_a_graph(project: Project) -> None:
    a = jl.Job(name="a", command="echo a")
    b = jl.Job(name="b", command="echo b", after=[a])
    graph = hyrun.get_workflow(jl.Workflow([b], name="ab"))
    assert [graph[n]["name"] for n in graph.topological] == ["a", "b"]
    outputs = hyrun.run(graph, wait=True)
    assert [o[0].stdout for o in outputs] == ["a\n", "b\n"]
    assert jl.check("ab") == {"a": jl.JobState.COMPLETED, "b": jl.JobState.COMPLETED}


@pytest.mark.slurm
def test_runsettings_on_the_real_slurm_without_configuration(tmp_path: Path) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    root = tmp_path / "proj"
    root.mkdir()
    script = """
from jobledger.api import hyrun
from jobledger.api.hyrun import Job, JobGraph
prep = {"program": "sh", "args": ["-c", "hostname > host.txt"], "scheduler": "slurm", "job_time": 60}
show = {"program": "cat", "args": ["host.txt"], "scheduler": "slurm", "ntasks": 1}
graph = JobGraph(nodes=[Job(prep, name="prep"), Job(show, name="show")], edges=[(0, 1)])
outputs = hyrun.run(graph, wait=True)
print("OUT", outputs[1][0].returncode, bool(outputs[1][0].stdout.strip()))
graph.write("graph.json")
print("IDS", [s.job_id.isdigit() for s in hyrun.get_status("graph.json")])
print("STATUS", [s.status for s in hyrun.check("graph.json")])
print("FETCH", [o[0].returncode for o in hyrun.fetch_results(graph)])
"""
    assert not (root / "jobledger.toml").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBLEDGER_")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=240, env=env
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line[:3].isupper())
    assert lines["OUT"] == "0 True"
    assert lines["IDS"] == "[True, True]"
    assert lines["STATUS"] == "['COMPLETED', 'COMPLETED']"
    assert lines["FETCH"] == "[0, 0]"
