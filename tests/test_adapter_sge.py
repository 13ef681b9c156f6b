"""SgeAdapter: pure tests against output captured from SGE 8.1.9 (``fixtures/sge/``), golden
scripts (``fixtures/sge/scripts/``) and injection attempts. No Grid Engine needed.

Regenerate the golden scripts after an intended change with
``JL_UPDATE_GOLDEN=1 pytest tests/test_adapter_sge.py`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from jobledger.errors import (
    ModelError,
    ResourceError,
    SchedulerError,
    SubmitError,
    UnsupportedResource,
)
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency
from jobledger.schedulers.registry import get_adapter
from jobledger.schedulers.sge import (
    FAILED_CODES,
    STATE_MAP,
    SgeAdapter,
    classify_state,
    expand_task_ranges,
)
from jobledger.states import JobState

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "sge"
GOLDEN = FIXTURES / "scripts"
RECORDED = REPO / "fixtures" / "recorded" / "sge"


def fx(name: str) -> str:
    return (FIXTURES / name).read_text()


def captured() -> dict[str, tuple[int, str]]:
    """name -> (exit code, command) from fixtures/sge/captured.tsv."""
    out = {}
    for line in fx("captured.tsv").splitlines():
        name, rc, cmd = line.split("\t", 2)
        out[name] = (int(rc), cmd)
    return out


def result(name: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a captured command."""
    rc = captured()[name][0]
    out = FIXTURES / f"{name}.stdout"
    err = FIXTURES / f"{name}.stderr"
    return (
        rc,
        out.read_text() if out.exists() else "",
        err.read_text() if err.exists() else "",
    )


def job_id(name: str) -> str:
    """The job id a captured command was about (its last word)."""
    return captured()[name][1].split()[-1]


def mixed_ids() -> dict[str, list[str]]:
    """Job name -> job ids, from the human-readable table of the same queue."""
    ids: dict[str, list[str]] = {}
    for line in fx("qstat-plain-mixed.stdout").splitlines()[2:]:
        number, _, name = line.split()[:3]
        if number not in ids.setdefault(name, []):
            ids[name].append(number)
    return ids


def first_int(text: str) -> str:
    match = re.search(r"\d+", text)
    assert match, text
    return match.group(0)


def utc_epoch(text: str, fmt: str) -> float:
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def sge() -> SgeAdapter:
    return SgeAdapter()


def spec(**kw: object) -> BatchSpec:
    base: dict[str, object] = {
        "job_name": "hello",
        "comment": "jl:0123456789abcdef:1",
        "run_dir": "/home/u/proj/jobs/hello-01234567",
        "workdir": "/home/u/proj",
        "body": 'exec /home/u/proj/.jl/wrapper "$@"',
    }
    base.update(kw)
    return BatchSpec(**base)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- registry
def test_registry_builds_the_adapter_with_the_packaged_template() -> None:
    adapter = get_adapter("sge")
    assert isinstance(adapter, SgeAdapter)
    assert adapter.name == "sge"
    assert adapter.template.header == "#!/bin/bash\n#$ -S /bin/bash"
    assert adapter.afterok_is_native is False


def test_settings_must_be_plain_names() -> None:
    with pytest.raises(ValueError, match="parallel_environment"):
        SgeAdapter(parallel_environment="smp 4")


