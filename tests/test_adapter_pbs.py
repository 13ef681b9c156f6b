"""PBS Pro / OpenPBS and Torque adapters: goldens, hand-written fixtures, recorded output.

Pure tests: nothing runs. ``fixtures/pbs`` and ``fixtures/torque`` are hand-written from
the documentation (see their README); ``fixtures/recorded/{pbs,torque}`` holds real output
captured by others (provenance per file in ``fixtures/recorded/SOURCES.md``).
"""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import attrs
import pytest

from jobledger.errors import SchedulerError, SubmitError, UnsupportedResource
from jobledger.model.array import ArraySpec
from jobledger.model.resources import Resources
from jobledger.schedulers.base import BatchSpec, NativeDependency, Observation, SchedulerAdapter
from jobledger.schedulers.pbs import (
    PbsAdapter,
    TorqueAdapter,
    native_id,
    parse_qstat,
    split_job_id,
)
from jobledger.states import JobState

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"

RUN_DIR = "/scratch/alice/proj/.jobledger/jobs/hello-0a1b2c3d"
BODY = f"cd /scratch/alice/proj\nexec /bin/bash {RUN_DIR}/wrap.sh"


def golden_specs(dep_ids: tuple[str, str, str]) -> dict[str, BatchSpec]:
    """The specs rendered into ``fixtures/<sched>/scripts/<name>.sh``."""
    base = {
        "job_name": "hello",
        "comment": "jl:0a1b2c3d4e5f6789:1",
        "run_dir": RUN_DIR,
        "workdir": "/scratch/alice/proj",
        "body": BODY,
    }
    return {
        "minimal": BatchSpec(**base),
        "resources": BatchSpec(
            **base,
            resources=Resources(
                cpus=4, memory="8G", time="2:30:00", gpus=1, partition="gpu", account="proj42"
            ),
            dependencies=(
                NativeDependency(dep_ids[0]),
                NativeDependency(dep_ids[1], "afterok"),
                NativeDependency(dep_ids[2], "afterany"),
            ),
            setup=("module load cuda/12.2", "export OMP_NUM_THREADS=4"),
        ),
        "array": BatchSpec(
            **base,
            resources=Resources(tasks=8, nodes=2, cpus=2, memory_per_cpu="2G", time=90, exclusive=True),
            array=ArraySpec.parse("1-10:3%2"),
            dependencies=(NativeDependency(dep_ids[0], "afternotok"),),
            raw_args=("-m abe",),
        ),
    }


PBS_SPECS = golden_specs(("4101.pbs01", "4102.pbs01", "4103.pbs01"))


def diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(), lineterm=""))


# ---------------------------------------------------------------------------- scripts
@pytest.mark.parametrize("adapter", [PbsAdapter(), TorqueAdapter()], ids=["pbs", "torque"])
@pytest.mark.parametrize("name", sorted(PBS_SPECS))
def test_script_matches_golden(adapter: SchedulerAdapter, name: str) -> None:
    golden = FIXTURES / adapter.name / "scripts" / f"{name}.sh"
    actual = adapter.render_script(PBS_SPECS[name])
    expected = golden.read_text()
    assert actual == expected, diff(expected, actual)


def test_pbspro_directives_carry_every_resource() -> None:
    lines = PbsAdapter().directives(PBS_SPECS["resources"])
    assert "#PBS -l select=1:ncpus=4:mem=8192mb:ngpus=1" in lines
    assert "#PBS -l walltime=02:30:00" in lines
    assert "#PBS -W depend=afterok:4101.pbs01:4102.pbs01,afterany:4103.pbs01" in lines
    assert "#PBS -v JL_TAG=jl:0a1b2c3d4e5f6789:1" in lines
    assert f"#PBS -o {RUN_DIR}/pbs.out" in lines
    assert "#PBS -q gpu" in lines and "#PBS -A proj42" in lines


def test_pbspro_array_uses_J_and_array_index_in_log_name() -> None:
    lines = PbsAdapter().directives(PBS_SPECS["array"])
    assert "#PBS -J 1-10:3%2" in lines
    assert f"#PBS -o {RUN_DIR}/pbs-^array_index^.out" in lines
    assert "#PBS -l select=2:ncpus=8:mpiprocs=4:mem=16384mb" in lines
    assert "#PBS -l place=scatter:excl" in lines
    assert "#PBS -W depend=afternotok:4101.pbs01" in lines


