"""SLURM adapter: rendering and parsing, against output captured from a real cluster.

No cluster needed. ``fixtures/slurm/`` holds what ``fixtures/slurm/capture.py`` recorded on
SLURM 22.05 (see its README); ``fixtures/slurm/scripts/`` the golden batch scripts
(regenerate with ``JOBLEDGER_REGEN_GOLDEN=1``). Recordings from production clusters of
other SLURM versions are in ``fixtures/recorded/slurm`` (provenance per file in
``fixtures/recorded/SOURCES.md``); ``sinfo`` output there is not a job listing and has no
parser here.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobledger.errors import (
    ModelError,
    ResourceError,
    SchedulerError,
    SubmitError,
    UnsupportedResource,
)
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency, Observation
from jobledger.schedulers.registry import get_adapter
from jobledger.schedulers.slurm import (
    STATE_MAP,
    SlurmAdapter,
    format_time_limit,
    is_submit_limit,
    parse_sacct,
    parse_sacct_json,
    parse_scontrol,
    parse_squeue,
    sbatch_quote,
)
from jobledger.states import JobState

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "fixtures" / "slurm"
GOLDEN = FIX / "scripts"
RECORDED = REPO / "fixtures" / "recorded" / "slurm"
A = SlurmAdapter()
S = JobState


# --------------------------------------------------------------------------- fixture access
def out(name: str) -> str:
    """A captured stdout ('' when the command printed nothing: no file is kept then)."""
    path = FIX / f"{name}.stdout"
    return path.read_text() if path.exists() else ""


def err(name: str) -> str:
    path = FIX / f"{name}.stderr"
    return path.read_text() if path.exists() else ""


def captured() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in (FIX / "captured.tsv").read_text().splitlines():
        name, rc, command = line.split("\t", 2)
        rows[name] = (int(rc), command)
    return rows


def rc(name: str) -> int:
    return captured()[name][0]


JOBS = dict(line.split("\t") for line in (FIX / "jobs.tsv").read_text().splitlines())


def key(name: str, index: int | None = None) -> str:
    return JOBS[name] if index is None else f"{JOBS[name]}[{index}]"


def recorded(name: str) -> str:
    path = RECORDED / name
    return path.read_text()


# --------------------------------------------------------------------------- registry/contract
def test_registry_returns_the_slurm_adapter() -> None:
    adapter = get_adapter("slurm")
    assert isinstance(adapter, SlurmAdapter)
    assert adapter.name == "slurm"
    assert adapter.template.header == "#!/bin/bash"


def test_state_map_covers_every_documented_state() -> None:
    long_names = {
        "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "COMPLETED", "FAILED",
        "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "REVOKED",
        "SIGNALING", "SPECIAL_EXIT", "STAGE_OUT", "STOPPED", "SUSPENDED", "RESV_DEL_HOLD",
    }  # fmt: skip
    compact = {"PD", "CF", "R", "CG", "CD", "F", "CA", "TO", "OOM", "NF", "PR", "BF", "DL",
               "RQ", "RF", "RH", "RS", "RV", "SI", "SE", "SO", "ST", "S", "RD"}  # fmt: skip
    assert long_names | compact <= set(STATE_MAP)
    finals = {k for k, v in STATE_MAP.items() if v.is_final}
    assert {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"} <= finals  # fmt: skip
    for waiting in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "COMPLETING", "SUSPENDED"):
        assert not STATE_MAP[waiting].is_final


@pytest.mark.parametrize(
    ("native", "reason", "expected"),
    [
        ("PENDING", "DependencyNeverSatisfied", S.DEPENDENCY_FAILED),
        ("PENDING", "Dependency", S.SUBMITTED),
        ("CANCELLED", "DependencyNeverSatisfied", S.DEPENDENCY_FAILED),
        ("CANCELLED by 0", "None", S.CANCELLED),
        ("OUT_OF_MEMORY", "OutOfMemory", S.OUT_OF_MEMORY),
        ("NODE_FAIL", "NodeDown", S.NODE_FAIL),
        ("SOMETHING_NEW", "None", S.SUBMITTED),
    ],
)
def test_state_and_reason_mapping(native: str, reason: str, expected: JobState) -> None:
    line = f"5|5|N/A|{native}|{reason}|0|N/A|N/A|u|n|c"
    assert parse_squeue(line)["5"].state is expected


# --------------------------------------------------------------------------- golden scripts
BODY = "exec /usr/bin/python3 -m jobledger.wrapper run /home/ana/proj/.jobledger/runs/0a1b2c3d-1"
RUN_DIR = "/home/ana/proj/.jobledger/runs/0a1b2c3d-1"


def _spec(name: str, **kw: object) -> BatchSpec:
    base: dict[str, object] = {
        "job_name": f"jl-{name}",
        "comment": "jl:0a1b2c3d:1",
        "run_dir": RUN_DIR,
        "workdir": "/home/ana/proj",
        "body": BODY,
    }
    base.update(kw)
    return BatchSpec(**base)  # type: ignore[arg-type]


GOLDEN_SPECS: dict[str, BatchSpec] = {
    "minimal": _spec("minimal"),
    "full-resources": _spec(
        "full",
        resources=Resources(
            cpus=4,
            memory="8G",
            time="1-12:30:00",
            gpus=2,
            nodes=1,
            tasks=4,
            partition="gpu",
            account="proj-42",
            qos="high",
            constraint="a100&ib",
            exclusive=True,
        ),
        setup=("module load python/3.11", "export OMP_NUM_THREADS=4"),
    ),
    "array-throttle": _spec(
        "array",
        array=ArraySpec.parse("1,3,5-9,20-40:10%4"),
        resources=Resources(cpus=1, memory_per_cpu="2G", time=90),
    ),
    "dependencies": _spec(
        "deps",
        dependencies=(
            NativeDependency("101", "afterok"),
            NativeDependency("102", "afterok"),
            NativeDependency("103", "afterany"),
            NativeDependency("104[2]", "afternotok"),
            NativeDependency("101", "afterok"),
        ),
    ),
    "raw-extras": _spec(
        "raw",
        resources=Resources(
            partition="debug",
            extra=["--reservation=maint", "mail-type=END,FAIL", "--requeue", "-w node01"],
        ),
        raw_args=("--licenses=matlab:1", "export=ALL,GREETING=hello world"),
    ),
    "quoting": _spec(
        "my-hetjob",
        comment="jl:x \"q\" 'single' $(rm -rf ~) `id` #not-a-comment \\ end:1",
        run_dir="/scratch/ana/my runs/100%/x",
        workdir="/scratch/ana/my runs",
        resources=Resources(partition="gpu # a", account="it's", constraint="[a|b]*2"),
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SPECS))
def test_golden_script(name: str) -> None:
    text = A.render_script(GOLDEN_SPECS[name])
    path = GOLDEN / f"{name}.sh"
    if os.environ.get("JOBLEDGER_REGEN_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"re-render with JOBLEDGER_REGEN_GOLDEN=1 and review {path}"


def _sbatch_words(line: str) -> list[str]:
    """Model of sbatch's own splitting of an #SBATCH line (src/sbatch/opt.c _get_argument):
    ' and " group, backslash escapes the next non-space character, unquoted # ends."""
    spaces = " \t\n\v\f\r"
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in spaces:
            i += 1
        arg: list[str] = []
        quote, escaped = "", False
        while i < n and (quote or line[i] not in spaces):
            c = line[i]
            if escaped:
                escaped = False
            elif c == "\\":
                escaped, i = True, i + 1
                continue
            elif quote:
                if c == quote:
                    quote, i = "", i + 1
                    continue
            elif c in "\"'":
                quote, i = c, i + 1
                continue
            elif c == "#":
                break
            arg.append(c)
            i += 1
        assert not quote, f"unmatched quote in {line!r}"
        if not arg:
            return words
        words.append("".join(arg))