# ----------------------------------------------------------------------------- golden scripts
GOLDEN_CASES: dict[str, tuple[SgeAdapter, BatchSpec]] = {
    "minimal": (SgeAdapter(), spec()),
    "resources": (
        SgeAdapter(),
        spec(
            resources=Resources(
                cpus=4,
                memory="8G",
                time="2:30:00",
                partition="short.q",
                account="proj1",
                gpus=1,
                extra=("-l scratch=10G",),
            ),
            setup=("module load gcc/12", "export OMP_NUM_THREADS=4"),
            raw_args=("-m n", "#$ -notify"),
        ),
    ),
    "memory-per-cpu": (
        SgeAdapter(parallel_environment="threads", memory_resource="mem_free"),
        spec(resources=Resources(cpus=2, memory_per_cpu=1536, time=90)),
    ),
    "array": (
        SgeAdapter(),
        spec(
            job_name="sweep",
            array=ArraySpec.parse("1-100:3%5"),
            resources=Resources(time="10m"),
        ),
    ),
    "dependencies": (
        SgeAdapter(),
        spec(
            dependencies=(
                NativeDependency("101"),
                NativeDependency("102", "afterany"),
                NativeDependency("101", "afterany"),
            )
        ),
    ),
    "spaces-in-paths": (
        SgeAdapter(),
        spec(run_dir="/home/u/My Project/jobs/hello-01234567", workdir="/home/u/My Project"),
    ),
    "mpi": (
        SgeAdapter(mpi_parallel_environment="mpi", exclusive_resource="exclusive"),
        spec(resources=Resources(tasks=8, cpus=2, memory_per_cpu="2G", exclusive=True)),
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_script(case: str) -> None:
    adapter, batch = GOLDEN_CASES[case]
    text = adapter.render_script(batch)
    path = GOLDEN / f"{case}.sh"
    if os.environ.get("JL_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; JL_UPDATE_GOLDEN=1 regenerates it"


def test_every_golden_file_has_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.sh")} == set(GOLDEN_CASES)


def test_script_shape(sge: SgeAdapter) -> None:
    lines = sge.render_script(spec(setup=("export A=1",))).splitlines()
    assert lines[:2] == ["#!/bin/bash", "#$ -S /bin/bash"]
    assert lines[2] == "#$ -N hello"
    assert "#$ -ac jl=jl:0123456789abcdef:1" in lines
    assert "#$ -o /home/u/proj/jobs/hello-01234567/sge-$JOB_ID.log" in lines
    assert "#$ -j y" in lines
    assert "#$ -wd /home/u/proj" in lines
    assert lines[-1] == 'exec /home/u/proj/.jl/wrapper "$@"'
    assert lines[lines.index("export A=1") - 1] == ""


def test_memory_is_per_slot(sge: SgeAdapter) -> None:
    assert "#$ -l h_vmem=2048M" in sge.directives(spec(resources=Resources(cpus=4, memory="8G")))
    assert "#$ -l h_vmem=1000M" in sge.directives(spec(resources=Resources(memory=1000)))
    # rounded up, never below what was asked in total
    assert "#$ -l h_vmem=334M" in sge.directives(spec(resources=Resources(cpus=3, memory=1000)))
    assert "#$ -pe smp 3" in sge.directives(spec(resources=Resources(cpus=3)))
    assert not any("-pe" in d for d in sge.directives(spec(resources=Resources(cpus=1))))


def test_time_limit_format(sge: SgeAdapter) -> None:
    assert "#$ -l h_rt=0:00:45" in sge.directives(spec(resources=Resources(time=45)))
    assert "#$ -l h_rt=50:00:00" in sge.directives(spec(resources=Resources(time="2-02:00:00")))


def test_array_log_names_use_task_id(sge: SgeAdapter) -> None:
    lines = sge.directives(spec(array=ArraySpec.parse([1, 2, 3])))
    assert "#$ -o /home/u/proj/jobs/hello-01234567/sge-$JOB_ID.$TASK_ID.log" in lines
    assert "#$ -t 1-3:1" in lines
    assert not any(line.startswith("#$ -tc") for line in lines)
    assert "#$ -t 7-7:1" in sge.directives(spec(array=ArraySpec.parse([7])))


# ----------------------------------------------------------------------------- what SGE cannot say
@pytest.mark.parametrize(
    ("kwargs", "keyword"),
    [
        ({"resources": Resources(cpus=4)}, "cpus"),
        ({"resources": Resources(tasks=4)}, "tasks"),
        ({"resources": Resources(nodes=2)}, "nodes"),
        ({"resources": Resources(qos="high")}, "qos"),
        ({"resources": Resources(constraint="avx512")}, "constraint"),
        ({"resources": Resources(exclusive=True)}, "exclusive"),
        ({"resources": Resources(gpus=2)}, "gpus"),
        ({"array": ArraySpec.parse(10)}, "array"),  # 0..9: SGE task ids start at 1
        ({"array": ArraySpec.parse("1-3,7,9")}, "array"),  # not one arithmetic run
        ({"dependencies": (NativeDependency("5", "afternotok"),)}, "dependencies"),
        ({"dependencies": (NativeDependency("5[2]"),)}, "dependencies"),
    ],
)
def test_unsupported_raises_naming_keyword_and_scheduler(kwargs: dict[str, object], keyword: str) -> None:
    adapter = SgeAdapter(parallel_environment=None, gpu_resource=None)
    with pytest.raises(UnsupportedResource, match=rf"^sge cannot express {keyword}=") as info:
        adapter.directives(spec(**kwargs))
    assert isinstance(info.value, SchedulerError)
    assert isinstance(info.value, ModelError)


def test_memory_with_several_tasks_needs_memory_per_cpu() -> None:
    adapter = SgeAdapter(mpi_parallel_environment="mpi")
    with pytest.raises(UnsupportedResource, match="memory_per_cpu"):
        adapter.directives(spec(resources=Resources(tasks=4, memory="4G")))


# ----------------------------------------------------------------------------- injection
EVIL = [
    "$(touch /tmp/pwned)",
    "`id`",
    'a"b',
    "a'b",
    "a\nb",
    "a;b",
    "a b",
    "a,b",
    "host:/path",
    "$HOME",
    "",
]


@pytest.mark.parametrize("value", EVIL)
def test_job_name_injection_is_rejected(sge: SgeAdapter, value: str) -> None:
    with pytest.raises(UnsupportedResource, match="job_name"):
        sge.render_script(spec(job_name=value))


@pytest.mark.parametrize("name", ["9lives", "-N", ".hidden", "é"])
def test_job_names_sge_refuses_are_rejected_before_qsub(sge: SgeAdapter, name: str) -> None:
    # qsub says 'cannot start with a digit' / 'Error reading answer list from qmaster'
    with pytest.raises(UnsupportedResource, match="job_name"):
        sge.directives(spec(job_name=name))


@pytest.mark.parametrize("field", ["run_dir", "workdir"])
@pytest.mark.parametrize("suffix", ["$(id)", "`id`", '"x', "'x", "\nx", ":x", ",x", "$JOB_ID"])
def test_path_injection_is_rejected(sge: SgeAdapter, field: str, suffix: str) -> None:
    with pytest.raises(UnsupportedResource, match=field):
        sge.directives(spec(**{field: "/home/u/proj" + suffix}))


def test_relative_paths_are_rejected(sge: SgeAdapter) -> None:
    with pytest.raises(UnsupportedResource, match="workdir"):
        sge.directives(spec(workdir="proj"))


@pytest.mark.parametrize("value", ["jl:a b:1", "jl:a,b:1", "jl:a=b", "jl:$(id):1", "jl:\n:1"])
def test_comment_injection_is_rejected(sge: SgeAdapter, value: str) -> None:
    with pytest.raises(UnsupportedResource, match="comment"):
        sge.directives(spec(comment=value))


@pytest.mark.parametrize("field", ["partition", "account"])
@pytest.mark.parametrize("value", ["a b", "a;b", "$(id)", "a'b"])
def test_queue_and_project_injection_is_rejected(sge: SgeAdapter, field: str, value: str) -> None:
    with pytest.raises(UnsupportedResource, match=field):
        sge.directives(spec(resources=Resources(**{field: value})))


def test_newlines_in_resources_never_reach_the_adapter() -> None:
    with pytest.raises(ResourceError):
        Resources(partition="all.q\n#$ -q evil.q")
    with pytest.raises(ResourceError):
        Resources(extra=("-l a=1\n#$ -q evil.q",))


def test_raw_args_with_newlines_are_rejected(sge: SgeAdapter) -> None:
    with pytest.raises(UnsupportedResource, match="extra"):
        sge.directives(spec(raw_args=("-m n\n#$ -q evil.q",)))


@pytest.mark.parametrize(
    "body",
    [
        "cat <<EOF\n#$ -q evil.q\nEOF",
        "echo 'first line\n#$ -N other'",
        "#$-l h_rt=99:00:00\ntrue",
    ],
)
def test_body_lines_sge_would_read_as_directives_are_refused(sge: SgeAdapter, body: str) -> None:
    # fixtures/sge/qsub-directive-in-body.stderr: SGE applies '#$' lines anywhere in a script
    with pytest.raises(UnsupportedResource, match="body"):
        sge.render_script(spec(body=body))


def test_setup_lines_sge_would_read_as_directives_are_refused(sge: SgeAdapter) -> None:
    with pytest.raises(UnsupportedResource, match="setup"):
        sge.render_script(spec(setup=("#$ -q evil.q",)))


def test_shell_syntax_in_the_body_is_pasted_verbatim(sge: SgeAdapter) -> None:
    body = "echo \"$(date)\" '`id`' ; printf '%s\\n' \"a'b\"\n  #$ indented lines are not read by SGE"
    text = sge.render_script(spec(body=body))
    assert text.endswith(body + "\n")
    header = text[: text.index(body)]
    assert "$(date)" not in header and "`id`" not in header


def test_argv_builders_reject_injection(sge: SgeAdapter) -> None:
    with pytest.raises(UnsupportedResource):
        sge.status_argv("bob; rm -rf ~", ())
    with pytest.raises(UnsupportedResource):
        sge.lookup_argv(None, "x*")
    with pytest.raises(UnsupportedResource):
        sge.cancel_argv(["12; rm -rf ~"])
    with pytest.raises(UnsupportedResource):
        sge.accounting_argv(["$(id)"])
    with pytest.raises(ValueError, match="option"):
        sge.submit_argv("-q evil.q")


# ----------------------------------------------------------------------------- argv
def test_argv(sge: SgeAdapter) -> None:
    assert sge.submit_argv("/p/job.sh") == ["qsub", "-terse", "/p/job.sh"]
    assert sge.status_argv(None, ["1", "2"]) == ["qstat", "-xml", "-r", "-u", "*"]
    assert sge.status_argv("hpcuser", []) == ["qstat", "-xml", "-r", "-u", "hpcuser"]
    assert sge.lookup_argv("hpcuser", "hello-01") == ["qstat", "-xml", "-j", "hello-01"]
    assert sge.cancel_argv(["12", "13[4]", "13[5]"]) == ["qdel", "12", "13.4", "13.5"]
    assert sge.version_argv() == ["qstat", "-help"]
    assert sge.accounting_argv([]) is None


def test_accounting_argv_is_one_command_with_one_qacct_per_job(sge: SgeAdapter) -> None:
    argv = sge.accounting_argv(["12", "13[4]", "13[5]", "12"])
    assert argv is not None
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", "12", "13"]
    # the very command fixtures/sge/qacct-multi.stdout was captured with
    assert captured()["qacct-multi"][1].startswith(f"sh -c {argv[2]} sh ")


# ----------------------------------------------------------------------------- parse_submit
@pytest.mark.parametrize(
    "name",
    [
        "qsub-terse-single",
        "qsub-terse-array",
        "qsub-terse-array-step",
        "qsub-verbose-single",
        "qsub-verbose-array",
    ],
)
def test_parse_submit_real(sge: SgeAdapter, name: str) -> None:
    rc, out, err = result(name)
    assert rc == 0
    assert sge.parse_submit(rc, out, err) == first_int(out)  # '29.1-10:1' -> '29'


@pytest.mark.parametrize(
    ("name", "transient", "fragment"),
    [
        ("qsub-unknown-queue", False, 'unknown queue "nosuch.q"'),
        ("qsub-unknown-pe", False, '"nosuchpe" does not exist'),
        ("qsub-unknown-resource", False, 'unknown resource "gpu"'),
        ("qsub-verify-too-many-slots", False, "no suitable queues"),
        ("qsub-name-digit", False, "cannot start with a digit"),
        ("qsub-name-space", False, "Error reading answer list from qmaster"),
        ("qsub-name-colon", False, "Colon"),
        ("qsub-array-zero", False, "0 is an invalid task id"),
        ("qsub-script-missing", False, "No such file or directory"),
        ("qsub-directive-in-body", False, "nosuch.q"),
        ("qsub-qmaster-down", True, "unable to send message to qmaster"),
    ],
)
def test_parse_submit_rejections(sge: SgeAdapter, name: str, transient: bool, fragment: str) -> None:
    rc, out, err = result(name)
    assert rc != 0
    with pytest.raises(SubmitError, match=r"^sge rejected the submission") as info:
        sge.parse_submit(rc, out, err)
    assert info.value.transient is transient
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("stderr", "transient"),
    [
        ('Unable to run job: unable to contact qmaster using port 6444 on host "h"', True),
        ("error: commlib error: got select error (Connection refused)", True),
        (
            "Unable to run job: failed receiving gdi request response for mid=1 (got no message).",
            True,
        ),
        ('Unable to run job: Job was rejected because job requests unknown queue "x"', False),
    ],
)
def test_transient_classification(sge: SgeAdapter, stderr: str, transient: bool) -> None:
    with pytest.raises(SubmitError) as info:
        sge.parse_submit(1, "", stderr)
    assert info.value.transient is transient


def test_parse_submit_without_id_is_an_error(sge: SgeAdapter) -> None:
    with pytest.raises(SubmitError, match="without printing a job id"):
        sge.parse_submit(0, "", "")
    with pytest.raises(SubmitError):
        sge.parse_submit(0, "garbage\n", "")


# ----------------------------------------------------------------------------- parse_status
def test_parse_status_every_state_of_the_real_queue(sge: SgeAdapter) -> None:
    ids = mixed_ids()
    run, arr, dep, held = ids["jl-run"][0], ids["jl-arr"][0], ids["jl-dep"][0], ids["jl-held"][0]
    obs = sge.parse_status(fx("qstat-xml-r-mixed.stdout"))
    states = {k: (o.state, o.native) for k, o in obs.items()}
    assert states == {
        run: (JobState.RUNNING, "s"),  # suspended with qmod -sj
        f"{arr}[1]": (JobState.RUNNING, "r"),
        f"{arr}[2]": (JobState.SUBMITTED, "qw"),  # task 3 was qdel'ed: '2,4-6:1'
        f"{arr}[4]": (JobState.SUBMITTED, "qw"),
        f"{arr}[5]": (JobState.SUBMITTED, "qw"),
        f"{arr}[6]": (JobState.SUBMITTED, "qw"),
        ids["jl-eqw"][0]: (JobState.FAILED, "Eqw"),  # output directory missing
        ids["jl-nowd"][0]: (JobState.FAILED, "Eqw"),  # working directory missing
        ids["jl-exit100"][0]: (JobState.FAILED, "Eqw"),  # exit 100
        ids["jl-queued"][0]: (JobState.SUBMITTED, "qw"),
        held: (JobState.SUBMITTED, "hqw"),  # qsub -h
        dep: (JobState.SUBMITTED, "hqw"),  # -hold_jid <run>
        ids["jl-dup"][0]: (JobState.SUBMITTED, "hqw"),
        ids["jl-dup"][1]: (JobState.SUBMITTED, "hqw"),
    }
    assert obs[held].reason == "held"
    assert obs[dep].reason == f"Dependency ({run})"
    assert obs[run].reason == "suspended"
    eqw = ids["jl-eqw"][0]
    assert f"qstat -j {eqw}" in obs[eqw].reason
    task = obs[f"{arr}[1]"]
    assert (task.base_id, task.array_index, task.name) == (arr, 1, "jl-arr")
    assert task.started is not None
    queued = obs[ids["jl-queued"][0]]
    assert queued.started is None and queued.array_index is None


def test_parse_status_without_r_gives_the_same_states(sge: SgeAdapter) -> None:
    with_r = sge.parse_status(fx("qstat-xml-r-mixed.stdout"))
    plain = sge.parse_status(fx("qstat-xml-mixed.stdout"))
    assert {k: o.state for k, o in plain.items()} == {k: o.state for k, o in with_r.items()}
    assert plain[mixed_ids()["jl-dep"][0]].reason == "held"  # only -r shows predecessors


def test_parse_status_deleting_and_rescheduled(sge: SgeAdapter) -> None:
    run = mixed_ids()["jl-run"][0]
    deleting = sge.parse_status(fx("qstat-xml-r-deleting.stdout"))
    assert (deleting[run].state, deleting[run].native) == (JobState.RUNNING, "dr")
    assert deleting[run].reason == "deletion requested"
    rescheduled = sge.parse_status(fx("qstat-xml-r-rescheduled.stdout"))
    assert [(o.name, o.state, o.native) for o in rescheduled.values()] == [
        ("jl-rerun", JobState.RUNNING, "Rr")
    ]


def test_parse_status_empty_queue(sge: SgeAdapter) -> None:
    assert sge.parse_status(fx("qstat-xml-r-empty.stdout")) == {}


def test_parse_status_lookup_reveals_the_tag(sge: SgeAdapter) -> None:
    ids = mixed_ids()
    dup = sge.parse_status(fx("qstat-xml-j-lookup-dup.stdout"))
    assert {k: (o.name, o.comment, o.state) for k, o in dup.items()} == {
        ids["jl-dup"][0]: ("jl-dup", "jl:dup:1", JobState.SUBMITTED),
        ids["jl-dup"][1]: ("jl-dup", "jl:dup:2", JobState.SUBMITTED),
    }
    running = sge.parse_status(fx("qstat-xml-j-lookup-running.stdout"))
    assert {k: (o.comment, o.state) for k, o in running.items()} == {
        ids["jl-arr"][0]: ("jl:arr:1", JobState.RUNNING)
    }
    assert sge.parse_status(fx("qstat-xml-j-unknown.stdout")) == {}


def test_parse_status_hand_written_states(sge: SgeAdapter) -> None:
    # HAND-WRITTEN from the documented format (see fixtures/sge/README.md)
    obs = sge.parse_status(fx("handmade-qstat-xml-states.stdout"))
    expect = {
        "7001": (JobState.RUNNING, "transferring"),
        "7002": (JobState.RUNNING, "restarted, transferring"),
        "7003": (JobState.RUNNING, "suspended (queue)"),
        "7004": (JobState.RUNNING, "suspended (threshold)"),
        "7005[12]": (JobState.RUNNING, "deletion requested"),
        "7006": (JobState.SUBMITTED, "held, rescheduled"),
        "7007": (JobState.CANCELLED, "deleted while pending"),
        "7008": (JobState.CANCELLED, "deleted while pending"),
    }
    for key, (state, reason) in expect.items():
        assert (obs[key].state, obs[key].reason) == (state, reason), key
    assert obs["7009"].state is JobState.FAILED
    assert obs["7005[12]"].name == 'a&b%lt;c>"d'  # SGE's own escaping quirk, kept as is
    assert [i for i in range(1, 1001) if f"7010[{i}]" in obs] == list(range(1, 1001))
    assert sorted(o.array_index or 0 for k, o in obs.items() if k.startswith("7011[")) == [
        3,
        6,
        9,
        20,
    ]


@pytest.mark.parametrize(
    ("native", "state"),
    [
        ("qw", JobState.SUBMITTED),
        ("hqw", JobState.SUBMITTED),
        ("hRwq", JobState.SUBMITTED),
        ("r", JobState.RUNNING),
        ("t", JobState.RUNNING),
        ("Rr", JobState.RUNNING),
        ("Rt", JobState.RUNNING),
        ("s", JobState.RUNNING),
        ("S", JobState.RUNNING),
        ("T", JobState.RUNNING),
        ("Eqw", JobState.FAILED),
        ("dr", JobState.RUNNING),
        ("dt", JobState.RUNNING),
        ("dqw", JobState.CANCELLED),
        # not in STATE_MAP: classified letter by letter
        ("dhRwq", JobState.CANCELLED),
        ("EhRwq", JobState.FAILED),
        ("hRr", JobState.RUNNING),
        ("hdRs", JobState.RUNNING),
        ("z", JobState.SUBMITTED),
    ],
)
def test_classify_state(native: str, state: JobState) -> None:
    assert classify_state(native)[0] is state


def test_state_map_entries_agree_with_the_letter_rules() -> None:
    for native, (state, _) in STATE_MAP.items():
        assert classify_state(native)[0] is state


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("4", [4]),
        ("2-5:1", [2, 3, 4, 5]),
        ("1,3,6", [1, 3, 6]),
        ("2,4-6:1", [2, 4, 5, 6]),
        ("3-9:3,20", [3, 6, 9, 20]),
    ],
)
def test_expand_task_ranges(text: str, ids: list[int]) -> None:
    assert list(expand_task_ranges(text)) == ids


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "<job_info><job_list>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><job_info/>',
        "<something_else/>",
        "<job_info><job_list><JB_job_number>x</JB_job_number></job_list></job_info>",
        "<job_info><job_list><JB_job_number>1</JB_job_number><tasks>a-b</tasks></job_list></job_info>",
    ],
)
def test_parse_status_rejects_what_it_cannot_read(sge: SgeAdapter, text: str) -> None:
    with pytest.raises(SchedulerError, match=r"^sge: "):
        sge.parse_status(text)


