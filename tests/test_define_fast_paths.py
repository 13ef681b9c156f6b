"""The shortcuts that make defining 100,000 jobs fast give what the long ways give."""

from __future__ import annotations

import pickle
import shlex
from pathlib import Path

import pytest

import jobledger as jl
from jobledger.config import load_config
from jobledger.engine.definitions import define
from jobledger.errors import CycleError, DuplicateJobError, ModelError
from jobledger.ledger.event_codec import encode
from jobledger.model.job import JobRef
from jobledger.model.task import Task


def _varied(tmp: Path) -> jl.Workflow:
    (tmp / "in.txt").write_text("data")
    a = jl.Job(name="a", command="echo 'a $(x)'", cpus=2, memory="1G", env={"X": "1"})
    b = jl.Job(
        name="b", command=["python", "-c", "print(1)"], after=[a], modules=["gcc"], setup=["ulimit -c 0"]
    )
    c = jl.Job(
        name="c",
        tasks=["echo one", ["echo", "two"], print, Task(["x"], env={"A": "b"}, cwd="/tmp", pass_index=True)],
        after=[(a, "afterany"), b],
        inputs=[str(tmp / "in.txt")],
        outputs=["out.txt"],
        retries=2,
        memory=lambda attempt: f"{attempt}G",
        stderr=None,
        stdout="o.txt",
        python="python3",
        workdir=str(tmp),
        slurm_args=["--exclusive"],
    )
    d = jl.Job(
        name="d", command="true", array=range(3), max_concurrent=2, host="local", waitfor="any", after=[c]
    )
    e = jl.Job(name="e", command=["true"], stderr="err.txt", retries=1, backoff=5)
    return jl.Workflow([a, b, c, d, e], name="varied")