def test_torque_uses_nodes_ppn_t_and_d() -> None:
    lines = TorqueAdapter().directives(PBS_SPECS["array"])
    assert "#PBS -l nodes=2:ppn=8" in lines
    assert "#PBS -l pmem=2048mb" in lines
    assert "#PBS -n" in lines
    assert "#PBS -t 1,4,7,10%2" in lines  # Torque -t takes no step
    assert "#PBS -d /scratch/alice/proj" in lines
    res = TorqueAdapter().directives(PBS_SPECS["resources"])
    assert "#PBS -l nodes=1:ppn=4:gpus=1" in res and "#PBS -l mem=8192mb" in res


@pytest.mark.parametrize(
    ("adapter", "kwargs", "keyword"),
    [
        (PbsAdapter(), {"resources": Resources(qos="high")}, "qos"),
        (TorqueAdapter(), {"resources": Resources(qos="high")}, "qos"),
        (PbsAdapter(), {"resources": Resources(constraint="skylake")}, "constraint"),
        (TorqueAdapter(), {"resources": Resources(constraint="a&b")}, "constraint"),
        (PbsAdapter(), {"array": ArraySpec.parse("1,2,5")}, "array"),
        (PbsAdapter(), {"array": ArraySpec.parse([4])}, "array"),
        (PbsAdapter(), {"resources": Resources(tasks=3, nodes=2)}, "tasks"),
        (PbsAdapter(), {"comment": "jl:a,b:1"}, "comment"),
        (PbsAdapter(), {"run_dir": "/with space/run"}, "run_dir"),
    ],
)
def test_unsupported_keyword_names_keyword_and_scheduler(
    adapter: PbsAdapter, kwargs: dict[str, object], keyword: str
) -> None:
    spec = attrs.evolve(PBS_SPECS["minimal"], **kwargs)
    with pytest.raises(UnsupportedResource) as err:
        adapter.directives(spec)
    assert keyword in str(err.value) and adapter.name in str(err.value)


def test_torque_accepts_node_property_constraint() -> None:
    spec = attrs.evolve(PBS_SPECS["minimal"], resources=Resources(constraint="bigmem"))
    assert "#PBS -l nodes=1:bigmem" in TorqueAdapter().directives(spec)


# ---------------------------------------------------------------------------- submit
@pytest.mark.parametrize("sched", ["pbs", "torque"])
def test_parse_submit_job_and_array_ids(sched: str) -> None:
    adapter = PbsAdapter() if sched == "pbs" else TorqueAdapter()
    job = (FIXTURES / sched / "qsub-stdout-job.txt").read_text()
    array = (FIXTURES / sched / "qsub-stdout-array.txt").read_text()
    assert adapter.parse_submit(0, job, "") == job.strip()
    assert adapter.parse_submit(0, array, "").endswith("]." + array.split("].")[1].strip())
    assert "[]" in adapter.parse_submit(0, array, "")


@pytest.mark.parametrize(
    ("path", "transient"),
    [
        ("pbs/qsub-stderr-unknown-queue.txt", False),
        ("pbs/qsub-stderr-illegal-resource.txt", False),
        ("pbs/qsub-stderr-cannot-connect.txt", True),
        ("pbs/qsub-stderr-end-of-file.txt", True),
        ("torque/qsub-stderr-unknown-queue.txt", False),
        ("torque/qsub-stderr-end-of-file.txt", True),
    ],
)
def test_parse_submit_rejections(path: str, transient: bool) -> None:
    with pytest.raises(SubmitError) as err:
        PbsAdapter().parse_submit(1, "", (FIXTURES / path).read_text())
    assert err.value.transient is transient
    assert (FIXTURES / path).read_text().strip() in str(err.value)


