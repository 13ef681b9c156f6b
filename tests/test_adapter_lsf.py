"""LSF adapter: goldens, hand-written fixtures, recorded output.

Pure tests: nothing runs. ``fixtures/lsf`` is hand-written from the IBM Spectrum LSF 10.1
command reference (see its README); ``fixtures/recorded/lsf`` holds real output captured
by others (provenance per file in ``fixtures/recorded/SOURCES.md``).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import attrs
import pytest

from jobledger.errors import SchedulerError, SubmitError, UnsupportedResource
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency, Observation
from jobledger.schedulers.lsf import STATUS_FIELDS, LsfAdapter, lsf_observation, parse_bjobs
from jobledger.states import JobState

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "lsf"
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "lsf"

RUN_DIR = "/scratch/alice/proj/.jobledger/jobs/hello-0a1b2c3d"
BODY = f"cd /scratch/alice/proj\nexec /bin/bash {RUN_DIR}/wrap.sh"
BASE = BatchSpec(
    job_name="hello",
    comment="jl:0a1b2c3d4e5f6789:1",
    run_dir=RUN_DIR,
    workdir="/scratch/alice/proj",
    body=BODY,
)
SPECS: dict[str, BatchSpec] = {
    "minimal": BASE,
    "resources": attrs.evolve(
        BASE,
        resources=Resources(cpus=4, memory="8G", time="2:30:00", gpus=1, partition="gpu", account="proj42"),
        dependencies=(
            NativeDependency("3001"),
            NativeDependency("3002", "afterok"),
            NativeDependency("3003", "afterany"),
        ),
        setup=("module load cuda/12.2", "export OMP_NUM_THREADS=4"),
    ),
    "array": attrs.evolve(
        BASE,
        resources=Resources(
            tasks=8,
            nodes=2,
            cpus=2,
            memory_per_cpu="2G",
            time=90,
            exclusive=True,
            constraint="avx512",
        ),
        array=ArraySpec.parse("1-10:3%2"),
        dependencies=(NativeDependency("3001", "afternotok"),),
        raw_args=("-app short",),
    ),
}
ADAPTER = LsfAdapter()


def diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(), lineterm=""))


# ---------------------------------------------------------------------------- scripts
@pytest.mark.parametrize("name", sorted(SPECS))
def test_script_matches_golden(name: str) -> None:
    expected = (FIXTURES / "scripts" / f"{name}.sh").read_text()
    actual = ADAPTER.render_script(SPECS[name])
    assert actual == expected, diff(expected, actual)


def test_directives() -> None:
    lines = ADAPTER.directives(SPECS["resources"])
    assert '#BSUB -Jd "jl:0a1b2c3d4e5f6789:1"' in lines
    assert f'#BSUB -o "{RUN_DIR}/lsf-%J.out"' in lines
    assert '#BSUB -cwd "/scratch/alice/proj"' in lines
    assert "#BSUB -n 4" in lines
    assert '#BSUB -R "rusage[mem=2048MB] span[hosts=1]"' in lines
    assert "#BSUB -M 8192MB" in lines
    assert "#BSUB -W 2:30" in lines
    assert '#BSUB -gpu "num=1"' in lines
    assert '#BSUB -w "done(3001) && done(3002) && ended(3003)"' in lines
    array = ADAPTER.directives(SPECS["array"])
    assert '#BSUB -J "hello[1-10:3]%2"' in array
    assert f'#BSUB -o "{RUN_DIR}/lsf-%J_%I.out"' in array
    assert '#BSUB -R "select[avx512] rusage[mem=2048MB] span[ptile=8]"' in array
    assert "#BSUB -W 0:02" in array  # 90 s rounds up to two minutes
    assert '#BSUB -w "exit(3001)"' in array


@pytest.mark.parametrize(
    ("kwargs", "keyword"),
    [
        ({"resources": Resources(qos="high")}, "qos"),
        ({"array": ArraySpec.parse(4)}, "array"),  # 0..3: LSF indices start at 1
        ({"resources": Resources(tasks=3, nodes=2)}, "nodes"),
        ({"comment": 'jl:"x":1'}, "comment"),
    ],
)
def test_unsupported_keyword_names_keyword_and_scheduler(kwargs: dict[str, object], keyword: str) -> None:
    with pytest.raises(UnsupportedResource) as err:
        ADAPTER.directives(attrs.evolve(BASE, **kwargs))
    assert keyword in str(err.value) and "lsf" in str(err.value)


def test_submission_goes_through_stdin() -> None:
    assert LsfAdapter.submit_uses_stdin is True
    assert ADAPTER.submit_argv("/x/job.sh") == ["bsub"]


# ---------------------------------------------------------------------------- submit
@pytest.mark.parametrize(
    ("name", "job_id"),
    [("bsub-stdout-queue.txt", "3001"), ("bsub-stdout-default-queue.txt", "3002")],
)
def test_parse_submit(name: str, job_id: str) -> None:
    assert ADAPTER.parse_submit(0, (FIXTURES / name).read_text(), "") == job_id


@pytest.mark.parametrize(
    ("name", "transient"),
    [("bsub-stderr-no-such-queue.txt", False), ("bsub-stderr-lsf-down.txt", True)],
)
def test_parse_submit_rejections(name: str, transient: bool) -> None:
    with pytest.raises(SubmitError) as err:
        ADAPTER.parse_submit(255, "", (FIXTURES / name).read_text())
    assert err.value.transient is transient


# ---------------------------------------------------------------------------- status
def test_status_argv() -> None:
    fields = " ".join(STATUS_FIELDS)
    assert ADAPTER.status_argv("alice", ["3001", "3100[2]"]) == [
        "bjobs", "-a", "-o", fields, "-json", "-u", "alice",
    ]  # fmt: skip
    assert LsfAdapter(json_status=False).status_argv(None, ["3001"]) == [
        "bjobs", "-a", "-noheader", "-o", fields + " delimiter='|'",
    ]  # fmt: skip
    assert ADAPTER.lookup_argv(None, "hello")[-2:] == ["-J", "hello"]


EXPECTED: list[tuple[str, JobState, int | None, str]] = [
    ("3001", JobState.SUBMITTED, None, "New job is waiting for scheduling"),
    ("3002", JobState.SUBMITTED, None, "Dependency"),
    ("3003", JobState.SUBMITTED, None, "DependencyNeverSatisfied"),
    ("3004", JobState.SUBMITTED, None, "suspended by the user while pending"),
    ("3005", JobState.RUNNING, None, ""),
    ("3006", JobState.RUNNING, None, "USUSP"),
    ("3007", JobState.RUNNING, None, "SSUSP"),
    ("3008", JobState.COMPLETED, 0, ""),
    ("3009", JobState.FAILED, 3, ""),
    ("3010", JobState.TIMEOUT, 140, "TERM_RUNLIMIT"),
    ("3011", JobState.OUT_OF_MEMORY, 137, "TERM_MEMLIMIT"),
    ("3012", JobState.CANCELLED, 130, "TERM_OWNER"),
    ("3013", JobState.RUNNING, None, "UNKWN"),
    ("3014", JobState.RUNNING, None, "ZOMBI"),
    ("3015", JobState.SUBMITTED, None, ""),
    ("3016", JobState.SUBMITTED, None, ""),
    ("3100[1]", JobState.COMPLETED, 0, ""),
    ("3100[2]", JobState.FAILED, 1, ""),
    ("3100[3]", JobState.RUNNING, None, ""),
    ("3100[4]", JobState.SUBMITTED, None, "job slot limit"),
]


@pytest.mark.parametrize("name", ["bjobs-a-o-json-mixed.json", "bjobs-a-noheader-o-delimited.txt"])
def test_json_and_delimited_forms_agree(name: str) -> None:
    obs = ADAPTER.parse_status((FIXTURES / name).read_text())
    assert len(obs) == len(EXPECTED)  # the ERROR record for 2998 is dropped
    for key, state, exit_code, reason in EXPECTED:
        assert (obs[key].state, obs[key].exit_code) == (state, exit_code), key
        assert reason in obs[key].reason, key
    element = obs["3100[2]"]
    assert (element.base_id, element.array_index, element.comment) == ("3100", 2, "jl:3100aa:1")
    assert obs["3005"].comment == "jl:3005aa:2"


def test_long_form() -> None:
    obs = ADAPTER.parse_status((FIXTURES / "bjobs-l-long.txt").read_text())
    element = obs["3200[5]"]
    assert (element.state, element.exit_code, element.name) == (JobState.TIMEOUT, 140, "grid[5]")
    assert element.comment == "jl:3200aa:1"
    assert element.reason.startswith("TERM_RUNLIMIT: job killed after reaching LSF run time limit")
    waiting = obs["3201"]
    assert (waiting.state, waiting.reason) == (JobState.SUBMITTED, "Dependency")
    record = parse_bjobs((FIXTURES / "bjobs-l-long.txt").read_text())[1]
    assert record["DEPENDENCY"] == "done(3200)"


def test_default_table() -> None:
    records = parse_bjobs((FIXTURES / "bjobs-default.txt").read_text())
    assert [r["JOBID"] for r in records] == ["3301", "3302", "3303"]
    assert records[0]["EXEC_HOST"] == "node30 node31"
    assert records[1]["EXEC_HOST"] == ""
    obs = ADAPTER.parse_status((FIXTURES / "bjobs-default.txt").read_text())
    assert obs["3302"].state is JobState.SUBMITTED
    assert obs["3303[4]"].state is JobState.RUNNING  # index read from JOB_NAME grid[4]


def test_record_without_jobid_is_skipped() -> None:
    assert lsf_observation({"STAT": "RUN"}) is None
    assert lsf_observation({"JOBID": "12", "ERROR": "Job <12> is not found"}) is None
    assert ADAPTER.parse_status("") == {}


# ---------------------------------------------------------------------------- cancel
@pytest.mark.parametrize(
    ("name", "code", "ok"),
    [
        ("bkill-stdout-terminated.txt", 0, True),
        ("bkill-stderr-finished.txt", 255, True),
        ("bkill-stderr-no-matching.txt", 255, True),
        ("bkill-stderr-permission.txt", 255, False),
    ],
)
def test_parse_cancel(name: str, code: int, ok: bool) -> None:
    text = (FIXTURES / name).read_text()
    if ok:
        ADAPTER.parse_cancel(code, text, "")
    else:
        with pytest.raises(SchedulerError):
            ADAPTER.parse_cancel(code, "", text)
    assert ADAPTER.cancel_argv(["3001", "3100[2]"]) == ["bkill", "3001", "3100[2]"]


def test_version_argv() -> None:
    assert ADAPTER.version_argv() == ["bjobs", "-V"]


# ---------------------------------------------------------------------------- recorded
def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def status(name: str, fields: list[str] | None = None) -> dict[str, Observation]:
    if fields is None:
        return ADAPTER.parse_status(recorded(name))
    return {
        o.key: o for o in (lsf_observation(r) for r in parse_bjobs(recorded(name), fields)) if o is not None
    }


def test_every_recorded_bjobs_output_parses() -> None:
    names = sorted(p.name for p in RECORDED.glob("*bjobs*") if "stderr" not in p.name)
    assert len(names) == 6
    for name in names:
        fields = AIIDA_FIELDS if "pipe-delimited" in name else None
        records = parse_bjobs(recorded(name), fields or STATUS_FIELDS)
        assert records, name
        assert all(r.get("STAT") for r in records), name


AIIDA_FIELDS = (
    "id stat exit_reason exec_host user slots max_req_proc exec_host queue finish_time "
    "start_time %complete submit_time name"
).split()


def test_recorded_aiida_pipe_delimited() -> None:
    obs = status("aiidateam-aiida-core--bjobs-noheader-o-pipe-delimited.txt", AIIDA_FIELDS)
    assert len(obs) == 7
    assert obs["764213236"].state is JobState.TIMEOUT
    assert obs["764213236"].reason.startswith("TERM_RUNLIMIT")
    assert sorted(k for k, o in obs.items() if o.native == "PEND") == ["764220165", "764220167"]
    assert sorted(k for k, o in obs.items() if o.native == "RUN") == [
        "764245175", "764254593", "764255172",
    ]  # fmt: skip
    assert obs["764399747"].state is JobState.COMPLETED  # the line with a leading space
    assert obs["764213236"].name == "aiida-1033269"


def test_recorded_batcheuphoria_json() -> None:
    done = status("TheRoddyWMS-BatchEuphoria--bjobs-a-hms-json-o-extended-done.txt")["22005"]
    assert (done.state, done.exit_code, done.name) == (JobState.COMPLETED, 0, "ls -l")
    record = parse_bjobs(recorded("TheRoddyWMS-BatchEuphoria--bjobs-a-hms-json-o-extended-done.txt"))[0]
    assert record["EXEC_CWD"] == "/home/otptest"  # JSON-escaped slashes
    assert record["DEPENDENCY"] == "done(22004)"
    states = status("TheRoddyWMS-BatchEuphoria--bjobs-a-hms-json-o-states-exit-done.txt")
    assert sorted(k for k, o in states.items() if o.state is JobState.FAILED) == [
        "487641", "487642", "488155",
    ]  # fmt: skip
    assert sorted(k for k, o in states.items() if o.state is JobState.COMPLETED) == [
        "491861", "491864", "491867",
    ]  # fmt: skip


def test_recorded_buildtest_psusp_without_jobid() -> None:
    text = recorded("buildtesters-buildtest--bjobs-o-json-psusp.txt")
    (record,) = parse_bjobs(text)
    assert record["STAT"] == "PSUSP" and "JOBID" not in record
    assert ADAPTER.parse_status(text) == {}  # nothing to key it by
    held = lsf_observation({**record, "JOBID": "58652"})
    assert held is not None and held.state is JobState.SUBMITTED and held.reason == "Held"


def test_recorded_default_table_and_long_form() -> None:
    table = status("pyiron-pysqa--bjobs-default.txt")
    assert sorted(table) == ["5136563", "5136570", "5136571"]
    assert all(o.state is JobState.RUNNING for o in table.values())
    records = parse_bjobs(recorded("pyiron-pysqa--bjobs-default.txt"))
    assert records[0]["EXEC_HOST"] == "1*launch_ho 40*batch_hosts"
    long = status("DataBiosphere-toil--bjobs-l-running.txt")
    job = long["2924748"]
    assert (job.state, job.name) == (JobState.RUNNING, "toil_job_64")


def test_recorded_submit_kill_and_not_found() -> None:
    assert ADAPTER.parse_submit(0, recorded("aiidateam-aiida-core--bsub-stdout-submitted.txt"), "") == (
        "764254593"
    )
    ADAPTER.parse_cancel(0, recorded("aiidateam-aiida-core--bkill-stdout-terminated.txt"), "")
    not_found = recorded("aiidateam-aiida-core--bjobs-stderr-job-not-found.txt")
    assert ADAPTER.parse_status(not_found) == {}
    ADAPTER.parse_cancel(255, "", not_found)  # a job LSF has forgotten has ended