def _directive_words(script: str) -> list[str]:
    words: list[str] = []
    for line in script.splitlines()[1:]:
        if not line.startswith("#SBATCH"):
            break
        assert "\n" not in line
        assert not re.search("hetjob|packjob", line, re.IGNORECASE), line
        words.extend(_sbatch_words(line[len("#SBATCH") :]))
    return words


def test_quoting_golden_decodes_to_the_original_values() -> None:
    spec = GOLDEN_SPECS["quoting"]
    words = _directive_words(A.render_script(spec))
    assert f"--job-name={spec.job_name}" in words
    assert f"--comment={spec.comment}" in words
    assert "--output=/scratch/ana/my runs/100%%/x/slurm-%j.out" in words
    assert "--chdir=/scratch/ana/my runs" in words
    assert "--partition=gpu # a" in words
    assert "--account=it's" in words
    assert "--constraint=[a|b]*2" in words
    # nothing of the comment leaks into the script body
    body_start = A.render_script(spec).index(BODY)
    assert "rm -rf" not in A.render_script(spec)[body_start:]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1))
def test_any_single_line_value_round_trips_through_sbatch_splitting(value: str) -> None:
    line = f"--comment={sbatch_quote(value)}"
    assert not re.search("hetjob|packjob", line, re.IGNORECASE)
    assert _sbatch_words(line) == [f"--comment={value}"]


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "tab\tok\x1b"])
def test_newlines_and_control_characters_are_rejected(bad: str) -> None:
    with pytest.raises(ModelError, match="comment"):
        A.directives(_spec("x", comment=bad))
    with pytest.raises(ModelError, match="workdir"):
        A.directives(_spec("x", workdir=f"/tmp/{bad}"))
    with pytest.raises(ModelError):
        A.directives(_spec("x", raw_args=(f"--foo={bad}",)))