# ---------------------------------------------------------------------------- status
def test_status_argv_json_and_text_forms() -> None:
    argv = PbsAdapter().status_argv("alice", ["4200[].pbs01[3]", "4101.pbs01"])
    assert argv[:2] == ["sh", "-c"] and argv[3:] == [
        "qstat", "-f", "-F", "json", "-x", "-t", "4200[3].pbs01", "4101.pbs01",
    ]  # fmt: skip
    assert PbsAdapter(json_status=False).status_argv(None, []) == ["qstat", "-f", "-x", "-t"]
    assert TorqueAdapter().status_argv(None, ["7001.t"])[3:] == ["qstat", "-f", "-t", "7001.t"]


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (153, 0), (35, 0), (2, 2), (162, 162)])
def test_status_wrapper_tolerates_only_unknown_id_codes(tmp_path: Path, code: int, expected: int) -> None:
    """qstat exits 153/35 when one id is unknown yet prints the others: keep the output."""
    fake = tmp_path / "qstat"
    fake.write_text(f'#!/bin/sh\necho "listed $*"\nexit {code}\n')
    fake.chmod(0o755)
    argv = PbsAdapter().status_argv(None, ["1.s"])
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (expected, "listed -f -F json -x -t 1.s\n")


def test_job_ids_and_element_keys_round_trip() -> None:
    assert split_job_id("4200[3].pbs01") == ("4200[].pbs01", 3)
    assert split_job_id("4200[].pbs01") == ("4200[].pbs01", None)
    assert split_job_id("14") == ("14", None)
    assert native_id("4200[].pbs01[3]") == "4200[3].pbs01"
    assert native_id("4101.pbs01") == "4101.pbs01"
    assert PbsAdapter().cancel_argv(["4200[].pbs01[3]", "4200[].pbs01"]) == [
        "qdel", "4200[3].pbs01", "4200[].pbs01",
    ]  # fmt: skip


def pbs_json() -> dict[str, Observation]:
    return PbsAdapter().parse_status((FIXTURES / "pbs/qstat-f-F-json-x-t-mixed.json").read_text())


@pytest.mark.parametrize(
    ("key", "state", "exit_code", "signal", "reason"),
    [
        ("4101.pbs01", JobState.SUBMITTED, None, None, "Not Running: Insufficient"),
        ("4102.pbs01", JobState.RUNNING, None, None, ""),
        ("4103.pbs01", JobState.SUBMITTED, None, None, "Held (Hold_Types=u)"),
        ("4104.pbs01", JobState.SUBMITTED, None, None, "Dependency"),
        ("4105.pbs01", JobState.COMPLETED, 0, None, ""),
        ("4106.pbs01", JobState.FAILED, 3, None, "and failed"),
        ("4107.pbs01", JobState.CANCELLED, 143, 15, "killed by signal 15"),
        ("4108.pbs01", JobState.CANCELLED, None, None, "Job deleted"),
        ("4109.pbs01", JobState.TIMEOUT, None, None, "JOB_EXEC_KILL_WALLTIME"),
        ("4110.pbs01", JobState.OUT_OF_MEMORY, None, None, "JOB_EXEC_KILL_MEM"),
        ("4111.pbs01", JobState.DEPENDENCY_FAILED, None, None, "result of dependency"),
        ("4112.pbs01", JobState.FAILED, 137, 9, "killed by signal 9"),
        ("4113.pbs01", JobState.RUNNING, None, None, ""),
        ("4200[].pbs01", JobState.RUNNING, None, None, ""),
        ("4200[].pbs01[0]", JobState.COMPLETED, 0, None, ""),
        ("4200[].pbs01[1]", JobState.FAILED, 1, None, ""),
        ("4200[].pbs01[2]", JobState.RUNNING, None, None, ""),
        ("4200[].pbs01[3]", JobState.SUBMITTED, None, None, ""),
    ],
)
def test_pbspro_json_states(
    key: str, state: JobState, exit_code: int | None, signal: int | None, reason: str
) -> None:
    obs = pbs_json()[key]
    assert (obs.state, obs.exit_code, obs.signal) == (state, exit_code, signal)
    assert reason in obs.reason


def test_pbspro_json_tags_names_times_and_array_elements() -> None:
    obs = pbs_json()
    assert len(obs) == 18
    assert obs["4101.pbs01"].comment == "jl:0a1b2c3d:1"
    assert obs["4102.pbs01"].name == "running"
    assert obs["4102.pbs01"].started is not None
    done = obs["4105.pbs01"]
    assert done.ended is not None and done.ended - done.started == 600
    element = obs["4200[].pbs01[0]"]
    assert (element.base_id, element.array_index) == ("4200[].pbs01", 0)
    assert element.comment == "jl:55555555:1"