def test_start_times_follow_the_configured_time_zone() -> None:
    text = fx("qstat-xml-r-rescheduled.stdout")
    iso = re.search(r"<JAT_start_time>(.*)</JAT_start_time>", text)
    assert iso
    (utc,) = SgeAdapter(timezone=dt.timezone.utc).parse_status(text).values()
    (plus2,) = SgeAdapter(timezone=dt.timezone(dt.timedelta(hours=2))).parse_status(text).values()
    assert utc.started is not None and plus2.started is not None
    assert utc.started - plus2.started == 7200
    assert utc.started == utc_epoch(iso.group(1), "%Y-%m-%dT%H:%M:%S")


# ----------------------------------------------------------------------------- parse_accounting
_F, _C = JobState.FAILED, JobState.COMPLETED
ACCOUNTING_CASES = [
    # fixture, state, exit code, signal, reason
    ("qacct-ok", _C, 0, None, ""),
    ("qacct-exit3", _F, 3, None, ""),
    ("qacct-pe", _C, 0, None, ""),
    ("qacct-qdel-running", JobState.CANCELLED, 137, 9, "killed by SIGKILL while running (qdel)"),
    ("qacct-sigterm", _F, 143, 15, "killed by signal 15"),
    ("qacct-h_rt", JobState.TIMEOUT, 137, 9, "qmaster enforced h_rt, h_cpu, or h_vmem limit"),
    ("qacct-h_vmem", _F, 1, None, ""),
    ("qacct-exit100", _F, 100, None, "failed 30: application error returned"),
    ("qacct-eqw-output-file", _F, 0, None, "failed 26: opening input/output file"),
    ("qacct-eqw-workdir", _F, 0, None, "failed 28: changing into working directory"),
]