def test_resources_reject_newlines_before_the_adapter_sees_them() -> None:
    with pytest.raises(ResourceError, match="partition"):
        Resources(partition="debug\n#SBATCH --wrap=x")
    with pytest.raises(ResourceError, match="extra"):
        Resources(extra=["--foo=a\nb"])


def test_tab_is_allowed_and_quoted() -> None:
    assert sbatch_quote("a\tb") == '"a\tb"'


def test_run_dir_with_backslash_is_rejected() -> None:
    with pytest.raises(ModelError, match="backslash"):
        A.directives(_spec("x", run_dir="/tmp/a\\b"))


def test_minimal_directives_in_order() -> None:
    assert A.directives(_spec("m")) == [
        "#SBATCH --job-name=jl-m",
        "#SBATCH --comment=jl:0a1b2c3d:1",
        f"#SBATCH --output={RUN_DIR}/slurm-%j.out",
        "#SBATCH --chdir=/home/ana/proj",
    ]


def test_array_output_uses_array_pattern_and_throttle() -> None:
    lines = A.directives(_spec("a", array=ArraySpec.parse(10, max_concurrent=3)))
    assert f"#SBATCH --output={RUN_DIR}/slurm-%A_%a.out" in lines
    assert "#SBATCH --array=0-9%3" in lines


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "0-00:00:30"), (3600, "0-01:00:00"), (90061, "1-01:01:01"), (86400 * 14, "14-00:00:00")],
)
def test_time_limit_format(seconds: int, text: str) -> None:
    assert format_time_limit(seconds) == text


def test_memory_gpus_and_flags() -> None:
    lines = A.directives(_spec("r", resources=Resources(memory="1.5G", gpus=0, exclusive=True)))
    assert "#SBATCH --mem=1536M" in lines
    assert not any("--gpus" in line for line in lines)
    assert "#SBATCH --exclusive" in lines
    lines = A.directives(_spec("r", resources=Resources(memory_per_cpu=512)))
    assert "#SBATCH --mem-per-cpu=512M" in lines


def test_dependencies_grouped_by_kind_deduplicated_with_kill_on_invalid_dep() -> None:
    lines = A.directives(GOLDEN_SPECS["dependencies"])
    assert "#SBATCH --dependency=afterok:101:102,afterany:103,afternotok:104_2" in lines
    assert "#SBATCH --kill-on-invalid-dep=yes" in lines


def test_unknown_dependency_kind_and_bad_id() -> None:
    with pytest.raises(UnsupportedResource, match="afterwards"):
        A.directives(_spec("d", dependencies=(NativeDependency("1", "afterwards"),)))
    with pytest.raises(SchedulerError, match="not a SLURM job id"):
        A.directives(_spec("d", dependencies=(NativeDependency("1;rm", "afterok"),)))


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("--reservation=maint", "#SBATCH --reservation=maint"),
        ("reservation=maint", "#SBATCH --reservation=maint"),
        ("--requeue", "#SBATCH --requeue"),
        ("requeue", "#SBATCH --requeue"),
        ("--nice 10", "#SBATCH --nice=10"),
        ("-w node01", "#SBATCH -w node01"),
        ("#SBATCH --signal=B:USR1@60", "#SBATCH --signal=B:USR1@60"),
        ("--export=ALL,X=a b", '#SBATCH --export="ALL,X=a b"'),
    ],
)
def test_raw_extra_spellings(raw: str, line: str) -> None:
    assert A.directives(_spec("x", raw_args=(raw,)))[-1] == line


@pytest.mark.parametrize(
    "raw", ["--job-name=x", "--comment=y", "--comm=y", "-J x", "--array=1-3", "-d afterok:1",
            "dependency=afterany:3", "--wrap=ls", "--kill-on-invalid-dep=no"],
)  # fmt: skip
def test_raw_extras_may_not_override_identity_or_graph(raw: str) -> None:
    with pytest.raises(UnsupportedResource, match="jobledger sets"):
        A.directives(_spec("x", raw_args=(raw,)))


@pytest.mark.parametrize("raw", ["", "  ", "--=x", "-1", "--9lives=1", "--a b=c"])
def test_malformed_raw_extras(raw: str) -> None:
    with pytest.raises(ResourceError):
        A.directives(_spec("x", raw_args=(raw,)))