def test_pbspro_text_unwraps_tabs_and_multiline_values() -> None:
    text = (FIXTURES / "pbs/qstat-f-x-t-text-wrapped.txt").read_text()
    jobs = parse_qstat(text)
    assert list(jobs) == [
        "5301.pbs01.example.org",
        "5302.pbs01.example.org",
        "5303.pbs01.example.org",
        "5304[7].pbs01.example.org",
    ]
    running = jobs["5301.pbs01.example.org"]
    assert running["Error_Path"].endswith("ensemble-2024/member-017/jobs/postprocess-4f2a9c1e/pbs.out")
    assert "\n" not in running["Variable_List"]
    assert running["etime"] == "Tue Jun 11 09:00:00 2024"  # after a blank line inside the job
    held = jobs["5302.pbs01.example.org"]
    assert held["depend"] == (
        "afterok:5300.pbs01.example.org@pbs01.example.org:5301.pbs01.example.org@pbs01."
        "example.org,afterany:5299.pbs01.example.org@pbs01.example.org"
    )
    assert "echo none; fi\n}" in held["Variable_List"]
    obs = PbsAdapter().parse_status(text)
    assert obs["5301.pbs01.example.org"].comment == "jl:9f8e7d6c5b4a3210:3"
    assert obs["5302.pbs01.example.org"].comment == "jl:0000aaaa:1"
    assert obs["5302.pbs01.example.org"].reason == "Dependency"
    assert obs["5303.pbs01.example.org"].state is JobState.TIMEOUT
    assert obs["5304[].pbs01.example.org[7]"].state is JobState.COMPLETED


@pytest.mark.parametrize(
    ("key", "state", "exit_code", "reason"),
    [
        ("7001.torque01.example.org", JobState.SUBMITTED, None, ""),
        ("7002.torque01.example.org", JobState.RUNNING, None, ""),
        ("7003.torque01.example.org", JobState.SUBMITTED, None, "Dependency"),
        ("7004.torque01.example.org", JobState.COMPLETED, 0, ""),
        ("7005.torque01.example.org", JobState.FAILED, 2, ""),
        ("7006.torque01.example.org", JobState.TIMEOUT, None, "JOB_EXEC_OVERLIMIT_WT"),
        ("7007.torque01.example.org", JobState.FAILED, 143, "killed by signal 15"),
        ("7008.torque01.example.org", JobState.CANCELLED, None, "deleted before it ran"),
        ("7009[].torque01.example.org[1]", JobState.COMPLETED, 0, ""),
        ("7009[].torque01.example.org[2]", JobState.RUNNING, None, ""),
        ("7009[].torque01.example.org[3]", JobState.SUBMITTED, None, ""),
    ],
)
def test_torque_text_states(key: str, state: JobState, exit_code: int | None, reason: str) -> None:
    obs = TorqueAdapter().parse_status((FIXTURES / "torque/qstat-f-t-text.txt").read_text())
    assert len(obs) == 11
    assert (obs[key].state, obs[key].exit_code) == (state, exit_code)
    assert reason in obs[key].reason


def test_torque_text_tag_split_across_a_tab_line() -> None:
    obs = TorqueAdapter().parse_status((FIXTURES / "torque/qstat-f-t-text.txt").read_text())
    assert obs["7001.torque01.example.org"].comment == "jl:7001aa:1"
    assert obs["7009[].torque01.example.org[2]"].comment == "jl:7009aa:1"


def test_torque_xml() -> None:
    obs = TorqueAdapter().parse_status((FIXTURES / "torque/qstat-x-f-t-xml.txt").read_text())
    assert obs["7101.torque01"].state is JobState.SUBMITTED
    assert obs["7101.torque01"].comment == "jl:7101aa:1"
    failed = obs["7102.torque01"]
    assert (failed.state, failed.exit_code, failed.started, failed.ended) == (
        JobState.FAILED, 1, 1718186410.0, 1718186414.0,
    )  # fmt: skip
    assert obs["7103[].torque01[2]"].state is JobState.OUT_OF_MEMORY


def test_exit_code_tables_differ_by_flavour() -> None:
    minus_eleven = '{"Jobs":{"1.s":{"job_state":"F","Exit_status":-11}}}'
    assert PbsAdapter().parse_status(minus_eleven)["1.s"].state is JobState.FAILED
    assert TorqueAdapter().parse_status(minus_eleven)["1.s"].state is JobState.TIMEOUT


