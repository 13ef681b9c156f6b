"""Bad inputs: each one a JobledgerError subclass naming the offender, exit 2 and no
traceback from the CLI, and a ledger that verifies afterwards.

The table below is run in-process against a fresh project; the CLI table runs ``jobledger``
as a separate process. A few tests after them check what must keep working (an integer
env value, ``Project("dir")``, workflow names that sanitise alike, lazy array directories,
a 100,000-deep chain).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import jobledger as jl
from conftest import run_cli
from jobledger.api.multirun import ClusterRunner
from jobledger.cli.main import main as cli_main
from jobledger.errors import (
    ConfigError,
    CycleError,
    DuplicateJobError,
    JobledgerError,
    ModelError,
    ProjectError,
    ResourceError,
    UnknownDependencyError,
)
from jobledger.hosts.local import LOCAL_OVERCOMMIT, machine_limits
from jobledger.project import Project
from services import SshInfo, require, slurm_available

CPUS, MEMORY_MB = machine_limits()
TOO_MANY_CPUS = CPUS * LOCAL_OVERCOMMIT + 1


@dataclass(frozen=True)
class Bad:
    """One bad input: what to do with it, the error expected, what the message names."""

    id: str
    act: Callable[[Project], object]
    error: type[JobledgerError]
    names: tuple[str, ...]


def job(**kw: object) -> Callable[[Project], object]:
    """Define ``Job(name='j', command='true', **kw)`` and run it."""
    fields: dict[str, object] = {"name": "j", "command": "true", **kw}
    return lambda _p: jl.run(jl.Workflow([jl.Job(**fields)], name="bad"), wait=True, timeout=60)  # type: ignore[arg-type]


def workflow(name: object) -> Callable[[Project], object]:
    return lambda _p: jl.run(jl.Workflow([jl.Job(name="j", command="true")], name=name), wait=True)  # type: ignore[arg-type]


def toml(text: str) -> Callable[[Project], object]:
    """Write jobledger.toml, then run a trivial job: the run reads the configuration."""

    def act(project: Project) -> object:
        (project.root / "jobledger.toml").write_text(text)
        return jl.run(jl.Workflow([jl.Job(name="t", command="true")], name="cfg"), wait=True, timeout=60)

    return act


def toml_bytes(data: bytes) -> Callable[[Project], object]:
    def act(project: Project) -> object:
        (project.root / "jobledger.toml").write_bytes(data)
        return jl.run(jl.Job(name="t", command="true"), wait=True, timeout=60)

    return act


def toml_directory(project: Project) -> object:
    (project.root / "jobledger.toml").mkdir()
    return jl.run(jl.Job(name="t", command="true"), wait=True, timeout=60)


def cycle(_p: Project) -> object:
    a = jl.Job(name="a", command="true", after=["b"])
    b = jl.Job(name="b", command="true", after=["a"])
    return jl.Workflow([a, b], name="cyc")


def duplicate(_p: Project) -> object:
    return jl.Workflow([jl.Job(name="d", command="true"), jl.Job(name="d", command="false")])


def hamilton_cmdline(_p: Project) -> object:
    from jobledger.api.hamilton import cmdline

    @cmdline
    def step() -> object:
        done = yield {"cmd": ["echo", None]}
        return done

    return step()


def project_at(suffix: str, how: str) -> Callable[[Project], object]:
    def act(project: Project) -> object:
        path = project.root.parent / f"other{suffix}project"
        return getattr(jl.Project, how)(path)

    return act


def sweep(cmd: object, runs: object = ({"a": 1},)) -> Callable[[Project], object]:
    return lambda p: jl.multirun(runs=runs, cmd=cmd, output_path=p.root / "sweep")  # type: ignore[arg-type]


MARKER = Path("/tmp") / f"jl-bad-inputs-marker-{os.getpid()}"
INJECT = f"X=1; touch {MARKER}; Y"
BAD: list[Bad] = [
    # ---- environment variable names (they land unquoted in `export NAME=...`)
    Bad("env-name-injection", job(env={INJECT: "v"}), ModelError, ("'j'", INJECT)),
    Bad("env-name-digit-first", job(env={"1X": "v"}), ModelError, ("'j'", "'1X'")),
    Bad("env-name-empty", job(env={"": "v"}), ModelError, ("'j'", "''")),
    Bad("env-name-dash", job(env={"A-B": "v"}), ModelError, ("'j'", "'A-B'")),
    Bad("env-name-space", job(env={"A B": "v"}), ModelError, ("'j'", "'A B'")),
    Bad("env-name-not-str", job(env={1: "v"}), ModelError, ("'j'", "int")),
    Bad("env-name-unicode", job(env={"Ä": "v"}), ModelError, ("'j'", "'Ä'")),
    Bad("env-name-dollar", job(env={"$(touch M)": "v"}), ModelError, ("'j'", "$(touch M)")),
    Bad("env-vars-name", job(env_vars={"A;B": "v"}), ModelError, ("'j'", "'A;B'")),
    Bad("task-env-name", lambda _p: jl.Task("true", env={"`x`": "1"}), ModelError, ("`x`",)),
    Bad("env-not-a-mapping", job(env=["A=1"]), ModelError, ("'j'", "env")),
    # ---- environment values
    Bad("env-value-none", job(env={"A": None}), ModelError, ("'j'", "A", "None")),
    Bad("env-value-list", job(env={"A": [1]}), ModelError, ("'j'", "A", "list")),
    Bad("env-value-bool", job(env={"A": True}), ModelError, ("'j'", "A", "bool")),
    Bad("env-value-nul", job(env={"A": "x\x00y"}), ModelError, ("'j'", "A", "NUL")),
    Bad("task-env-value-nul", lambda _p: jl.Task("true", env={"A": "\x00"}), ModelError, ("A", "NUL")),
    # ---- job, workflow and host names
    Bad("job-name-nul", job(name="a\x00b"), ModelError, ("'a\\x00b'", "NUL")),
    Bad("job-name-newline", job(name="a\nb"), ModelError, ("'a\\nb'", "newline")),
    Bad("job-name-cr", job(name="a\rb"), ModelError, ("'a\\rb'", "carriage return")),
    Bad("job-name-unit-separator", job(name="a\x1fb"), ModelError, ("'a\\x1fb'", "\\x1f")),
    Bad("job-name-delete", job(name="a\x7fb"), ModelError, ("'a\\x7fb'",)),
    Bad("job-name-empty", job(name=""), ModelError, ("job name", "''")),
    Bad("job-name-blank", job(name="   "), ModelError, ("job name", "'   '")),
    Bad("job-name-not-str", job(name=3), ModelError, ("job name", "3")),
    Bad("workflow-name-newline", workflow("w\nx"), ModelError, ("workflow name", "'w\\nx'")),
    Bad("workflow-name-unit-separator", workflow("w\x1f"), ModelError, ("workflow name", "\\x1f")),
    Bad("workflow-name-nul", workflow("w\x00"), ModelError, ("workflow name", "NUL")),
    Bad("workflow-name-empty", workflow(""), ModelError, ("workflow name",)),
    Bad("workflow-name-not-str", workflow(7), ModelError, ("workflow name", "7")),
    Bad("host-name-newline", job(host="a\nb"), ModelError, ("'j'", "host name", "'a\\nb'")),
    Bad("host-name-empty", job(host=""), ModelError, ("'j'", "host name")),
    Bad("host-unknown", job(host="marsbase"), ConfigError, ("'marsbase'",)),
    Bad(
        "run-host-unknown",
        lambda _p: jl.run(jl.Job(name="j", command="true"), host="nowhere"),
        ConfigError,
        ("'nowhere'",),
    ),
    # ---- commands, argv, paths
    Bad("argv-none", job(command=["echo", None, 1]), ModelError, ("'j'", "argv item 1", "None")),
    Bad("argv-int", job(command=["sleep", 1]), ModelError, ("'j'", "argv item 1", "int")),
    Bad("argv-float", job(command=["echo", 1.5]), ModelError, ("'j'", "argv item 1", "float")),
    Bad("argv-bytes", job(command=["echo", b"x"]), ModelError, ("'j'", "argv item 1", "bytes")),
    Bad("argv-nul", job(command=["echo", "a\x00b"]), ModelError, ("'j'", "argv item 1", "NUL")),
    Bad("argv-empty", job(command=[]), ModelError, ("'j'", "argv")),
    Bad("shell-nul", job(command="echo a\x00; touch M"), ModelError, ("'j'", "shell command", "NUL")),
    Bad("shell-blank", job(command="   "), ModelError, ("'j'", "empty")),
    Bad("command-int", job(command=3), ModelError, ("'j'", "int")),
    Bad("task-cwd-nul", lambda _p: jl.Task("true", cwd="/tmp\x00x"), ModelError, ("cwd", "NUL")),
    Bad("workdir-nul", job(workdir="/tmp\x00x"), ModelError, ("'j'", "workdir", "NUL")),
    Bad("workdir-int", job(workdir=3), ModelError, ("'j'", "workdir", "int")),
    Bad("workdir-missing", job(workdir="/nonexistent/dir"), ModelError, ("'j'", "/nonexistent/dir")),
    Bad("stdout-nul", job(stdout="out\x00.txt"), ModelError, ("'j'", "stdout", "NUL")),
    Bad("stderr-nul", job(stderr="err\x00.txt"), ModelError, ("'j'", "stderr", "NUL")),
    Bad("inputs-none", job(inputs=[None]), ModelError, ("'j'", "inputs item", "None")),
    Bad("outputs-nul", job(outputs=["a\x00"]), ModelError, ("'j'", "outputs item", "NUL")),
    Bad("modules-nul", job(modules=["gcc\x00"]), ModelError, ("'j'", "modules item", "NUL")),
    Bad("setup-int", job(setup=[1]), ModelError, ("'j'", "setup item", "int")),
    Bad(
        "slurm-args-newline", job(slurm_args=["--x=1\ntouch M"]), ModelError, ("'j'", "slurm_args", "newline")
    ),
    Bad("scheduler-args-nul", job(scheduler_args={"sge": ["-l a\x00"]}), ModelError, ("'j'", "sge", "NUL")),
    Bad("python-nul", job(python="python3\x00"), ModelError, ("'j'", "python", "NUL")),
    Bad("unknown-keyword", job(cpus_typo=2), ModelError, ("'j'", "cpus_typo")),
    # ---- resources
    Bad("cpus-zero", job(cpus=0), ResourceError, ("'j'", "cpus=0")),
    Bad("cpus-negative", job(cpus=-1), ResourceError, ("'j'", "cpus=-1")),
    Bad("cpus-text", job(cpus="many"), ResourceError, ("'j'", "cpus='many'")),
    Bad("memory-text", job(memory="lots"), ResourceError, ("'j'", "memory='lots'")),
    Bad("time-text", job(time="forever"), ResourceError, ("'j'", "time='forever'")),
    Bad("partition-newline", job(partition="a\nb"), ResourceError, ("'j'", "partition")),
    Bad("partition-cr", job(partition="a\rb"), ResourceError, ("'j'", "partition")),
    Bad("extra-newline", job(extra=["--a\nrm -rf /"]), ResourceError, ("'j'", "extra")),
    Bad(
        "memory-and-per-cpu", job(memory="1G", memory_per_cpu="1G"), ResourceError, ("'j'", "memory_per_cpu")
    ),
    Bad("exclusive-maybe", job(exclusive="maybe"), ResourceError, ("'j'", "exclusive")),
    Bad("local-cpus-huge", job(cpus=10**9), ResourceError, ("'j'", "cpus=1000000000", f"{CPUS} CPUs")),
    Bad(
        "local-cpus-beyond", job(cpus=TOO_MANY_CPUS), ResourceError, ("'j'", f"cpus={TOO_MANY_CPUS}", "local")
    ),
    Bad("local-memory-huge", job(memory="99999999P"), ResourceError, ("'j'", "memory", "memory in total")),
    Bad("local-memory-per-cpu", job(memory_per_cpu="90000T"), ResourceError, ("'j'", "memory_per_cpu")),
    # ---- arrays
    Bad("array-ten-million", job(array=10**7), ModelError, ("'j'", "10,000,000", "1,000,000")),
    Bad("array-text-huge", job(array="0-99999999"), ModelError, ("'j'", "'0-99999999'", "1,000,000")),
    Bad("array-range-huge", job(array=range(2 * 10**6)), ModelError, ("'j'", "2,000,000")),
    Bad("array-zero", job(array=0), ModelError, ("'j'", "array size")),
    Bad("array-negative-index", job(array=[-1]), ModelError, ("'j'", "-1")),
    Bad("array-duplicate", job(array=[1, 1]), ModelError, ("'j'", "distinct")),
    Bad("array-text-items", job(array=["a"]), ModelError, ("'j'", "'a'")),
    Bad("array-bad-text", job(array="1-x"), ModelError, ("'j'", "'1-x'")),
    Bad("array-backwards", job(array="5-1"), ModelError, ("'j'", "'5-1'")),
    Bad("array-bool", job(array=True), ModelError, ("'j'", "True")),
    Bad("array-throttle-zero", job(array=3, max_concurrent=0), ModelError, ("'j'", "max_concurrent")),
    Bad("array-throttle-text", job(array="0-9%x"), ModelError, ("'j'", "'0-9%x'")),
    # ---- retry settings
    Bad("retries-text", job(retries="many"), ModelError, ("'j'", "retries", "'many'")),
    Bad("retries-negative", job(retries=-1), ModelError, ("'j'", "retries", "-1")),
    Bad("retry-on-bogus", job(retries=1, retry_on=["bogus"]), ModelError, ("'j'", "retry_on", "'bogus'")),
    Bad("retry-on-completed", job(retries=1, retry_on=["completed"]), ModelError, ("'j'", "completed")),
    Bad("backoff-text", job(retries=1, backoff="soon"), ModelError, ("'j'", "backoff", "'soon'")),
    Bad("backoff-key", job(retries=1, backoff={"bogus": 1}), ModelError, ("'j'", "backoff", "bogus")),
    Bad("escalate-field", job(retries=1, escalate={"bogus": 2}), ModelError, ("'j'", "escalate", "bogus")),
    Bad("escalate-negative", job(retries=1, escalate={"memory": -1}), ModelError, ("'j'", "memory")),
    # ---- dependencies
    Bad("dependency-kind", job(after=[("x", "sometimes")]), ModelError, ("'j'", "'sometimes'")),
    Bad("dependency-not-a-job", job(after=[3]), ModelError, ("'j'", "3")),
    Bad("dependency-unknown-name", job(after=["ghost"]), UnknownDependencyError, ("'j'", "'ghost'")),
    Bad("dependency-cycle", cycle, CycleError, ("a", "b")),
    Bad("duplicate-names", duplicate, DuplicateJobError, ("'d'",)),
    Bad("waitfor-some", job(waitfor="some"), ModelError, ("'j'", "'some'")),
    # ---- project paths
    Bad("project-newline", project_at("\n", "init"), ProjectError, ("'", "newline")),
    Bad("project-unit-separator", project_at("\x1f", "open"), ProjectError, ("\\x1f",)),
    Bad("project-cr-find", project_at("\r", "find"), ProjectError, ("carriage return",)),
    Bad("project-nul", project_at("\x00", "init"), ProjectError, ("NUL",)),
    Bad("project-int", lambda _p: jl.Project(3), ProjectError, ("int", "3")),  # type: ignore[arg-type]
    # ---- jobledger.toml: types, keys, values (each names file, table and key)
    Bad("toml-hosts-int", toml("hosts = 3\n"), ConfigError, ("jobledger.toml", "hosts = 3")),
    Bad("toml-defaults-str", toml("defaults = 'x'\n"), ConfigError, ("jobledger.toml", "[defaults]")),
    Bad("toml-types-int", toml("[types]\ngpu = 3\n"), ConfigError, ("jobledger.toml", "[types.gpu]")),
    Bad("toml-schedulers-int", toml("schedulers = 1\n"), ConfigError, ("jobledger.toml", "[schedulers]")),
    Bad("toml-host-int", toml("[hosts]\nc = 3\n"), ConfigError, ("jobledger.toml", "[hosts.c]")),
    Bad(
        "toml-retry-on-bogus",
        toml("[defaults]\nretry_on = ['bogus']\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] retry_on", "'bogus'"),
    ),
    Bad(
        "toml-retries-text",
        toml("[defaults]\nretries = 'many'\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] retries", "'many'"),
    ),
    Bad(
        "toml-backoff-text",
        toml("[defaults]\nbackoff = {initial = 'x'}\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] backoff"),
    ),
    Bad(
        "toml-escalate-field",
        toml("[defaults]\nescalate = {bogus = 2}\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] escalate", "bogus"),
    ),
    Bad("toml-binary", toml_bytes(b"\xff\xfe\x00\x01binary"), ConfigError, ("jobledger.toml", "UTF-8")),
    Bad("toml-syntax", toml("[hosts\n"), ConfigError, ("jobledger.toml", "invalid TOML")),
    Bad("toml-directory", toml_directory, ConfigError, ("jobledger.toml", "directory")),
    Bad("toml-unknown-top", toml("[frobnicate]\n"), ConfigError, ("jobledger.toml", "'frobnicate'")),
    Bad(
        "toml-env-bool",
        toml("[hosts.c]\nenv = {A = true}\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.env] A"),
    ),
    Bad(
        "toml-env-array",
        toml("[hosts.c]\nenv = {A = [1]}\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.env] A"),
    ),
    Bad(
        "toml-env-table", toml("[hosts.c.env.A]\nB = 1\n"), ConfigError, ("jobledger.toml", "[hosts.c.env] A")
    ),
    Bad(
        "toml-env-name",
        toml(f"[hosts.c]\nenv = {{'{INJECT}' = 'v'}}\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.env]", INJECT),
    ),
    Bad(
        "toml-env-not-table",
        toml("[hosts.c]\nenv = 'A=1'\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] env"),
    ),
    Bad(
        "toml-defaults-env-name",
        toml("[defaults]\nenv = {'A B' = '1'}\n"),
        ConfigError,
        ("jobledger.toml", "[defaults.env]", "'A B'"),
    ),
    Bad(
        "toml-host-name-newline",
        toml('[hosts."a\\nb"]\n'),
        ConfigError,
        ("jobledger.toml", "'a\\nb'", "newline"),
    ),
    Bad(
        "toml-host-unknown-key",
        toml("[hosts.c]\nfrob = 1\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] frob"),
    ),
    Bad("toml-port-zero", toml("[hosts.c]\nssh = 'h'\nport = 0\n"), ConfigError, ("jobledger.toml", "port")),
    Bad(
        "toml-port-text", toml("[hosts.c]\nssh = 'h'\nport = '22'\n"), ConfigError, ("jobledger.toml", "port")
    ),
    Bad("toml-scheduler", toml("[hosts.c]\nscheduler = 'cron'\n"), ConfigError, ("jobledger.toml", "'cron'")),
    Bad(
        "toml-poll-negative",
        toml("[hosts.c]\npoll_interval = -1\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] poll_interval"),
    ),
    Bad(
        "toml-ssh-option",
        toml("[hosts.c]\nssh = '-oProxyCommand=x'\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] ssh"),
    ),
    Bad(
        "toml-user-space",
        toml("[hosts.c]\nssh = 'h'\nuser = 'a b'\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] user"),
    ),
    Bad(
        "toml-setup-int", toml("[hosts.c]\nsetup = [1]\n"), ConfigError, ("jobledger.toml", "[hosts.c] setup")
    ),
    Bad("toml-workdir-empty", toml("[hosts.c]\nworkdir = ''\n"), ConfigError, ("jobledger.toml", "workdir")),
    Bad(
        "toml-resources-str",
        toml("[hosts.c]\nresources = 'x'\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c] resources"),
    ),
    Bad("toml-limits-cpus", toml("[hosts.c.limits]\ncpus = 'x'\n"), ConfigError, ("jobledger.toml", "cpus")),
    Bad(
        "toml-host-retry-key",
        toml("[hosts.c.retry]\ntries = 1\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.retry] tries"),
    ),
    Bad(
        "toml-host-retry-on",
        toml("[hosts.c.retry]\nretry_on = ['x']\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.retry] retry_on"),
    ),
    Bad(
        "toml-template-key",
        toml("[hosts.c.template]\nfooter = 'x'\n"),
        ConfigError,
        ("jobledger.toml", "[hosts.c.template] footer"),
    ),
    Bad(
        "toml-scheduler-setting",
        toml("[schedulers.sge]\nbogus = 1\n"),
        ConfigError,
        ("jobledger.toml", "[schedulers.sge] bogus"),
    ),
    Bad(
        "toml-scheduler-setting-type",
        toml("[schedulers.sge]\nparallel_environment = 3\n"),
        ConfigError,
        ("jobledger.toml", "parallel_environment"),
    ),
    Bad("toml-scheduler-name", toml("[schedulers.cron]\nx = 'a'\n"), ConfigError, ("jobledger.toml", "cron")),
    Bad(
        "toml-defaults-modules",
        toml("[defaults]\nmodules = 3\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] modules"),
    ),
    Bad(
        "toml-defaults-cpus",
        toml("[defaults]\ncpus = 0\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] cpus"),
    ),
    Bad(
        "toml-defaults-unknown",
        toml("[defaults]\nfrobnicate = 1\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] frobnicate"),
    ),
    Bad(
        "toml-defaults-host",
        toml("[defaults]\nhost = ''\n"),
        ConfigError,
        ("jobledger.toml", "[defaults] host"),
    ),
    Bad(
        "toml-types-raw-args",
        toml('[types.t]\nslurm_args = ["--a\\nrm -rf /"]\n'),
        ConfigError,
        ("jobledger.toml", "[types.t] slurm_args"),
    ),
    # ---- faces' arguments
    Bad("multirun-cmd-none", sweep(["echo", None]), ModelError, ("argv item 1", "None")),
    Bad("multirun-cmd-str", sweep("echo hi"), ModelError, ("cmd",)),
    Bad("multirun-runs-not-maps", sweep(["true"], runs=[1]), ModelError, ("run 0", "1")),
    Bad("multirun-param-names", sweep(["true"], runs=[{1: 2}]), ModelError, ("run 0", "names")),
    Bad("multirun-max-parallel", lambda _p: ClusterRunner(max_parallel=0), ModelError, ("max_parallel",)),
    Bad("multirun-env-name", lambda _p: jl.ParallelLocalRunner(env={"A B": "1"}), ModelError, ("'A B'",)),
    Bad(
        "awflow-env-name", lambda _p: jl.job(name="a", env={"$(x)": "1"})(lambda: None), ModelError, ("$(x)",)
    ),
    Bad(
        "hpcrunner-env-vars",
        lambda _p: jl.Job("true", name="h", env_vars={"1X": "v"}),
        ModelError,
        ("'h'", "'1X'"),
    ),
    Bad(
        "with-changes-env",
        lambda _p: jl.Job(name="w", command="true").with_changes(env={"A B": "1"}),
        ModelError,
        ("'w'", "'A B'"),
    ),
    Bad("hamilton-cmd-none", hamilton_cmdline, ModelError, ("argv item 1", "None")),
    Bad("workflow-non-job", lambda _p: jl.Workflow(["echo"]), ModelError, ("str",)),  # type: ignore[list-item]
    Bad(
        "run-name-newline",
        lambda _p: jl.run(jl.Job(name="j", command="true"), name="x\ny"),
        ModelError,
        ("workflow name", "'x\\ny'"),
    ),
]


def _verify(project: Project) -> None:
    out = CliRunner().invoke(cli_main, ["-C", str(project.root), "verify"])
    assert out.exit_code == 0, out.output
    assert "ledger intact" in out.output


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_input_is_a_clear_error(project: Project, case: Bad) -> None:
    with pytest.raises(case.error) as info:
        case.act(project)
    message = str(info.value)
    for name in case.names:
        assert name in message, f"{name!r} not in {message!r}"
    assert "Traceback" not in message
    assert not MARKER.exists()
    _verify(project)


def test_table_is_big_and_ids_unique() -> None:
    assert len(BAD) >= 80
    assert len({c.id for c in BAD}) == len(BAD)


# ---------------------------------------------------------------------- the CLI
@dataclass(frozen=True)
class CliBad:
    """A bad input met through ``jobledger ARGS``: exit 2, one line naming the offender."""

    id: str
    prepare: Callable[[Path], list[str]]
    names: tuple[str, ...]


def with_toml(text: str | bytes, *args: str) -> Callable[[Path], list[str]]:
    def prepare(root: Path) -> list[str]:
        path = root / "jobledger.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        (root / "flow.py").write_text(
            "import jobledger as jl\njl.run(jl.Job(name='t', command='true', host='c'))\n"
        )
        return list(args) or ["hosts"]

    return prepare


def with_script(body: str) -> Callable[[Path], list[str]]:
    def prepare(root: Path) -> list[str]:
        (root / "flow.py").write_text("import jobledger as jl\n" + body + "\n")
        return ["run", "flow.py"]

    return prepare


def toml_dir(root: Path) -> list[str]:
    (root / "jobledger.toml").mkdir()
    return ["hosts"]


def unwritable_workdir(root: Path) -> list[str]:
    (root / "a-file").write_text("not a directory\n")
    (root / "jobledger.toml").write_text(f'[hosts.bad]\nscheduler = "local"\nworkdir = "{root}/a-file/sub"\n')
    return ["hosts", "check", "bad"]


CLI_BAD: list[CliBad] = [
    CliBad("hosts-toml-int", with_toml("hosts = 3\n"), ("jobledger.toml", "hosts = 3")),
    CliBad("hosts-toml-binary", with_toml(b"\x00\xff\xfe binary"), ("jobledger.toml", "UTF-8")),
    CliBad("hosts-toml-directory", toml_dir, ("jobledger.toml", "directory")),
    CliBad("hosts-retries-text", with_toml("[defaults]\nretries = 'many'\n"), ("jobledger.toml", "retries")),
    CliBad(
        "hosts-retry-on-bogus", with_toml("[defaults]\nretry_on = ['bogus']\n"), ("jobledger.toml", "bogus")
    ),
    CliBad(
        "hosts-env-bool", with_toml("[hosts.c]\nenv = {A = true}\n"), ("jobledger.toml", "[hosts.c.env] A")
    ),
    CliBad(
        "hosts-env-name",
        with_toml(f"[hosts.c]\nenv = {{'X; touch {MARKER}' = 'v'}}\n"),
        ("jobledger.toml", f"X; touch {MARKER}"),
    ),
    CliBad(
        "run-agrees-with-hosts",
        with_toml("[hosts.c]\nenv = {A = [1]}\n", "run", "flow.py"),
        ("jobledger.toml", "[hosts.c.env] A"),
    ),
    CliBad("hosts-check-workdir", unwritable_workdir, ("'bad'", "a-file/sub", "not writable")),
    CliBad(
        "run-env-name",
        with_script(
            f"jl.run(jl.Job(name='e', command='true', env={{'X=1; touch {MARKER}; Y': 'v'}}), wait=True)"
        ),
        ("'e'", f"touch {MARKER}"),
    ),
    CliBad(
        "run-argv-none",
        with_script("jl.run(jl.Job(name='n', command=['echo', None]), wait=True)"),
        ("'n'", "None"),
    ),
    CliBad(
        "run-array-huge",
        with_script("jl.run(jl.Job(name='arr', command='true', array=10**7), wait=True)"),
        ("'arr'", "1,000,000"),
    ),
    CliBad(
        "run-cpus-huge",
        with_script("jl.run(jl.Job(name='big', command='true', cpus=10**9), wait=True)"),
        ("'big'", "cpus", "CPUs"),
    ),
    CliBad(
        "run-workflow-name-newline",
        with_script("jl.run(jl.Workflow([jl.Job(name='a', command='true')], name='x\\ny'), wait=True)"),
        ("workflow name", "newline"),
    ),
    CliBad("project-dir-newline", lambda root: ["-C", str(root / "sub\ndir"), "status"], ("newline",)),
    CliBad("init-unit-separator", lambda root: ["init", str(root.parent / "x\x1fy")], ("\\x1f",)),
]


@pytest.mark.parametrize("case", CLI_BAD, ids=[c.id for c in CLI_BAD])
def test_cli_bad_input_exits_2_without_traceback(project: Project, case: CliBad) -> None:
    args = case.prepare(project.root)
    out = run_cli(project.root, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert out.stderr.startswith("jobledger: error: "), out.stderr
    for name in case.names:
        assert name in out.stderr, f"{name!r} not in {out.stderr!r}"
    assert not MARKER.exists()
    config = project.root / "jobledger.toml"
    if config.is_dir():
        config.rmdir()
    config.unlink(missing_ok=True)
    verified = run_cli(project.root, "verify")
    assert verified.returncode == 0 and "ledger intact" in verified.stdout, verified.stderr


# ---------------------------------------------------------------------- what keeps working
def test_integer_env_values_agree_between_hosts_and_a_run(project: Project) -> None:
    (project.root / "jobledger.toml").write_text(
        '[hosts.here]\nscheduler = "local"\nenv = {OMP_NUM_THREADS = 4, RATIO = 0.5, NAME = "x y"}\n'
    )
    listed = run_cli(project.root, "hosts")
    assert listed.returncode == 0 and "here" in listed.stdout, listed.stderr
    job = jl.Job(name="threads", command=["printenv", "OMP_NUM_THREADS", "RATIO", "NAME"], host="here")
    result = jl.run(jl.Workflow([job], name="env"), wait=True, timeout=60)["threads"]
    assert result.state is jl.JobState.COMPLETED, result.reason
    assert result.stdout_path.read_text() == "4\n0.5\nx y\n"


def test_project_accepts_str_and_path_like(project: Project) -> None:
    assert jl.Project(str(project.root)) == project
    assert jl.Project(project.root) == project
    assert jl.Project.open(str(project.root)) == project
    assert jl.Project.find(str(project.root / "jobs")) == project


def test_workflow_names_that_sanitise_alike_keep_their_own_files(project: Project) -> None:
    from jobledger.engine.lock import DriverLock
    from jobledger.model.names import file_stem, safe_name

    assert safe_name("exp/1") == safe_name("exp:1") and file_stem("exp/1") != file_stem("exp:1")
    first = jl.Workflow([jl.Job(name="a", command="echo one")], name="exp/1")
    second = jl.Workflow([jl.Job(name="a", command="echo two")], name="exp:1")
    results = [jl.run(wf, wait=True, timeout=60)["a"] for wf in (first, second)]
    assert [r.stdout for r in results] == ["one", "two"]
    state = project.ledger.state
    recorded = [state.workflow(name) for name in ("exp/1", "exp:1")]
    assert [wf.name if wf else None for wf in recorded] == ["exp/1", "exp:1"]
    commands = [state.job(wf.job_keys[0]).definition["command"] if wf else None for wf in recorded]  # type: ignore[union-attr]
    assert commands == ["echo one", "echo two"]
    assert DriverLock(project.cache_dir, "exp/1").path != DriverLock(project.cache_dir, "exp:1").path
    _verify(project)


def _element_dirs(attempt: Path) -> set[str]:
    return (
        {p.name for p in attempt.iterdir() if p.is_dir() and p.name.isdigit()} if attempt.exists() else set()
    )


@pytest.mark.parametrize("host", ["local", "slurm"])
def test_array_element_directories_are_made_when_elements_start(project: Project, host: str) -> None:
    if host == "slurm":
        require(slurm_available(), "SLURM (make slurm-up)")
        (project.root / "jobledger.toml").write_text(
            '[hosts.slurm]\nscheduler = "slurm"\npoll_interval = 0.3\n'
        )
    flag = project.root / "go"
    body = f'[ "$JOBLEDGER_ARRAY_INDEX" = 0 ] && while [ ! -e {flag} ]; do sleep 0.05; done; echo "$JOBLEDGER_ARRAY_INDEX"'
    job = jl.Job(name="lazy", command=body, array=40, max_concurrent=1, host=host)
    handle = jl.run(jl.Workflow([job], name="lazy"))
    run_dir = project.root / project.run_dir_name("lazy", job.key)
    deadline = time.monotonic() + 120
    while not (run_dir / "0" / "claim").exists():
        assert time.monotonic() < deadline, "element 0 never started"
        time.sleep(0.05)
    started = _element_dirs(run_dir)
    assert "0" in started and len(started) <= 1 + CPUS, started  # not one per index up front
    flag.touch()
    results = handle.wait(timeout=300)
    assert results["lazy"].state is jl.JobState.COMPLETED, results["lazy"].reason
    assert [e.stdout for e in results["lazy"].elements] == [str(i) for i in range(40)]
    _verify(project)


def test_a_100000_deep_chain_keys_and_builds_without_recursion() -> None:
    jobs = [jl.Job(name="j0", command="true")]
    for i in range(1, 100_000):
        jobs.append(jl.Job(name=f"j{i}", command="true", after=[jobs[-1]]))
    key = jobs[-1].key  # iterative: no RecursionError
    workflow = jl.Workflow([jobs[-1]], name="chain")
    assert len(workflow) == 100_000 and workflow.order[0] == "j0"
    assert workflow.keys()["j99999"] == key
    assert jl.Job(name="j0", command="true").key == jobs[0].key


def test_hosts_check_probes_the_workdir(project: Project) -> None:
    out = run_cli(project.root, "hosts", "check", "local")
    assert out.returncode == 0, out.stderr
    assert f"workdir {project.root}: writable" in out.stdout
    assert not list(project.root.glob(".jobledger-probe-*"))


def test_hosts_check_over_ssh_names_an_unwritable_workdir(project: Project, sshd: SshInfo) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    table = '[hosts.remote]\nssh = "{alias}"\nssh_config = "{config}"\nscheduler = "slurm"\nworkdir = "{workdir}"\n'
    fill = {"alias": sshd.alias, "config": sshd.ssh_config}
    (project.root / "jobledger.toml").write_text(table.format(**fill, workdir="/proc/jl-no-such-dir"))
    out = run_cli(project.root, "hosts", "check", "remote")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "'remote'" in out.stderr and "/proc/jl-no-such-dir" in out.stderr and "not writable" in out.stderr
    unique = f"jl-check-{os.getpid()}-{time.time_ns()}"
    (project.root / "jobledger.toml").write_text(table.format(**fill, workdir=unique))
    out = run_cli(project.root, "hosts", "check", "remote")
    assert out.returncode == 0, out.stderr
    assert f"/{unique}: writable" in out.stdout