# --------------------------------------------------------------------------- argv vs fixtures
def _cmd(name: str) -> str:
    return captured()[name][1]


def test_fixtures_were_captured_with_the_current_argv() -> None:
    status = shlex.join(A.status_argv("root", ()))
    assert _cmd("squeue-live") == status + " | only our jobs"
    assert _cmd("squeue-final") == status + " | only our jobs"
    assert _cmd("squeue-lookup-by-name") == shlex.join(A.lookup_argv("root", "jl-cap-fail"))
    ids = _cmd("sacct-final").split("--jobs=")[1].split()[0].split(",")
    assert _cmd("sacct-final") == shlex.join(A.accounting_argv(ids) or [])
    assert _cmd("scontrol-oneline-held") == shlex.join(A.scontrol_argv(JOBS["held"]))
    assert _cmd("scancel-running") == shlex.join(A.cancel_argv([JOBS["running"]]))
    assert _cmd("version") == shlex.join(A.version_argv())
    assert _cmd("sbatch-parsable").startswith("sbatch --parsable /")


def test_status_argv_is_one_squeue_for_all_jobs() -> None:
    argv = A.status_argv("ana", [str(i) for i in range(1000)])
    assert argv[:2] == ["env", "SLURM_TIME_FORMAT=%s"]
    assert argv[2] == "squeue"
    assert {"--noheader", "--array", "--states=all"} <= set(argv)
    assert argv[argv.index("--user") + 1] == "ana"
    assert len(argv) < 12  # ids are not listed
    assert "--me" in A.status_argv(None, ["1"])
    assert "--name=jl-x" in A.lookup_argv(None, "jl-x")


def test_accounting_and_cancel_argv_translate_element_keys() -> None:
    argv = A.accounting_argv(["12", "13[4]"]) or []
    assert "--jobs=12,13_4" in argv
    assert {"--allocations", "--parsable2", "--noheader"} <= set(argv)
    assert A.accounting_argv([]) is None
    assert A.cancel_argv(["12", "13[4]"]) == ["scancel", "12", "13_4"]
    with pytest.raises(SchedulerError):
        A.cancel_argv(["--signal=KILL"])
    with pytest.raises(SchedulerError):
        A.cancel_argv([])


def test_submit_argv() -> None:
    assert A.submit_argv("/r/job.sh") == ["sbatch", "--parsable", "/r/job.sh"]
    assert A.submit_uses_stdin is False


# --------------------------------------------------------------------------- submit
def test_parse_submit_captured() -> None:
    assert A.parse_submit(0, out("sbatch-parsable"), "") == out("sbatch-parsable").strip()
    plain = out("sbatch-plain")
    assert A.parse_submit(0, plain, "") == plain.split()[-1]
    assert A.parse_submit(0, "123;cluster2\n", "") == "123"
    assert A.parse_submit(0, "77\n", "sbatch: warning: something\n") == "77"


def test_parse_submit_recorded() -> None:
    assert A.parse_submit(0, recorded("Matgenix-qtoolkit--sbatch-stdout-submitted.txt"), "") == "24"
    text = recorded("Matgenix-qtoolkit--sbatch-stderr-invalid-partition.txt")
    with pytest.raises(SubmitError, match="Invalid partition name") as info:
        A.parse_submit(1, "", text)
    assert info.value.transient is False


def test_parse_submit_without_an_id_is_not_retried_blindly() -> None:
    with pytest.raises(SubmitError, match="look it up by name") as info:
        A.parse_submit(0, "", "")
    assert info.value.transient is False


@pytest.mark.parametrize(
    ("name", "transient", "limit"),
    [
        ("sbatch-invalid-partition", False, False),
        ("sbatch-gres-unavailable", False, False),
        ("sbatch-too-many-cpus", False, False),
        ("sbatch-too-much-memory", False, False),
        ("sbatch-invalid-time", False, False),
        ("sbatch-invalid-account", False, False),
        ("sbatch-invalid-qos", False, False),
        ("sbatch-no-controller", True, False),
        ("sbatch-qos-submit-limit", True, True),
        ("sbatch-assoc-submit-limit", True, True),
    ],
)
def test_parse_submit_rejections(name: str, transient: bool, limit: bool) -> None:
    stderr = err(name)
    assert rc(name) != 0 and stderr
    with pytest.raises(SubmitError) as info:
        A.parse_submit(rc(name), out(name), stderr)
    assert info.value.transient is transient
    assert is_submit_limit(stderr) is limit
    assert A.is_submit_limit(stderr) is limit
    last = stderr.strip().splitlines()[-1].split("error: ")[-1]
    assert last in str(info.value)  # SLURM's own words are quoted