def test_json_with_raw_control_characters_and_bad_escapes() -> None:
    text = '{"Jobs":{"9.s":{"job_state":"R","Variable_List":{"F":"() {\n\techo \\q\n}"}}}}'
    assert PbsAdapter().parse_status(text)["9.s"].state is JobState.RUNNING


def test_empty_outputs() -> None:
    assert PbsAdapter().parse_status("") == {}
    assert PbsAdapter().parse_status('{"timestamp":1,"pbs_version":"2022.1.3"}') == {}


# ---------------------------------------------------------------------------- cancel
@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("pbs/qdel-stderr-finished.txt", True),
        ("pbs/qdel-stderr-unknown.txt", True),
        ("pbs/qdel-stderr-unauthorized.txt", False),
        ("torque/qdel-stderr-unknown.txt", True),
        ("torque/qdel-stderr-complete.txt", True),
    ],
)
def test_parse_cancel(path: str, ok: bool) -> None:
    stderr = (FIXTURES / path).read_text()
    if ok:
        PbsAdapter().parse_cancel(1, "", stderr)
    else:
        with pytest.raises(SchedulerError):
            PbsAdapter().parse_cancel(1, "", stderr)
    PbsAdapter().parse_cancel(0, "", "")


def test_version_argv() -> None:
    assert PbsAdapter().version_argv() == ["qstat", "--version"]
    assert (FIXTURES / "pbs/qstat-version.txt").read_text().startswith("pbs_version = ")


# ---------------------------------------------------------------------------- recorded
def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


@pytest.mark.parametrize(
    "path",
    sorted(str(p.relative_to(RECORDED)) for d in ("pbs", "torque") for p in (RECORDED / d).glob("*qstat*")),
)
def test_every_recorded_qstat_parses(path: str) -> None:
    obs = (TorqueAdapter() if path.startswith("torque") else PbsAdapter()).parse_status(recorded(path))
    assert obs
    assert all(o.native for o in obs.values())
    assert all(o.key == o.base_id or o.array_index is not None for o in obs.values())


def test_recorded_aiida_depend_held() -> None:
    obs = PbsAdapter().parse_status(recorded("pbs/aiidateam-aiida-core--qstat-f-pbspro-depend-held.txt"))
    jobs = parse_qstat(recorded("pbs/aiidateam-aiida-core--qstat-f-pbspro-depend-held.txt"))
    assert len(obs) == 6
    running = [k for k, o in obs.items() if o.state is JobState.RUNNING]
    held = [k for k, o in obs.items() if o.native == "H"]
    queued = [k for k, o in obs.items() if o.native == "Q"]
    assert sorted(running) == ["69301.mycluster", "74164.mycluster"]
    owners = sorted(jobs[k]["Job_Owner"].split("@")[0] for k in running)
    assert owners == ["user02", "user3"]
    assert sorted(held) == ["69302.mycluster", "74165.mycluster"]
    assert all(obs[k].reason == "Dependency" for k in held)
    assert sorted(queued) == ["68350.mycluster", "68351.mycluster"]
    assert "ineligible state: offline" in obs["68350.mycluster"].reason
    assert jobs["69301.mycluster"]["depend"] == (
        "afterok:69299.mycluster@mycluster.cluster,beforeok:69302.mycluster@mycluster.cluster"
    )
    assert jobs["69301.mycluster"]["exec_host"] == "b141/0*16+b142/0*16+b143/0*16+b144/0*16"


def test_recorded_gadi_wrapped_select_and_variable_list() -> None:
    text = recorded("pbs/pyiron-pysqa--qstat-f-pbspro-nci-gadi.txt")
    jobs = parse_qstat(text)
    states = {k: o.native for k, o in PbsAdapter().parse_status(text).items()}
    assert states == {"80005196.gadi-pbs": "R", "80005197.gadi-pbs": "Q", "80005198.gadi-pbs": "Q"}
    select = jobs["80005196.gadi-pbs"]["Resource_List.select"]
    assert select == "2:ncpus=48:mpiprocs=48:mem=34359738368:job_tags=normal:jobfs=104857600"
    assert "PBS_O_WORKDIR=/scratch/a01/asd562/VASP/test/test1," in jobs["80005196.gadi-pbs"]["Variable_List"]


