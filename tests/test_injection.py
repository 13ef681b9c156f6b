"""No shell injection: payloads in every user-given text, on the local backend and on an
SSH host with the real SLURM behind it.

Each payload would create a marker file if any shell ran it. Where the text is legitimate
(env values, argv, job and workflow names, output paths, working directories, host aliases,
host env values, sweep parameters) the job must see it byte for byte and no marker may
appear; where it cannot be used safely (an env name, a NUL byte, a newline in a name) it
is refused before anything is recorded. A control job in every run *does* touch a file in
the marker folder, which proves the folder is visible and writable where the jobs run (so
an absent marker means something).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import jobledger as jl
from jobledger.api.multirun import ClusterRunner, ParallelLocalRunner, multirun
from jobledger.cli.main import main as cli_main
from jobledger.errors import ConfigError, ModelError
from jobledger.project import Project
from services import SshInfo, require, slurm_available, sshd_available, sshd_info

PAYLOADS = {
    "dollar": "$(touch {m})",
    "backtick": "`touch {m}`",
    "semicolon": "; touch {m}",
    "quotes": "'\"; touch {m}; \"'",
    "newline": "\ntouch {m}\n",
    "nul": "\x00touch {m}",
}
#: Payloads that are plain text (no control characters): valid in names, too.
PRINTABLE = ("dollar", "backtick", "semicolon", "quotes")
#: Legitimate text that must arrive unchanged: quotes, $, backslashes, spaces.
LEGIT = 'it\'s "$HOME" $(x) `y` a\\b  c %s %% ;|&<>*?'


@pytest.fixture
def marks() -> Iterator[Path]:
    """A folder every user (the ssh test user too) may write to, for the markers."""
    folder = Path("/tmp") / f"jl-inject-{os.getpid()}-{time.time_ns()}"
    folder.mkdir(mode=0o1777)
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def payload(kind: str, marks: Path) -> str:
    return PAYLOADS[kind].format(m=marks / f"marker-{kind}")


def markers(marks: Path) -> list[str]:
    """Marker files left by injected commands (the control file does not count; files
    whose literal names hold a payload are not markers)."""
    return [kind for kind in PAYLOADS if (marks / f"marker-{kind}").exists()]


def toml_str(text: str) -> str:
    """``text`` as a TOML basic string (JSON escapes are TOML escapes)."""
    return json.dumps(text)


def ssh_table(name: str, info: SshInfo, workdir: str, env: dict[str, str] | None = None) -> str:
    lines = [
        f"[hosts.{toml_str(name)}]",
        f"ssh = {toml_str(info.alias)}",
        f"ssh_config = {toml_str(str(info.ssh_config))}",
        'scheduler = "slurm"',
        f"workdir = {toml_str(workdir)}",
        "poll_interval = 0.5",
    ]
    if info.python:
        lines.append(f"python = {toml_str(info.python)}")
    if env:
        lines.append("env = {" + ", ".join(f"{k} = {toml_str(v)}" for k, v in env.items()) + "}")
    return "\n".join(lines) + "\n\n"


@pytest.fixture(params=["local", "ssh"])
def backend(request: pytest.FixtureRequest, project: Project, marks: Path) -> str:
    """The host alias jobs go to: ``local``, or ``cluster`` (SLURM behind the test sshd)
    whose config also sets env values and a workdir holding every printable payload."""
    if request.param == "local":
        return "local"
    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    require(slurm_available(), "SLURM (make slurm-up)")
    assert info is not None
    unique = f"jl-inject-{os.getpid()}-{time.time_ns()}"
    env = {f"JL_HOST_{kind.upper()}": payload(kind, marks) for kind in PAYLOADS if kind != "nul"}
    text = ssh_table("cluster", info, unique + payload("semicolon", marks).replace("/", "_"), env)
    for kind in PRINTABLE:  # host aliases holding payloads
        text += ssh_table(f"alias{payload(kind, marks)}", info, unique + "-" + kind)
    (project.root / "jobledger.toml").write_text(text)
    return "cluster"


def _verify(project: Project) -> None:
    out = CliRunner().invoke(cli_main, ["-C", str(project.root), "verify"])
    assert out.exit_code == 0 and "ledger intact" in out.output, out.output


def _stdout(result: jl.Result) -> bytes:
    return result.stdout_path.read_bytes()


def test_values_arrive_byte_for_byte_and_run_nothing(project: Project, backend: str, marks: Path) -> None:
    """argv, env values (job, task and host), job names, stdout/stderr paths and working
    directories holding payloads: the job sees them exactly; no marker appears."""
    texts = {kind: payload(kind, marks) for kind in PAYLOADS if kind != "nul"} | {"legit": LEGIT}
    jobs: list[jl.Job] = [jl.Job(name="control", command=f"touch {marks}/control", host=backend)]
    expected: dict[str, bytes] = {}
    files: dict[Path, bytes] = {}
    for kind, text in texts.items():
        jobs.append(jl.Job(name=f"argv-{kind}", command=["printf", "%s", text], host=backend))
        expected[f"argv-{kind}"] = text.encode()
        jobs.append(jl.Job(name=f"env-{kind}", command=["printenv", "JL_PAYLOAD"], env={"JL_PAYLOAD": text},
                           host=backend))  # fmt: skip
        expected[f"env-{kind}"] = text.encode() + b"\n"
        task = jl.Task(["printenv", "JL_TASK"], env={"JL_TASK": text})
        jobs.append(jl.Job(name=f"task-env-{kind}", tasks=[task], host=backend))
        expected[f"task-env-{kind}"] = text.encode() + b"\n"
        if kind in PRINTABLE or kind == "legit":
            jobs.append(jl.Job(name=f"name {text}", command=["printf", "%s", "named"], host=backend))
            expected[f"name {text}"] = b"named"
        out, err = marks / "out" / f"{kind}{text}.txt", marks / "err" / f"{kind}{text}.txt"
        work = marks / "work" / f"{kind}{text}"
        for folder in (out.parent, err.parent, work):
            folder.mkdir(parents=True, exist_ok=True)
            for part in [folder, *folder.parents]:
                if part == marks:
                    break
                part.chmod(0o777)
        jobs.append(jl.Job(name=f"paths-{kind}", command="printf out; printf err >&2", stdout=str(out),
                           stderr=str(err), host=backend))  # fmt: skip
        files[out], files[err] = b"out", b"err"
        jobs.append(jl.Job(name=f"workdir-{kind}", command=["pwd"], workdir=work, host=backend))
        expected[f"workdir-{kind}"] = str(work).encode() + b"\n"
    if backend != "local":
        host_env = [f"JL_HOST_{kind.upper()}" for kind in PAYLOADS if kind != "nul"]
        jobs.append(jl.Job(name="host-env", command=["printenv", *host_env], host=backend))
        expected["host-env"] = b"".join(payload(k, marks).encode() + b"\n" for k in PAYLOADS if k != "nul")
        for kind in PRINTABLE:
            alias = f"alias{payload(kind, marks)}"
            jobs.append(jl.Job(name=f"on-alias-{kind}", command=["printf", "%s", alias], host=alias))
            expected[f"on-alias-{kind}"] = alias.encode()
    handle = jl.run(jl.Workflow(jobs, name=f"inject-{backend}"))
    handle.wait(timeout=600, check=False)
    results = dict(jl.fetch(handle))  # remote run directories come home
    if backend != "local":
        # an #SBATCH line cannot hold a newline: the submission is refused, naming it
        refused = results.pop("workdir-newline")
        assert refused.state is jl.JobState.FAILED
        assert "workdir=" in refused.reason and "newline" in refused.reason
        del expected["workdir-newline"]
    bad = {n: (r.state.value, r.reason) for n, r in results.items() if r.state is not jl.JobState.COMPLETED}
    assert not bad
    for name, data in expected.items():
        assert _stdout(results[name]) == data, name
    for path, data in files.items():
        assert path.read_bytes() == data, path
    assert (marks / "control").exists()  # jobs can write here: an absent marker means something
    assert markers(marks) == []
    _verify(project)


@pytest.mark.parametrize("kind", PRINTABLE)
def test_workflow_names_with_payloads_run_nothing(
    project: Project, backend: str, marks: Path, kind: str
) -> None:
    name = f"wf {payload(kind, marks)}"
    control = jl.Job(name="control", command=f"touch {marks}/control-{kind}", host=backend)
    results = jl.run(jl.Workflow([control], name=name), wait=True, check=False, timeout=300)
    assert results["control"].state is jl.JobState.COMPLETED, results["control"].reason
    assert (marks / f"control-{kind}").exists()
    status = CliRunner().invoke(cli_main, ["-C", str(project.root), "status"])
    assert status.exit_code == 0, status.output
    assert markers(marks) == []
    _verify(project)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_unsafe_texts_are_refused_before_anything_is_recorded(
    project: Project, backend: str, marks: Path, kind: str
) -> None:
    """Env names (job, task, hpc-runner, awflow, host config), and NUL bytes or newlines
    where they cannot be carried: refused, nothing recorded, nothing run."""
    text = payload(kind, marks)

    def attempt(**fields: object) -> None:
        fields = {"name": "j", "command": "true", "host": backend, **fields}
        jl.run(jl.Workflow([jl.Job(**fields)], name="refused"), wait=True, timeout=60)  # type: ignore[arg-type]

    refusals = [
        lambda: attempt(env={text: "v"}),
        lambda: attempt(env_vars={f"A{text}": "v"}),
        lambda: attempt(tasks=[jl.Task("true", env={text: "v"})], command=None),
        lambda: jl.job(name="aw", env={text: "1"})(lambda: None),
    ]
    if kind in ("nul", "newline"):
        refusals += [lambda: attempt(name=f"n{text}"), lambda: jl.run(jl.Job(name="j", command="true"),
                                                                      name=f"w{text}")]  # fmt: skip
    if kind == "nul":
        refusals += [
            lambda: attempt(command=["printf", "%s", text]),
            lambda: attempt(command=f"echo {text}"),
            lambda: attempt(env={"A": text}),
            lambda: attempt(stdout=f"out{text}"),
            lambda: attempt(workdir=f"/tmp/{text}"),
            lambda: attempt(modules=[text]),
        ]
    for refuse in refusals:
        with pytest.raises(ModelError):
            refuse()
    before = project.root / "jobledger.toml"
    saved = before.read_text() if before.exists() else ""
    before.write_text(saved + f'\n[hosts.bad]\nscheduler = "local"\nenv = {{{toml_str(text)} = "v"}}\n')
    with pytest.raises(ConfigError, match=r"\[hosts\.bad\.env\]"):
        attempt()
    if kind in ("nul", "newline"):
        before.write_text(saved + f'\n[hosts.{toml_str("h" + text)}]\nscheduler = "local"\n')
        with pytest.raises(ConfigError, match="host name"):
            attempt()
    before.write_text(saved)
    assert project.ledger.state.workflow("refused") is None
    assert markers(marks) == []
    _verify(project)


SWEEP = (
    "import os, sys\n"
    "from jobledger.api.multirun import get_run_params, post_run_results\n"
    "p = get_run_params()\n"
    "post_run_results({'params': p, 'argv': sys.argv[1:]})\n"
)


@pytest.mark.parametrize("where", ["local", "slurm"])
def test_sweep_parameters_and_command_with_payloads(project: Project, marks: Path, where: str) -> None:
    """Sweep parameter names and values and the sweep command holding payloads: the run
    reads them back unchanged and nothing runs. (Parameters reach runs as params.json,
    never as shell text; the command is one argv.)"""
    if where == "slurm":
        require(slurm_available(), "SLURM (make slurm-up)")
        (project.root / "jobledger.toml").write_text(
            '[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 0.3\n'
        )
    texts = [payload(kind, marks) for kind in PAYLOADS if kind != "nul"] + [LEGIT]
    runs = [{text: text, "i": i} for i, text in enumerate(texts)]
    script = marks / "sweep.py"
    script.write_text(SWEEP)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {"PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    runner = (
        ParallelLocalRunner(env=env) if where == "local" else ClusterRunner("slurm", time="10:00", env=env)
    )
    cmd = [sys.executable, str(script), *texts]
    records = multirun(runs=runs, cmd=cmd, output_path=project.root / "sweep", runner=runner)
    assert [r.status for r in records] == ["success"] * len(texts), records.report()
    assert [r.result["params"] for r in records] == runs
    assert all(r.result["argv"] == texts for r in records)
    with pytest.raises(ModelError, match="NUL"):
        multirun(runs=runs, cmd=[sys.executable, payload("nul", marks)], output_path=project.root / "s2")
    control = jl.run(
        jl.Job(name="control", command=f"touch {marks}/control", host=where), wait=True, timeout=300
    )
    assert control["control"].state is jl.JobState.COMPLETED and (marks / "control").exists()
    assert markers(marks) == []
    _verify(project)


@pytest.mark.parametrize("scheduler", ["slurm", "sge", "pbs", "torque", "lsf"])
@pytest.mark.parametrize(
    "field",
    ["raw_args", "run_dir", "workdir", "partition", "account", "extra"],
    ids=lambda f: f"newline-in-{f}",
)
def test_no_directive_line_carries_a_newline_into_the_script(scheduler: str, field: str) -> None:
    """Whatever reaches an adapter (the model refuses most of it earlier), a value with a
    newline never ends a directive line and starts a shell command."""
    from jobledger.errors import JobledgerError
    from jobledger.schedulers.base import BatchSpec
    from jobledger.schedulers.registry import get_adapter

    bad = "x\ntouch /tmp/jl-directive-marker"
    values: dict[str, object] = {
        "job_name": "j",
        "comment": "jl:k:1",
        "run_dir": "/tmp/r",
        "workdir": "/tmp/w",
    }
    values["body"] = "true"
    res: dict[str, object] = {}
    if field == "raw_args":
        values["raw_args"] = (f"-l {bad}",)
    elif field in ("run_dir", "workdir"):
        values[field] = f"/tmp/{bad}"
    else:
        res = {field: bad}
    adapter = get_adapter(scheduler)
    try:
        resources = jl.Resources(**res)  # type: ignore[arg-type]
    except JobledgerError:
        return  # refused by the model already
    spec = BatchSpec(resources=resources, **values)  # type: ignore[arg-type]
    try:
        script = adapter.render_script(spec)
    except JobledgerError as exc:
        assert "newline" in str(exc) or "one" in str(exc) or "space" in str(exc), str(exc)
        return
    assert not any(line.startswith("touch") for line in script.splitlines()), script