@pytest.mark.parametrize(
    "text",
    [
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
        "sbatch: error: Batch job submission failed: Resource temporarily unavailable",
        "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying",
        "sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received",
    ],
)
def test_transient_messages(text: str) -> None:
    with pytest.raises(SubmitError) as info:
        A.parse_submit(1, "", text)
    assert info.value.transient is True


def test_generic_policy_line_alone_is_not_a_submit_limit() -> None:
    generic = (
        "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy "
        "(job submit limit, user's size and/or time limits)"
    )
    assert not is_submit_limit(generic)
    assert not is_submit_limit("sbatch: error: QOSMaxWallDurationPerJobLimit\n" + generic)
    assert is_submit_limit("sbatch: error: QOSMaxSubmitJobPerAccountLimit\n" + generic)
    assert is_submit_limit("AssocGrpSubmitJobsLimit")


def test_squeue_errors_are_classified() -> None:
    assert A.is_transient(err("squeue-no-controller"))
    assert "Invalid job id specified" in err("squeue-unknown-single-id")
    assert rc("squeue-unknown-single-id") == 1
    assert A.parse_status(out("squeue-unknown-single-id")) == {}


# --------------------------------------------------------------------------- squeue
def test_parse_squeue_live_snapshot() -> None:
    obs = A.parse_status(out("squeue-live"))
    assert obs[key("ok")].state is S.COMPLETED and obs[key("ok")].exit_code == 0
    failed = obs[key("fail")]
    assert (failed.state, failed.exit_code, failed.signal) == (S.FAILED, 3, None)
    assert failed.reason == "NonZeroExitCode" and failed.name == "jl-cap-fail"
    assert failed.comment == "jl:fail:1" and failed.base_id == JOBS["fail"]
    assert failed.started is not None and failed.ended is not None
    assert failed.started <= failed.ended
    killed = obs[key("signal")]
    assert (killed.state, killed.exit_code, killed.signal) == (S.FAILED, 137, 9)
    running = obs[key("running")]
    assert running.state is S.RUNNING and running.ended is None and running.exit_code is None
    assert running.started is not None
    held = obs[key("held")]
    assert (held.state, held.reason, held.started) == (S.SUBMITTED, "JobHeldUser", None)
    assert obs[key("dep-wait")].state is S.SUBMITTED
    assert obs[key("dep-wait")].reason == "Dependency"
    never = obs[key("dep-never")]
    assert never.native == "PENDING" and never.state is S.DEPENDENCY_FAILED
    killed_dep = obs[key("dep-kill")]
    assert killed_dep.native == "CANCELLED" and killed_dep.state is S.DEPENDENCY_FAILED
    assert killed_dep.exit_code is None
    for index in (0, 1):
        element = obs[key("array", index)]
        assert element.state is S.RUNNING
        assert (element.base_id, element.array_index) == (JOBS["array"], index)
    for index in (2, 3, 4, 5):
        element = obs[key("array", index)]
        assert (element.state, element.reason) == (S.SUBMITTED, "JobArrayTaskLimit")
    assert JOBS["array"] not in obs  # elements only, never the bare array id
    assert obs[key("odd-comment")].comment == "jl:odd \"q\" 'x' $(id) `y` | z #w:1"


def test_parse_squeue_final_snapshot() -> None:
    obs = A.parse_status(out("squeue-final"))
    cancelled = obs[key("running")]
    assert (cancelled.state, cancelled.exit_code, cancelled.signal) == (S.CANCELLED, 143, 15)
    timeout = obs[key("timeout")]
    assert (timeout.state, timeout.reason, timeout.signal) == (S.TIMEOUT, "TimeLimit", 15)
    assert obs[key("held")].state is S.CANCELLED
    assert obs[key("dep-wait")].state is S.DEPENDENCY_FAILED
    assert obs[key("dep-ok")].state is S.COMPLETED
    assert {obs[key("array", i)].state for i in range(6)} == {S.COMPLETED}
    for o in obs.values():
        assert o.state.is_final or o.key == key("dep-never")


def test_lookup_by_name() -> None:
    obs = A.parse_status(out("squeue-lookup-by-name"))
    assert list(obs) == [key("fail")]


def test_squeue_lines_that_are_not_records_are_ignored() -> None:
    text = "slurm_load_jobs error: Invalid job id specified\n\n1|2\n" + out("squeue-live")
    assert A.parse_status(text) == A.parse_status(out("squeue-live"))