@pytest.mark.parametrize(("name", "state"), [("queued", JobState.SUBMITTED), ("running", JobState.RUNNING)])
def test_recorded_pr7400_queued_and_running(name: str, state: JobState) -> None:
    text = recorded(f"pbs/aiidateam-aiida-core--qstat-f-pbspro-{name}-pr7400.txt")
    obs = PbsAdapter().parse_status(text)["171390152.mycluster"]
    jobs = parse_qstat(text)["171390152.mycluster"]
    assert obs.state is state
    assert jobs["Resource_List.select"].endswith(":job_tags=normal:jobfs=104857600")
    if name == "running":
        assert jobs["comment"].endswith("(mycluster-cpu-0686:ncpus=1:mem=512000kb:jobfs=102400kb)")
        assert jobs["exec_host"] == "mycluster-cpu-0686/24"


def test_recorded_multiline_bash_function_stays_in_variable_list() -> None:
    text = recorded("pbs/aiidateam-aiida-core--qstat-f-pbspro-multiline-func-pr7400.txt")
    jobs = parse_qstat(text)
    assert list(jobs) == ["171389798.mycluster"]
    job = jobs["171389798.mycluster"]
    variables = job["Variable_List"]
    assert "BASH_FUNC_my_func_multiline%%=() {  if true; then\n echo foo; else\n echo bar; fi\n}" in (
        variables
    )
    assert variables.endswith("PBS_O_QUEUE=normal")
    assert job["etime"] == "Wed Jun 17 04:50:46 2026"
    assert job["Submit_arguments"] == "-V script.sh"
    assert PbsAdapter().parse_status(text)["171389798.mycluster"].state is JobState.SUBMITTED


def test_recorded_openpbs_container_four_space_continuations() -> None:
    text = recorded("pbs/Matgenix-qtoolkit--qstat-f-openpbs-container-running.txt")
    jobs = parse_qstat(text)
    job = jobs["14"]
    assert job["Resource_List.walltime"] == "01:00:00"
    assert job["Resource_List.nodes"] == "1:ppn=1"
    assert job["Resource_List.place"] == "scatter"
    assert job["project"] == "_pbs_project_default"
    assert "PBS_O_LOGNAME=testu," in job["Variable_List"]
    assert "PBS_O_LOGNAME" not in job  # not mistaken for an attribute
    assert PbsAdapter().parse_status(text)["14"].state is JobState.RUNNING


def test_recorded_pbspro19_json_held() -> None:
    text = recorded("pbs/buildtesters-buildtest--qstat-x-f-F-json-pbspro19-held.txt")
    obs = PbsAdapter().parse_status(text)["157.pbs"]
    assert (obs.state, obs.native, obs.reason) == (JobState.SUBMITTED, "H", "Held (Hold_Types=u)")
    assert obs.exit_code is None and obs.name == "pbs_hold_job"


def test_recorded_qsub_and_qdel_messages() -> None:
    adapter = PbsAdapter()
    assert adapter.parse_submit(0, recorded("pbs/Matgenix-qtoolkit--qsub-stdout-jobid.txt"), "") == "24"
    with pytest.raises(SubmitError) as err:
        adapter.parse_submit(1, "", recorded("pbs/Matgenix-qtoolkit--qsub-stderr-unknown-queue.txt"))
    assert not err.value.transient and "Unknown queue" in str(err.value)
    for ended in ("job-has-finished", "unknown-job-id"):
        adapter.parse_cancel(1, "", recorded(f"pbs/Matgenix-qtoolkit--qdel-stderr-{ended}.txt"))
    for bad, code in (("usage", 1), ("unauthorized-210", 210), ("illegally-formed-id", 1)):
        with pytest.raises(SchedulerError):
            adapter.parse_cancel(code, "", recorded(f"pbs/Matgenix-qtoolkit--qdel-stderr-{bad}.txt"))


