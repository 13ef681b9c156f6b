"""Model: resources, tasks, jobs, workflows, canonical keys."""

from __future__ import annotations

import datetime
import subprocess
import sys
import textwrap

import pytest

from conftest import env_with_src
from jobledger import (
    CycleError,
    Dependency,
    DuplicateJobError,
    HashingError,
    Job,
    ModelError,
    ResourceError,
    Resources,
    Task,
    UnknownDependencyError,
    Workflow,
)
from jobledger.model.array import ArraySpec, compress_indices
from jobledger.model.units import format_duration, parse_duration, parse_memory


@pytest.mark.parametrize(
    ("text", "megabytes"),
    [
        ("4GB", 4096),
        ("8G", 8192),
        ("512M", 512),
        ("1.5T", 1572864),
        ("2GiB", 2048),
        (1024, 1024),
        ("800K", 1),
    ],
)
def test_memory_spellings(text: object, megabytes: int) -> None:
    assert parse_memory(text) == megabytes


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1:00:00", 3600),
        ("90m", 5400),
        ("2-00:00:00", 172800),
        ("30:00", 1800),
        ("3600", 3600),
        (45, 45),
        ("1h30m", 5400),
        ("2d", 172800),
        ("2-12", 216000),
        (datetime.timedelta(minutes=2), 120),
    ],
)
def test_time_spellings(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_format_duration_roundtrip() -> None:
    assert format_duration(172800 + 3661) == "2-01:01:01"
    assert format_duration(59) == "00:00:59"


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"memory": "lots"}, "memory", "lots"),
        ({"mem": "-4G"}, "memory", "-4G"),
        ({"time": "forever"}, "time", "forever"),
        ({"cpus": 0}, "cpus", 0),
        ({"cpu": "four"}, "cpus", "four"),
        ({"partition": "a\nb"}, "partition", "a\nb"),
    ],
)
def test_bad_resource_names_field_and_value(kwargs: dict[str, object], field: str, value: object) -> None:
    with pytest.raises(ResourceError) as info:
        Job(name="train", command="true", **kwargs)
    assert info.value.field == field
    message = str(info.value)
    assert f"{field}={value!r}" in message
    assert "job 'train'" in message


def test_aliases_accepted() -> None:
    res = Resources.from_kwargs(cpu=4, mem="8G", queue="gpu.q", walltime="1:00:00", ntasks=2)
    assert (res.cpus, res.memory, res.partition, res.time, res.tasks) == (4, 8192, "gpu.q", 3600, 2)
    assert res.queue == "gpu.q"
    job = Job("python train.py", name="t", cpu=4, mem="16G", time="4:00:00", queue="gpu.q")
    assert job.resources.cpus == 4 and job.resources.memory == 16384


def test_same_field_twice_is_an_error() -> None:
    with pytest.raises(ResourceError, match="given twice"):
        Resources.from_kwargs(cpu=4, cpus=2)


def test_unknown_keyword_is_an_error() -> None:
    with pytest.raises(ModelError, match="unknown keyword argument"):
        Job(name="x", command="true", colour="blue")


def test_job_faces() -> None:
    a = Job(name="a", command="python x.py", cpus=4, memory="8G")
    b = Job(
        name="b",
        tasks=[Task("echo 1"), Task(["echo", "2"])],
        resources=Resources(cpus=2),
        after=[a],
    )
    assert [d.target for d in b.depends] == [a] and b.depends[0].kind == "afterok"
    c = Job("python train.py", name="c", after=[(a, "afterany")])
    assert [(d.name, d.kind) for d in c.depends] == [("a", "afterany")]
    with pytest.raises(AttributeError):
        a.name = "z"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        b.dependency_type = "afterany"  # type: ignore[attr-defined]  # hpc-runner's, not jobledger's