def test_squeue_recorded_aiida_caret_format() -> None:
    text = recorded("aiidateam-aiida-core--squeue-noheader-o-caret-delimited.txt")
    columns = "%i %t %r %B %u %D %C %R %P %l %M %S %j %V".split()
    obs = parse_squeue(text, columns, sep="^^^")
    assert len(obs) == 8
    running = {k for k, o in obs.items() if o.state is S.RUNNING}
    assert running == {"862538", "861352", "863553", "863554"}
    assert obs["863313"].reason == "JobHeldUser" and obs["863313"].state is S.SUBMITTED
    assert obs["862540"].reason == "Dependency"
    assert obs["863546"].started is None  # pending: the expected start is not a start
    assert obs["861352"].name == "Pressure_PBEsol_0"


def test_squeue_recorded_pysqa_format() -> None:
    text = recorded("pyiron-pysqa--squeue-format-A-u-t-j-Z.txt")
    obs = parse_squeue(text, ["%A", "%u", "%t", "%.15j", "%Z"])
    assert sorted(obs) == ["5322013", "5322016", "5322017", "5322018", "5322019"]
    assert {o.state for o in obs.values()} == {S.RUNNING}
    assert obs["5322019"].name == "pi_19576488"


# --------------------------------------------------------------------------- sacct
def test_parse_sacct_final() -> None:
    obs = A.parse_accounting(out("sacct-final"))
    assert (obs[key("fail")].state, obs[key("fail")].exit_code) == (S.FAILED, 3)
    assert (obs[key("signal")].exit_code, obs[key("signal")].signal) == (137, 9)
    assert obs[key("running")].native == "CANCELLED by 0"
    assert obs[key("running")].state is S.CANCELLED
    assert obs[key("held")].state is S.CANCELLED and obs[key("held")].started is None
    assert obs[key("timeout")].state is S.TIMEOUT
    # sacct keeps no DependencyNeverSatisfied for slurmctld's own kills
    assert obs[key("dep-kill")].native == "CANCELLED"
    assert obs[key("dep-kill")].state is S.DEPENDENCY_FAILED
    assert obs[key("dep-wait")].state is S.DEPENDENCY_FAILED
    assert obs[key("dep-never")].state is S.DEPENDENCY_FAILED  # cancelled by us meanwhile
    assert obs[key("ok")].state is S.COMPLETED and obs[key("dep-ok")].state is S.COMPLETED
    for index in range(6):
        element = obs[key("array", index)]
        assert (element.state, element.array_index) == (S.COMPLETED, index)
    assert obs[key("odd-comment")].comment.startswith('jl:odd "q"')


def test_sacct_has_nothing_right_after_submit() -> None:
    assert rc("sacct-right-after-submit") == 0
    assert A.parse_accounting(out("sacct-right-after-submit")) == {}


def test_sacct_steps_are_skipped() -> None:
    obs = parse_sacct(out("sacct-steps"), ["JobID", "JobIDRaw", "State", "ExitCode"])
    assert sorted(obs) == sorted([key("fail"), key("signal")])
    assert obs[key("signal")].signal == 9


def test_sacct_pending_array_range_is_expanded() -> None:
    text = "90_[2-5%2]|90|PENDING|0:0|JobArrayTaskLimit|None|None|ana|arr|jl:a:1\n"
    obs = A.parse_accounting(text)
    assert sorted(obs) == ["90[2]", "90[3]", "90[4]", "90[5]"]
    assert {o.state for o in obs.values()} == {S.SUBMITTED}


def test_sacct_json_captured() -> None:
    obs = parse_sacct_json(out("sacct-json"))
    assert obs[key("fail")].state is S.FAILED
    # SLURM 22.05.8 bug kept on record: --json says exit 0 for a job that exited 3
    assert obs[key("fail")].exit_code == 0
    assert obs[key("held")].state is S.CANCELLED
    assert {obs[key("array", i)].state for i in range(6)} == {S.COMPLETED}


def test_sacct_recorded_toil() -> None:
    text = recorded("DataBiosphere-toil--sacct-n-P-jobidraw-state-exitcode.txt")
    obs = parse_sacct(text, ["JobIDRaw", "State", "ExitCode"])
    assert len(obs) == 9
    assert (obs["609663"].state, obs["609663"].signal, obs["609663"].exit_code) == (
        S.FAILED, 2, 130,
    )  # fmt: skip
    assert obs["754725"].state is S.TIMEOUT
    assert (obs["765096"].state, obs["765096"].signal) == (S.FAILED, 9)
    assert (obs["767925"].exit_code, obs["785023"].exit_code) == (2, 127)
    assert obs["789724"].state is S.RUNNING and obs["789724"].exit_code is None
    assert obs["789868"].state is S.SUBMITTED
    assert obs["789869"].state is S.COMPLETED