@pytest.mark.parametrize(("name", "state", "exit_code", "signal", "reason"), ACCOUNTING_CASES)
def test_parse_accounting_real(
    sge: SgeAdapter,
    name: str,
    state: JobState,
    exit_code: int,
    signal: int | None,
    reason: str,
) -> None:
    rc, out, _ = result(name)
    assert rc == 0
    key = job_id(name)
    obs = sge.parse_accounting(out)
    assert list(obs) == [key]
    o = obs[key]
    assert (o.state, o.exit_code, o.signal, o.reason) == (state, exit_code, signal, reason)
    assert o.base_id == key and o.array_index is None and o.name.startswith("jl-")


def test_parse_accounting_times(sge: SgeAdapter) -> None:
    text = fx("qacct-h_rt.stdout")
    start = re.search(r"^start_time\s+(.*)$", text, re.MULTILINE)
    assert start
    (run,) = SgeAdapter(timezone=dt.timezone.utc).parse_accounting(text).values()
    assert run.started == utc_epoch(" ".join(start.group(1).split()), "%a %b %d %H:%M:%S %Y")
    assert run.ended is not None and 2 <= run.ended - run.started <= 4  # h_rt=2
    (never,) = sge.parse_accounting(fx("qacct-eqw-output-file.stdout")).values()
    assert never.started is None and never.ended is None  # '-/-'