def test_recorded_torque_ichec() -> None:
    text = recorded("torque/aiidateam-aiida-core--qstat-f-torque-ichec-multiline.txt")
    obs = TorqueAdapter().parse_status(text)
    jobs = parse_qstat(text)
    assert len(obs) == 10
    running = sorted(k for k, o in obs.items() if o.native == "R")
    assert running == ["555716", "556491"]
    assert sorted(jobs[k]["Job_Owner"].split("@")[0] for k in running) == [
        "somebody", "user_556491",
    ]  # fmt: skip
    assert [k for k, o in obs.items() if o.native == "H"] == ["549159"]
    assert obs["549159"].reason == "Dependency"
    assert sorted(k for k, o in obs.items() if o.native == "Q") == [
        "547637", "547683", "549004", "549005", "549008",
    ]  # fmt: skip
    for done in ("546437", "543984"):
        assert (obs[done].state, obs[done].signal, obs[done].exit_code) == (
            JobState.FAILED,
            15,
            143,
        )
    hint = jobs["543984"]["sched_hint"]
    # zero-indent lines are raw newlines; the tab lines inside them glue words back
    assert "r2i7n17\nUnable to copy file 543984.OU to /some/path/on/the/cluster/MHD" in hint
    assert "\n/bin/cp: cannot stat `543984.OU': No such file or directory\n" in hint
    assert jobs["543984"]["exit_status"] == "271"
    exec_host = jobs["543984"]["exec_host"]  # six tab-wrapped lines, glued back
    assert exec_host.startswith("r2i7n17/0-23+r2i0n11/0-23+") and exec_host.endswith("r1i7n4/0-23")
    assert not any(c.isspace() for c in exec_host)
    assert "+r2i3n16/0-23+" in exec_host and "+r2i2n2/0-23+" in exec_host  # split mid-word


def test_recorded_torque_dkfz() -> None:
    text = recorded("torque/TheRoddyWMS-BatchEuphoria--qstat-f-torque-dkfz-4-jobs.txt")
    obs = TorqueAdapter().parse_status(text)
    assert sorted(k.split(".")[0] for k in obs) == ["14973441", "14973745", "14973766", "14973792"]
    by_seq = {k.split(".")[0]: o for k, o in obs.items()}
    assert (by_seq["14973441"].state, by_seq["14973441"].exit_code) == (JobState.COMPLETED, 0)
    assert by_seq["14973792"].native == "Q"
    assert by_seq["14973766"].state is JobState.RUNNING
    assert by_seq["14973745"].native == "H"
    held = TorqueAdapter().parse_status(
        recorded("torque/TheRoddyWMS-BatchEuphoria--qstat-f-torque-dkfz-2-held.txt")
    )
    assert [o.native for o in held.values()] == ["H", "H"]
    depend = parse_qstat(recorded("torque/TheRoddyWMS-BatchEuphoria--qstat-f-torque-dkfz-2-held.txt"))[
        "14973827.tbi-pbs-ng.inet.dkfz-heidelberg.de"
    ]["depend"]
    assert depend == (
        "afterok:14973826.tbi-pbs-ng.inet.dkfz-heidelberg.de:14973824.tbi-pbs-ng.inet.dkfz-heidelberg.de"
    )


def test_recorded_torque_xml() -> None:
    queued = TorqueAdapter().parse_status(
        recorded("torque/TheRoddyWMS-BatchEuphoria--qstat-x-f-xml-torque-queued.txt")
    )
    assert queued["4499334.pbsserver"].state is JobState.SUBMITTED
    text = recorded("torque/TheRoddyWMS-BatchEuphoria--qstat-x-f-xml-torque-completed-depend.txt")
    done = TorqueAdapter().parse_status(text)["4564045.pbsserver"]
    assert (done.state, done.exit_code) == (JobState.COMPLETED, 0)
    job = parse_qstat(text)["4564045.pbsserver"]
    assert job["depend"].startswith("afterok:6059780.pbsserver@pbsserver:6059781.pbsserver")
    assert "Host key verification failed.\n" in job["sched_hint"]
    assert job["exec_host"] == "denbi5-int/0+denbi5-int/1+denbi5-int/2"


def test_recorded_torque6_completed() -> None:
    text = recorded("torque/buildtesters-buildtest--qstat-f-torque6-completed.txt")
    obs = TorqueAdapter().parse_status(text)["40680075.e4spro-cluster"]
    assert (obs.state, obs.exit_code) == (JobState.COMPLETED, 0)
    job = parse_qstat(text)["40680075.e4spro-cluster"]
    assert job["total_runtime"] == "6.235349"
    assert job["req_information.task_usage.0.task.0.cpu_list"] == "0"
    assert (
        "PBS_O_WORKDIR=/home/adaptive50/Documents/buildtest/var/tests/generic.torque." in job["Variable_List"]
    )