def test_sacct_recorded_buildtest_21_fields() -> None:
    text = recorded("buildtesters-buildtest--sacct-X-n-P-o-21-fields-cori.txt")
    columns = (
        "Account,AllocNodes,AllocTRES,ConsumedEnergyRaw,CPUTimeRaw,Elapsed,End,ExitCode,JobID,"
        "JobName,NCPUS,NNodes,QOS,ReqMem,ReqNodes,Start,State,Submit,UID,User,WorkDir"
    ).split(",")
    obs = parse_sacct(text, columns)
    job = obs["42909266"]
    assert (job.state, job.exit_code, job.name) == (S.COMPLETED, 0, "slurm_metadata")
    assert job.started is not None and job.ended is not None and job.ended - job.started == 8


@pytest.mark.parametrize(
    ("name", "job", "state"),
    [
        ("TheRoddyWMS-BatchEuphoria--sacct-j-json-completed.txt", "267854", S.COMPLETED),
        ("TheRoddyWMS-BatchEuphoria--sacct-j-json-requeued-timeout.txt", "268210", S.TIMEOUT),
        ("TheRoddyWMS-BatchEuphoria--sacct-j-json-cancelled-never-started.txt", "275097",
         S.CANCELLED),
    ],
)  # fmt: skip
def test_sacct_json_recorded(name: str, job: str, state: JobState) -> None:
    obs = parse_sacct_json(recorded(name))
    assert list(obs) == [job]
    assert obs[job].state is state


def test_sacct_json_newer_shape() -> None:
    text = """{"jobs": [{"job_id": 7, "name": "n", "state": {"current": ["FAILED"],
      "reason": "None"}, "exit_code": {"status": ["SIGNALED"], "return_code":
      {"set": true, "number": 0}, "signal": {"id": {"set": true, "number": 9},
      "signal_id": {"set": true, "number": 9}}}, "array": {"job_id": 5, "task_id":
      {"set": true, "number": 3}}, "time": {"start": 100, "end": 160},
      "comment": {"job": "jl:k:1"}}]}"""
    obs = parse_sacct_json(text)
    assert list(obs) == ["5[3]"]
    assert (obs["5[3]"].state, obs["5[3]"].signal, obs["5[3]"].exit_code) == (S.FAILED, 9, 137)
    assert obs["5[3]"].comment == "jl:k:1"


# --------------------------------------------------------------------------- scontrol
@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ISO times in the fixtures were printed in UTC; read them in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_scontrol_failed_multiline(utc: None) -> None:
    epoch = parse_scontrol(out("scontrol-failed"))[key("fail")]
    iso = parse_scontrol(out("scontrol-failed-iso"))[key("fail")]
    assert (epoch.state, epoch.exit_code, epoch.reason) == (S.FAILED, 3, "NonZeroExitCode")
    assert epoch.comment == "jl:fail:1" and epoch.name == "jl-cap-fail"
    assert epoch == iso


def test_scontrol_pending_never_and_dep_kill() -> None:
    never = parse_scontrol(out("scontrol-pending-never"))[key("dep-never")]
    assert (never.native, never.state) == ("PENDING", S.DEPENDENCY_FAILED)
    killed = A.parse_scontrol(out("scontrol-oneline-dep-kill"))[key("dep-kill")]
    assert killed.state is S.DEPENDENCY_FAILED


def test_scontrol_oneline_array_live_and_final() -> None:
    live = parse_scontrol(out("scontrol-oneline-array-live"))
    assert sorted(live) == sorted(key("array", i) for i in range(6))
    assert [live[key("array", i)].state for i in range(6)] == [S.RUNNING] * 2 + [S.SUBMITTED] * 4
    final = parse_scontrol(out("scontrol-oneline-array-final"))
    assert {final[key("array", i)].state for i in range(6)} == {S.COMPLETED}


def test_scontrol_held_cancelled_timeout() -> None:
    assert parse_scontrol(out("scontrol-oneline-held"))[key("held")].state is S.SUBMITTED
    cancelled = parse_scontrol(out("scontrol-oneline-cancelled-pending"))[key("held")]
    assert cancelled.state is S.CANCELLED
    timeout = parse_scontrol(out("scontrol-timeout"))[key("timeout")]
    assert (timeout.state, timeout.exit_code, timeout.signal) == (S.TIMEOUT, 143, 15)
    assert err("scontrol-unknown-id").strip() == "slurm_load_jobs error: Invalid job id specified"