def test_parse_accounting_array_tasks(sge: SgeAdapter) -> None:
    arr = job_id("qacct-array")
    obs = sge.parse_accounting(fx("qacct-array.stdout"))
    assert sorted(obs) == [f"{arr}[1]", f"{arr}[2]", f"{arr}[3]"]
    assert all(o.state is JobState.COMPLETED and o.base_id == arr for o in obs.values())
    assert obs[f"{arr}[2]"].array_index == 2


def test_parse_accounting_rescheduled_is_not_final(sge: SgeAdapter) -> None:
    # exit 99: SGE requeues the job and writes one 'failed 25' record per run
    assert fx("qacct-exit99-rescheduled.stdout").count("jobnumber") == 2
    obs = sge.parse_accounting(fx("qacct-exit99-rescheduled.stdout"))[job_id("qacct-exit99-rescheduled")]
    assert obs.state is JobState.SUBMITTED and not obs.state.is_final
    assert obs.exit_code == 99 and "rescheduled" in obs.reason


def test_parse_accounting_multi_is_the_union(sge: SgeAdapter) -> None:
    ok, bad, missing, arr = captured()["qacct-multi"][1].split()[-4:]
    assert missing == "999999"
    obs = sge.parse_accounting(fx("qacct-multi.stdout"))
    assert sorted(obs) == sorted([ok, bad, f"{arr}[1]", f"{arr}[2]", f"{arr}[3]"])