def test_each_spec_holds_exactly_its_stored_map_in_field_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The codec stores a spec's ``__dict__`` as it is and the digest packs it: it must be
    the stored map (fields off their default, in field order), for the job and its tasks."""
    monkeypatch.chdir(tmp_path)
    project = jl.Project.init(tmp_path)
    for host in (None, "local"):
        definition = define(_varied(tmp_path), project=project, config=load_config(project.root), host=host)
        for spec in definition.specs:
            held = [(k, [t.__dict__ for t in v] if k == "tasks" else v) for k, v in spec.__dict__.items()]
            assert held == list(encode(spec).items()), spec.name
            for task in spec.tasks or ():
                assert list(task.__dict__.items()) == list(encode(task).items()), spec.name


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "step.py", "1"],
        ["echo", "two words"],
        ["echo", ""],
        ["echo", "it's"],
        ["ls", "*.txt"],
        ["a\tb"],
        ["caf\u00e9"],
        ["x=1", "--flag=a,b", "@file", "a+b%c", "-"],
    ],
)
def test_an_argv_label_is_its_shell_quoted_line(argv: list[str]) -> None:
    assert Task(argv).label == shlex.join(argv)
    assert jl.Job(name="j", command=argv).command == shlex.join(argv)


def test_argv_items_are_still_checked() -> None:
    with pytest.raises(ModelError, match="NUL"):
        jl.Job(name="j", command=["echo", "a\x00b"])
    with pytest.raises(ModelError, match="argv item 1 is int"):
        jl.Job(name="j", command=["echo", 1])
    assert jl.Job(name="j", command=["cat", Path("/etc/hosts")]).tasks[0].argv == ("cat", "/etc/hosts")


def test_a_changed_copy_of_an_upstream_is_the_upstream_of_the_jobs_after_it() -> None:
    a = jl.Job(name="a", command="echo a")
    b = jl.Job(name="b", command="echo b", after=[a])
    a2 = a.with_changes(tasks=["echo other"])
    c = jl.Job(name="c", command="echo c", after=[a2])
    assert b.depends[0].target is a
    assert c.depends[0].target is a2
    assert jl.Job(name="d", command="echo d", after=[a]).depends[0].target is a


def test_resource_keywords_seen_before_give_the_same_resources() -> None:
    first = jl.Job(name="a", command="true", cpus=2, memory="1G")
    again = jl.Job(name="b", command="true", cpus=2, memory="1G")
    assert again.resources is first.resources
    assert jl.Job(name="c", command="true", cpus=3, memory="1G").resources.cpus == 3
    assert jl.Job(name="d", command="true", cpus=2, memory="2G").resources != first.resources
    scaled = jl.Job(name="e", command="true", cpus=2, memory=lambda attempt: f"{attempt}G")
    assert scaled.resources.memory == first.resources.memory and "memory" in scaled.retry.escalate
    with pytest.raises(ModelError, match="unknown keyword"):
        jl.Job(name="f", command="true", cpus=2, colour="blue")
    with_args = jl.Job(name="g", command="true", cpus=2, slurm_args=["--x"])
    assert with_args.scheduler_args == {"slurm": ("--x",)}
    assert jl.Job(name="h", command="true", cpus=2).scheduler_args == {}


def test_the_order_is_topological_whichever_order_the_jobs_come_in() -> None:
    jobs: list[jl.Job] = []
    for i in range(50):
        jobs.append(jl.Job(name=f"j{i}", command="true", after=[jobs[k] for k in (i - 1, i - 7) if k >= 0]))
    given = jl.Workflow(jobs, name="w")
    assert list(given.order) == [j.name for j in jobs]
    shuffled = jl.Workflow(jobs[::-1], name="w")
    position = {n: i for i, n in enumerate(shuffled.order)}
    assert all(position[up] < position[n] for n in shuffled.order for up, _ in shuffled.upstream[n])
    assert shuffled.keys() == given.keys()
    late = jl.Job(name="late", command="true", after=["early"])
    early = jl.Job(name="early", command="true")
    assert jl.Workflow([late, early], name="w").order == ("early", "late")
    with pytest.raises(CycleError):
        jl.Workflow([jl.Job(name="x", command="true", after=["x"])], name="w")


def test_job_keys_are_those_of_earlier_releases() -> None:
    """Finished work is recognised by its key: these are the keys the release before the
    fast paths gave (a change would make every existing project run everything again)."""
    a = jl.Job(name="a", command="echo 'a $(x)'", cpus=2, memory="1G", env={"X": "1", "B": 2})
    b = jl.Job(
        name="b",
        command=["python", "-c", "print(1)", "two words", ""],
        after=[a],
        modules=["gcc"],
        setup=["ulimit -c 0"],
    )
    c = jl.Job(
        name="c",
        tasks=["echo one", ["echo", "two"], Task(["x"], env={"A": "b"}, cwd="/work", pass_index=True)],
        after=[(a, "afterany"), b, JobRef("f" * 32, "old")],
        inputs=["surely-missing.txt"],
        outputs=["out.txt"],
        retries=2,
        memory=lambda attempt: f"{attempt}G",
        stderr=None,
        stdout="o.txt",
        workdir="/nonexistent/place",
        slurm_args=["--exclusive"],
    )
    d = jl.Job(
        name="d", command="true", array=range(3), max_concurrent=2, waitfor="any", after=[c], gpus=1, nodes=2
    )
    e = jl.Job(name="e", command=["true"], stderr="err.txt", after=["d"])
    assert jl.Workflow([e, d, c, b, a], name="pinned").keys() == {
        "a": "c06aaf219e9ce60469fada1bd23e26c1",
        "b": "f3290501946be60eb8a98fbf4184cab1",
        "c": "0d4b16692aca3c431a2cb10127165325",
        "d": "3174b790bd8c71ed8e22d1f945f72082",
        "e": "e14361f69323105253766d9cb274fefe",
    }
    assert a.key == "c06aaf219e9ce60469fada1bd23e26c1"


def test_a_plain_copy_of_an_upstream_is_the_upstream_of_the_jobs_after_it() -> None:
    import copy

    a = jl.Job(name="a", command="echo a")
    jl.Job(name="b", command="echo b", after=[a])
    twin = copy.copy(a)
    assert jl.Job(name="c", command="echo c", after=[twin]).depends[0].target is twin


def test_a_listed_workflow_holds_its_jobs_as_the_walk_from_its_roots_would() -> None:
    a = jl.Job(name="a", command="true")
    b = jl.Job(name="b", command="true", after=[a])
    c = jl.Job(name="c", command="true", after=[b, a])
    assert list(jl.Workflow([a, b, c]).jobs) == ["a", "b", "c"]
    assert list(jl.Workflow([c]).jobs) == ["c", "b", "a"]  # each job, then its upstreams
    assert list(jl.Workflow([a, c]).jobs) == ["a", "c", "b"]
    assert list(jl.Workflow([a, b, a, c]).jobs) == ["a", "b", "c"]
    twin = jl.Job(name="a", command="true")  # the same definition: one job
    assert jl.Workflow([a, twin, b]).jobs["a"] is a
    assert jl.Workflow([twin, b]).jobs["a"] is twin
    with pytest.raises(DuplicateJobError, match="'a'"):
        jl.Workflow([a, jl.Job(name="a", command="false"), b])
    with pytest.raises(ModelError, match="not str"):
        jl.Workflow([a, "b"])  # type: ignore[list-item]


def test_a_job_pickles_with_its_upstreams_and_key() -> None:
    a = jl.Job(name="a", command="echo a")
    b = jl.Job(name="b", command=["echo", "b"], after=[a], cpus=2)
    key = b.key
    back = pickle.loads(pickle.dumps(b))
    assert (back.key, back.depends[0].target.key, back.resources) == (key, a.key, b.resources)
    assert jl.Job(name="c", command="true", after=[back]).depends[0].target is back
    changed = b.with_changes(name="b2")
    assert changed.key != key and b.key == key
    with pytest.raises(ModelError, match="_key"):
        b.with_changes(_key="x")


def test_the_reused_packer_packs_as_msgpack_does_also_after_a_failure() -> None:
    import msgpack

    from jobledger.model.hashing import pack

    tree = ["job/1", "a", [["argv", ("x", "y")]], [], None, [1, None], {"k": b"\x00"}]
    with pytest.raises(TypeError):
        pack(["half", object()])  # leaves nothing behind in the packer's buffer
    assert pack(tree) == msgpack.packb(tree, use_bin_type=True)
    assert pack(tree) == pack(tree)