def test_jobcomp_lines_parse_like_scontrol() -> None:
    obs = parse_scontrol(out("jobcomp"))
    assert (obs[key("fail")].state, obs[key("fail")].exit_code) == (S.FAILED, 3)
    assert obs[key("signal")].signal == 9
    assert {obs[key("array", i)].state for i in range(6)} == {S.COMPLETED}
    # jobcomp has no Reason: a dependency kill is a plain CANCELLED there
    assert obs[key("dep-kill")].state is S.CANCELLED
    argv = A.jobcomp_argv("/var/log/jobcomp.txt", ["12", "13[4]"]) or []
    assert argv[:3] == ["grep", "-E", "--"]
    assert re.search(argv[3], "JobId=12 UserId=x ")
    assert re.search(argv[3], "JobId=99 ArrayJobId=13 ")
    assert not re.search(argv[3], "JobId=123 UserId=x ")


def test_scontrol_recorded_toil_three_jobs() -> None:
    obs = parse_scontrol(recorded("DataBiosphere-toil--scontrol-show-job-3-jobs.txt"))
    assert sorted(obs) == ["787204", "789724", "789728"]
    assert (obs["787204"].state, obs["787204"].exit_code) == (S.COMPLETED, 0)
    assert obs["789724"].state is S.RUNNING and obs["789724"].exit_code is None
    assert obs["789728"].state is S.SUBMITTED
    assert obs["789728"].reason == "ReqNodeNotAvail,_UnavailableNodes:wn-db-05"


@pytest.mark.parametrize(
    ("name", "job", "state"),
    [
        ("Matgenix-qtoolkit--scontrol-show-job-o-completed.txt", "270", S.COMPLETED),
        ("TheRoddyWMS-BatchEuphoria--scontrol-show-job-running.txt", "267858", S.RUNNING),
        ("buildtesters-buildtest--scontrol-show-job-pending-perlmutter.txt", "23608796",
         S.SUBMITTED),
    ],
)  # fmt: skip
def test_scontrol_recorded_single(name: str, job: str, state: JobState) -> None:
    obs = parse_scontrol(recorded(name))
    assert list(obs) == [job]
    assert obs[job].state is state


def test_scontrol_recorded_detailed_array_gres() -> None:
    text = recorded("irush-cs-slurm-scripts--scontrol-show-jobs-dd-array-gres.txt")
    obs = parse_scontrol(text)
    assert len(obs) == len(re.findall(r"^JobId=", text, re.MULTILINE)) == 9
    element = obs["2398463[150]"]
    assert (element.state, element.base_id, element.array_index) == (S.COMPLETED, "2398463", 150)
    assert obs["1"].state is S.RUNNING
    assert any(o.reason == "AssocGrpCpuLimit" for o in obs.values())


# --------------------------------------------------------------------------- scancel
@pytest.mark.parametrize(
    "name",
    ["scancel-running", "scancel-held", "scancel-finished", "scancel-finished-verbose",
     "scancel-unknown-id", "scancel-unknown-id-verbose", "scancel-pending-never"],
)  # fmt: skip
def test_cancel_accepted(name: str) -> None:
    A.parse_cancel(rc(name), out(name), err(name))


@pytest.mark.parametrize(
    ("name", "match"),
    [("scancel-malformed-id", "Invalid job id abc"),
     ("scancel-permission-denied", "Access/permission denied")],
)  # fmt: skip
def test_cancel_refused(name: str, match: str) -> None:
    with pytest.raises(SchedulerError, match=match):
        A.parse_cancel(rc(name), out(name), err(name))


@pytest.mark.parametrize(
    ("name", "code", "ok"),
    [
        ("Matgenix-qtoolkit--scancel-v-stderr-terminating.txt", 0, True),
        ("Matgenix-qtoolkit--scancel-v-stderr-already-completing.txt", 0, True),
        ("Matgenix-qtoolkit--scancel-v-stderr-invalid-job-id-specified.txt", 0, True),
        ("Matgenix-qtoolkit--scancel-v-stderr-invalid-job-id.txt", 1, False),
        ("Matgenix-qtoolkit--scancel-v-stderr-no-job-identification.txt", 1, False),
        ("Matgenix-qtoolkit--scancel-v-stderr-permission-denied.txt", 210, False),
    ],
)
def test_cancel_recorded(name: str, code: int, ok: bool) -> None:
    text = recorded(name)
    if ok:
        A.parse_cancel(code, "", text)
    else:
        with pytest.raises(SchedulerError):
            A.parse_cancel(code, "", text)


def test_cancel_nonzero_without_message_fails() -> None:
    with pytest.raises(SchedulerError, match="exit code 2"):
        A.parse_cancel(2, "", "")


# --------------------------------------------------------------------------- misc
def test_version() -> None:
    assert A.parse_version(out("version")) == "22.05.8"
    assert A.parse_version("slurm 23.11.4\n") == "23.11.4"
    assert A.parse_version("nope") == ""


def test_observations_are_plain_values() -> None:
    obs = A.parse_status(out("squeue-live"))
    assert all(isinstance(o, Observation) and o.key == k for k, o in obs.items())