def test_qacct_comma_list_reads_only_the_first_id(sge: SgeAdapter) -> None:
    # why accounting_argv runs one qacct per id: 'qacct -j A,B' reports job A only
    first, second = job_id("qacct-comma-list").split(",")
    assert first != second
    assert list(sge.parse_accounting(fx("qacct-comma-list.stdout"))) == [first]


def test_parse_accounting_without_records(sge: SgeAdapter) -> None:
    for name in ("qacct-not-found", "qacct-pending-deleted"):
        rc, out, err = result(name)
        assert rc == 1 and out == "" and "not found" in err
        assert sge.parse_accounting(out) == {}


def test_qacct_works_while_qmaster_is_down(sge: SgeAdapter) -> None:
    rc, out, _ = result("qacct-qmaster-down")
    assert rc == 0
    assert sge.parse_accounting(out)[job_id("qacct-qmaster-down")].state is JobState.COMPLETED


def test_parse_accounting_hand_written_long_lines(sge: SgeAdapter) -> None:
    # HAND-WRITTEN: long values, unit suffixes, '(Killed)' after the exit status
    obs = sge.parse_accounting(fx("handmade-qacct-long-lines.stdout"))
    assert sorted(obs) == ["8123456[7]", "8123456[8]"]
    seven = obs["8123456[7]"]
    assert seven.state is JobState.TIMEOUT and seven.exit_code == 137
    assert seven.name.endswith("keeps_going.step-0007")
    assert obs["8123456[8]"].reason == "failed 27: searching requested shell"


