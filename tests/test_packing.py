"""Packing same-shape jobs into array submissions, without any I/O: which submissions share
a pack (:mod:`jobledger.engine.packing`), the pack's name and tag, the line naming a job's
pack in its script (:mod:`jobledger.engine.pack_script`), and the adapters' ``pack_limit``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from jobledger.config import Config, load_config
from jobledger.engine.pack_script import pointer_line, read_pointer, render_pack_body
from jobledger.engine.packing import TAG_PREFIX, assign, pack_name, packs, shape
from jobledger.engine.planner import HostView
from jobledger.engine.types import Slot, Submission
from jobledger.errors import ConfigError
from jobledger.ledger.specs import JobSpec, TaskSpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import NativeDependency
from jobledger.schedulers.registry import check_settings, get_adapter
from jobledger.schedulers.sge.checks import _NAME_RE

SMALL = Resources(cpus=1, memory=100)


def sub(
    key: str,
    *,
    resources: Resources = SMALL,
    deps: tuple[tuple[str, str], ...] = (),
    attempt: int = 1,
    **fields: Any,
) -> Submission:
    fields.setdefault("tasks", [TaskSpec("shell", shell=f"echo {key}")])
    fields.setdefault("host", "cluster")
    spec = JobSpec(key=key, name=fields.pop("name", key), run_dir=f"jobs/{key}", **fields)
    return Submission(spec, attempt, resources, "wf", tuple(NativeDependency(s, k) for s, k in deps))


def slots(subs: list[Submission]) -> list[Slot | None]:
    return [s.pack for s in subs]


# ---------------------------------------------------------------------- who shares a pack
def test_same_shape_jobs_share_one_pack_in_order() -> None:
    out = assign([sub(f"k{i}") for i in range(5)], 1000, "n")
    tags = {s.pack.tag for s in out if s.pack is not None}
    assert len(tags) == 1 and all(s.pack is not None for s in out)
    assert [s.pack.index for s in out if s.pack is not None] == [0, 1, 2, 3, 4]
    assert {s.pack.size for s in out if s.pack is not None} == {5}
    assert [s.key for s in out] == [f"k{i}" for i in range(5)]


def test_jobs_that_differ_in_more_than_their_command_are_packed_apart() -> None:
    subs = [
        sub("a1"),
        sub("b1", resources=Resources(cpus=2, memory=100)),
        sub("a2"),
        sub("b2", resources=Resources(cpus=2, memory=100)),
        sub("c1", host="other"),
        sub("c2", host="other"),
        sub("d1", scheduler_args={"slurm": ["--exclusive"]}),
        sub("d2", scheduler_args={"slurm": ["--exclusive"]}),
        sub("e1", deps=(("7", "afterok"), ("8", "afterany"))),
        sub("e2", deps=(("8", "afterany"), ("7", "afterok"))),  # the same, in another order
        sub("f1", deps=(("7", "afterany"),)),
    ]
    by_key = {s.key: s.pack for s in assign(subs, 1000, "n")}
    groups: dict[str, set[str]] = {}
    for key, slot in by_key.items():
        groups.setdefault(slot.tag if slot else f"alone:{key}", set()).add(key)
    assert sorted(map(sorted, groups.values())) == [
        ["a1", "a2"],
        ["b1", "b2"],
        ["c1", "c2"],
        ["d1", "d2"],
        ["e1", "e2"],
        ["f1"],
    ]
    assert by_key["f1"] is None  # alone in its shape: submitted as before


def test_array_jobs_and_single_jobs_are_never_packed() -> None:
    assert shape(sub("arr", array=[0, 1, 2])) is None
    out = assign([sub("arr1", array=[0, 1]), sub("arr2", array=[0, 1]), sub("one")], 1000, "n")
    assert slots(out) == [None, None, None]


@pytest.mark.parametrize(
    ("count", "limit", "sizes", "alone"),
    [
        (2500, 1000, [1000, 1000, 500], 0),
        (1001, 1000, [1000], 1),
        (7, 3, [3, 3], 1),
        (7, 1, [], 7),
        (7, 0, [], 7),
    ],
)
def test_packs_hold_at_most_the_limit(count: int, limit: int, sizes: list[int], alone: int) -> None:
    out = assign([sub(f"k{i}") for i in range(count)], limit, "n")
    found: dict[str, list[int]] = {}
    for s in out:
        if s.pack is not None:
            found.setdefault(s.pack.tag, []).append(s.pack.index)
    assert sorted(map(len, found.values()), reverse=True) == sizes
    for s in out:
        if s.pack is not None:
            assert s.pack.size == len(found[s.pack.tag])
            assert found[s.pack.tag] == list(range(s.pack.size))
    assert sum(1 for s in out if s.pack is None) == alone


def test_tags_are_unique_per_call_and_repeatable_from_the_same_inputs() -> None:
    jobs = [sub("x"), sub("y")]
    first = assign(jobs, 10, "writer-1:100")
    again = assign(jobs, 10, "writer-1:100")
    later = assign(jobs, 10, "writer-1:200")
    other_attempt = assign([sub("x", attempt=2), sub("y", attempt=2)], 10, "writer-1:100")
    tag = first[0].pack.tag if first[0].pack else ""
    assert re.fullmatch(re.escape(TAG_PREFIX) + "[0-9a-f]{16}", tag)
    assert again[0].pack == first[0].pack
    assert later[0].pack is not None and later[0].pack.tag != tag
    assert other_attempt[0].pack is not None and other_attempt[0].pack.tag != tag


def test_packs_groups_members_where_the_first_one_was() -> None:
    a = assign([sub("p0"), sub("lone", resources=Resources(cpus=4)), sub("p1"), sub("p2")], 10, "n")
    groups = packs(a)
    assert [[s.key for s in g] for g in groups] == [["p0", "p1", "p2"], ["lone"]]


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["sim-1", "sim-2", "sim-10"], "sim-pack-0123abcd"),
        (["a", "b"], "jl-pack-0123abcd"),
        (["1-x", "1-y"], "jl1-pack-0123abcd"),  # Grid Engine wants a letter first
        (["exp/1", "exp/2"], "exp-pack-0123abcd"),
        (["x" * 60 + "1", "x" * 60 + "2"], "x" * 24 + "-pack-0123abcd"),
    ],
)
def test_pack_names_are_the_common_prefix_and_safe_everywhere(names: list[str], expected: str) -> None:
    name = pack_name(names, "0123abcd99")
    assert name == expected
    assert _NAME_RE.match(name)


# ---------------------------------------------------------------------- scripts
def test_a_jobs_script_names_its_pack_on_its_last_line() -> None:
    script = "#!/bin/bash\n#SBATCH --job-name=x\necho hi\n" + pointer_line("jl:pack:00ff", "sim-pack-00ff", 7)
    found = read_pointer(script.encode())
    assert found is not None and (found.tag, found.name, found.index) == ("jl:pack:00ff", "sim-pack-00ff", 7)
    assert read_pointer("#!/bin/bash\necho hi\n") is None
    assert read_pointer(None) is None
    assert read_pointer("# jobledger-pack broken\n") is None


def test_the_pack_body_maps_task_ids_to_job_scripts() -> None:
    body = render_pack_body("jl:pack:ab", [(1, "/p/jobs/a b/job.sh"), (3, "/p/jobs/c/job.sh")], "SGE_TASK_ID")
    assert 'case "${SGE_TASK_ID:-}" in' in body
    assert "1) jl_job='/p/jobs/a b/job.sh' ;;" in body and "3) jl_job=/p/jobs/c/job.sh ;;" in body
    assert not any(line.startswith("#$") for line in body.splitlines())  # never an SGE directive
    with pytest.raises(ValueError, match="not a variable"):
        render_pack_body("t", [], "$(reboot)")


# ---------------------------------------------------------------------- limits
def test_hosts_do_not_pack_unless_their_backend_says_so() -> None:
    assert HostView("local").pack_limit == 0
    for name in ("slurm", "sge", "pbs", "torque", "lsf"):
        assert get_adapter(name).pack_limit == 1000
        assert get_adapter(name, pack_limit=0).pack_limit == 0


def test_pack_limit_is_read_from_jobledger_toml(tmp_path: Path) -> None:
    (tmp_path / "jobledger.toml").write_text('[schedulers.sge]\npack_limit = "0"\n')
    config = load_config(tmp_path)
    check_settings(config)
    assert get_adapter("sge", **config.schedulers["sge"]).pack_limit == 0


@pytest.mark.parametrize("value", [-1, 2.5, "many", "-3"])
def test_a_bad_pack_limit_is_a_config_error_naming_table_and_key(value: object) -> None:
    config = Config(
        schedulers={"slurm": {"pack_limit": value}}, scheduler_sources={"slurm": "jobledger.toml"}
    )
    with pytest.raises(ConfigError, match=r"jobledger\.toml: \[schedulers\.slurm\].*pack_limit"):
        check_settings(config)