def test_array_specs() -> None:
    assert ArraySpec.parse(3).indices == (0, 1, 2)
    spec = ArraySpec.parse("1-10:3%2")
    assert spec.indices == (1, 4, 7, 10) and spec.max_concurrent == 2
    assert ArraySpec.parse({5, 1}).indices == (1, 5)
    assert compress_indices([1, 2, 3, 5, 7, 9]) == "1-3,5-9:2"
    with pytest.raises(ModelError):
        ArraySpec.parse("3-1")


def test_cycle_error_names_cycle() -> None:
    a = Job(name="a", command="true", after=["c"])
    b = Job(name="b", command="true", after=["a"])
    c = Job(name="c", command="true", after=["b"])
    with pytest.raises(CycleError) as info:
        Workflow([a, b, c])
    text = str(info.value)
    assert "a -> b -> c -> a" in text or "b -> c -> a -> b" in text or "c -> a -> b -> c" in text


def test_duplicate_and_unknown() -> None:
    with pytest.raises(DuplicateJobError, match="'x'"):
        Workflow([Job(name="x", command="true"), Job(name="x", command="false")])
    with pytest.raises(UnknownDependencyError, match="'ghost'"):
        Workflow([Job(name="x", command="true", after=["ghost"])])


def test_layers_and_terminal_nodes() -> None:
    a = Job(name="a", command="true")
    b = Job(name="b", command="true", after=[a])
    c = Job(name="c", command="true", after=[a])
    d = Job(name="d", command="true", after=[b, c])
    wf = Workflow([d])
    assert [[j.name for j in layer] for layer in wf.layers()] == [["a"], ["b", "c"], ["d"]]
    assert [j.name for j in wf.terminal_nodes()] == ["d"]
    assert wf.order == ("a", "b", "c", "d")


def test_keys_change_downstream_only() -> None:
    a = Job(name="a", command="echo a")
    b = Job(name="b", command="echo b", after=[a])
    a2 = Job(name="a", command="echo A")
    b2 = Job(name="b", command="echo b", after=[a2])
    assert a.key != a2.key and b.key != b2.key
    # memory and host do not change the work, so not the key
    assert Job(name="a", command="echo a", memory="1G", host="x").key == a.key


def test_closures_from_one_loop_get_different_keys() -> None:
    funcs = []
    for value in (1, 2):

        def f(v: int = 0, captured: int = value) -> int:
            return captured

        def g(inner: int = value) -> int:
            return inner

        funcs.append(g)
    made = []
    for value in (1, 2):
        made.append(_maker(value))
    assert Job(name="f", command=made[0]).key != Job(name="f", command=made[1]).key


def _maker(value: int):  # type: ignore[no-untyped-def]
    def inner() -> int:
        return value

    return inner


def test_unencodable_closure_value_is_a_clear_error() -> None:
    lock = __import__("threading").Lock()

    def uses_lock() -> None:
        with lock:
            pass

    with pytest.raises(HashingError, match="closure variable 'lock'"):
        _ = Job(name="l", command=uses_lock).key


def test_key_identical_across_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = textwrap.dedent(
        """
        import jobledger as jl
        from mod_for_key import compute
        a = jl.Job(name="a", command=["echo", "x"], cpus=2, env={"A": "1"})
        b = jl.Job(name="b", command=compute, args=(3,), kwargs={"x": [1.5, None]}, after=[a], array="0-3")
        print(a.key, b.key)
        """
    )
    (tmp_path / "mod_for_key.py").write_text("def compute(n, x=None):\n    return n * 2\n")
    env = env_with_src()
    env["PYTHONPATH"] = str(tmp_path) + ":" + env["PYTHONPATH"]
    outs = set()
    for seed in ("0", "1", "random"):
        env["PYTHONHASHSEED"] = seed
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.add(out.stdout.strip())
    assert len(outs) == 1


def test_dependency_kinds() -> None:
    a = Job(name="a", command="true")
    assert Dependency(a, "any").kind == "afterany"
    assert Dependency(a, "failure").kind == "afternotok"
    with pytest.raises(ModelError):
        Dependency(a, "sometimes")