def test_failed_codes_table_covers_what_was_seen() -> None:
    for code in (0, 25, 26, 28, 30, 37, 100):
        assert code in FAILED_CODES


def test_production_recordings() -> None:
    sge = SgeAdapter(timezone=dt.timezone.utc)
    pysqa = sge.parse_status((RECORDED / "pyiron-pysqa--qstat-xml-mpcdf.txt").read_text())
    assert {k: o.native for k, o in pysqa.items()} == {
        "2836045": "r",
        "2836046": "qw",
        "2967274": "Eqw",
    }
    assert pysqa["2967274"].state is JobState.FAILED
    assert pysqa["2836046"].started is None  # a JAT_start_time on a pending job is ignored
    aiida = sge.parse_status((RECORDED / "aiidateam-aiida-core--qstat-ext-urg-xml.txt").read_text())
    assert {k: o.state for k, o in aiida.items()} == {
        "1212299": JobState.RUNNING,
        "1212263": JobState.SUBMITTED,
        "1212322": JobState.SUBMITTED,
    }
    assert aiida["1212322"].reason == "held"
    array = sge.parse_accounting(
        (RECORDED / "LieberInstitute-sgejobs--qacct-j-array-2-tasks.txt").read_text()
    )
    assert sorted(array) == ["77672[1]", "77672[2]"]
    task2 = array["77672[2]"]
    assert task2.state is JobState.COMPLETED and task2.exit_code == 0
    assert task2.ended is not None and task2.started is not None
    assert task2.ended - task2.started == 832  # ru_wallclock 832s
    single = sge.parse_accounting((RECORDED / "LieberInstitute-sgejobs--qacct-j-single.txt").read_text())
    assert list(single) == ["92500"] and single["92500"].name == "delete_bsp2"


# ----------------------------------------------------------------------------- cancel, version
@pytest.mark.parametrize(
    "name",
    [
        "qdel-running",
        "qdel-pending",
        "qdel-array-task",
        "qdel-unknown",
        "qdel-mixed-unknown",
        "qdel-already-deleting",
        "qdel-unknown-task",
        "qdel-finished",
    ],
)
def test_parse_cancel_accepts_deleted_and_gone(sge: SgeAdapter, name: str) -> None:
    sge.parse_cancel(*result(name))


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("qdel-permission", "do not have the necessary privileges"),
        ("qdel-qmaster-down", "unable to send message to qmaster"),
    ],
)
def test_parse_cancel_raises_otherwise(sge: SgeAdapter, name: str, fragment: str) -> None:
    with pytest.raises(SchedulerError, match=r"^sge: qdel failed") as info:
        sge.parse_cancel(*result(name))
    assert fragment in str(info.value)


def test_version(sge: SgeAdapter) -> None:
    rc, out, _ = result("qstat-help")
    assert rc == 0
    assert sge.parse_version(out) == "SGE 8.1.9"
