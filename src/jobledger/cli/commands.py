"""CLI commands that drive work: run, resume, wait, cancel, retry, fetch, hosts."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from jobledger.errors import JobledgerError
from jobledger.project import Project


def _project(ctx: click.Context) -> Project:
    from jobledger.cli.main import open_project

    return open_project(ctx)


def _engine(project: Project) -> Any:
    from jobledger.api.session import engine_for

    return engine_for(project)


def resolve_names(project: Project, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Keys and workflow names selected by job or workflow ``names`` (all when empty)."""
    state = project.ledger.state
    workflows = state.workflows()
    if not names:
        keys: list[str] = []
        for info in workflows.values():
            keys.extend(k for k in info.job_keys if k not in keys)
        return keys, list(workflows)
    keys, wf_names = [], []
    for name in names:
        matched = False
        if name in workflows:
            wf_names.append(name)
            keys.extend(k for k in workflows[name].job_keys if k not in keys)
            matched = True
        for wf_name, info in workflows.items():
            for key in info.job_keys:
                job = state.job(key)
                if job is not None and job.name == name and key not in keys:
                    keys.append(key)
                    if wf_name not in wf_names:
                        wf_names.append(wf_name)
                    matched = True
        if not matched:
            raise click.BadParameter(
                f"no job or workflow named {name!r} in {project.root}", param_hint="NAME"
            )
    return keys, wf_names


def carry_on(engine: Any, name: str, wait_for_lock: bool = False) -> bool:
    """Load the cached definition of ``name`` and take its driver lock; True when driving."""
    if name not in engine.loaded:
        workflow = engine.load_cached(name)
        if workflow is None:
            return False
        engine.define(workflow)
    try:
        engine.acquire(name, wait_for_lock)
    except JobledgerError as exc:
        click.echo(f"jobledger: {exc}; observing only", err=True)
        return False
    return True


def _final_summary(project: Project, keys: list[str]) -> int:
    state = project.ledger.state
    failed = [
        info
        for k in keys
        if (info := state.job(k)) is not None and info.state.is_final and not info.state.is_success
    ]
    pending = [info for k in keys if (info := state.job(k)) is not None and not info.state.is_final]
    for info in failed:
        cur = info.current
        reason = cur.reason if cur else ""
        click.echo(f"{info.name}: {info.state.value}" + (f" ({reason})" if reason else ""), err=True)
    if pending:
        return 3
    return 1 if failed else 0


def _drive_all(
    engine: Any, names: list[str], keys: list[str], timeout: float | None, wait_for_lock: bool
) -> int:
    from jobledger.api.verbs import _final_count, _Progress

    deadline = None if timeout is None else time.monotonic() + timeout
    show = sys.stderr.isatty()
    bar = _Progress(len(keys)) if show and keys else None
    try:
        for name in names:
            driving = carry_on(engine, name, wait_for_lock)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            report = engine.drive(
                name,
                until="final",
                timeout=remaining,
                act=driving,
                on_cycle=(lambda _r: bar.update(_final_count(engine, keys))) if bar else None,
            )
            if not report.all_final:
                click.echo(f"jobledger: {name}: timed out with jobs still unfinished", err=True)
                return 3
    finally:
        if bar is not None:
            bar.close()
    return _final_summary(engine.project, keys)


def _detach(project: Project, what: str, args: list[str]) -> None:
    """Carry on in a background process of its own session, logging to the project."""
    logs = project.cache_dir / "drivers"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{what}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "jobledger.cli.main", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    click.echo(f"jobledger: {what} goes on in the background (pid {proc.pid}); log: {log_path}")


def register(main: click.Group) -> None:
    """Add these commands to the ``jobledger`` group."""
    main.add_command(run_cmd)
    main.add_command(resume)
    main.add_command(wait)
    main.add_command(cancel)
    main.add_command(retry)
    main.add_command(fetch)
    from jobledger.cli.hosts import hosts

    main.add_command(hosts)
    try:
        from jobledger.cli.views import register as register_views
    except ImportError:  # pragma: no cover - views are optional during development
        return
    register_views(main)


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--host",
    "--backend",
    "host",
    default=None,
    help="Send jobs that name no host to this host alias.",
)
@click.option("--force", is_flag=True, help="Re-run jobs even when they completed before.")
@click.option("--max-parallel", type=int, default=None, help="Local CPU budget (default: all CPUs).")
@click.option("--wait/--no-wait", default=True, help="Block until every job is final (default).")
@click.option("--detach", is_flag=True, help="Run in a background process that logs to the project.")
@click.pass_context
def run_cmd(
    ctx: click.Context,
    file: str,
    script_args: tuple[str, ...],
    host: str | None,
    force: bool,
    max_parallel: int | None,
    wait: bool,
    detach: bool,
) -> None:
    """Run FILE.py, a Python file that defines and runs a workflow."""
    if host:
        os.environ["JOBLEDGER_HOST"] = host
    if force:
        os.environ["JOBLEDGER_FORCE"] = "1"
    if max_parallel:
        os.environ["JOBLEDGER_MAX_PARALLEL"] = str(max_parallel)
    project = Project.find() or Project.init(Path.cwd())
    if detach:
        _detach(project, "run", ["run", file, *script_args])
        return
    sys.argv = [file, *script_args]
    script_dir = str(Path(file).resolve().parent)
    if script_dir not in sys.path:
        sys.path.insert(0, script_dir)
    runpy.run_path(file, run_name="__main__")
    from jobledger.api.session import _ENGINES

    code = 0
    for engine in list(_ENGINES.values()):
        for name in list(engine.started):
            engine.join_background(name)
        if wait and engine.started:
            keys = [k for n in engine.started for k in engine.loaded[n].order]
            code = max(code, _drive_all(engine, list(engine.started), keys, None, False))
    ctx.exit(code)


@click.command()
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.option("--wait-for-lock", is_flag=True, help="Wait for another driver to finish instead of observing.")
@click.option("--detach", is_flag=True, help="Carry on in a background process.")
@click.pass_context
def resume(ctx: click.Context, timeout: float | None, wait_for_lock: bool, detach: bool) -> None:
    """Carry on every unfinished workflow after a crash: reconcile, observe, submit."""
    project = _project(ctx)
    if detach:
        _detach(project, "resume", ["-C", str(project.root), "resume"])
        return
    engine = _engine(project)
    keys, names = resolve_names(project, ())
    state = project.ledger.state
    unfinished = []
    for name in names:
        info = state.workflow(name)
        keys_of = info.job_keys if info is not None else ()
        if any((j := state.job(k)) is None or not j.state.is_final for k in keys_of):
            unfinished.append(name)
    for name in names:
        if name not in unfinished:
            continue
        if name not in engine.loaded and engine.load_cached(name) is None:
            click.echo(
                f"jobledger: workflow {name!r}: no cached definition on this machine; "
                "observing only (run its script again to submit what is left)",
                err=True,
            )
    if not unfinished:
        click.echo("nothing to resume: every job is final")
        ctx.exit(_final_summary(project, keys))
    ctx.exit(_drive_all(engine, unfinished, keys, timeout, wait_for_lock))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.pass_context
def wait(ctx: click.Context, names: tuple[str, ...], timeout: float | None) -> None:
    """Block until the named jobs (or all) are final; exit 1 if any failed."""
    project = _project(ctx)
    engine = _engine(project)
    keys, wf_names = resolve_names(project, names)
    ctx.exit(_drive_all(engine, wf_names, keys, timeout, False) if keys else 0)


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--grace",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL.",
)
@click.pass_context
def cancel(ctx: click.Context, names: tuple[str, ...], grace: float) -> None:
    """Cancel the named jobs or workflows (all unfinished jobs when none are named)."""
    project = _project(ctx)
    engine = _engine(project)
    keys, _ = resolve_names(project, names)
    state = project.ledger.state
    keys = [k for k in keys if (i := state.job(k)) is None or not i.state.is_final]
    touched = engine.cancel(keys, grace=grace)
    state = project.ledger.state
    for key in touched:
        info = state.job(key)
        if info is not None:
            click.echo(f"cancelled {info.name}")
    if not touched:
        click.echo("nothing to cancel")


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--no-wait", is_flag=True, help="Only record the new attempts.")
@click.pass_context
def retry(ctx: click.Context, names: tuple[str, ...], no_wait: bool) -> None:
    """Retry the named jobs by hand (a new, manual attempt each), then drive them."""
    from jobledger.engine.plan import Phase, standing
    from jobledger.ledger import events as ev

    project = _project(ctx)
    engine = _engine(project)
    keys, wf_names = resolve_names(project, names)
    raw = project.ledger.raw_state["jobs"]
    retried = []
    for key in keys:
        st = standing(key, raw.get(key))
        if st.phase not in (Phase.FAILURE, Phase.SUCCESS):
            click.echo(f"{raw[key].get('name', key)}: not final ({st.state.value}); not retried", err=True)
            continue
        project.ledger.append(
            ev.RETRY,
            {"key": key, "attempt": st.attempt + 1, "reason": "retried by hand", "manual": True},
        )
        retried.append(key)
        click.echo(f"{raw[key].get('name', key)}: attempt {st.attempt + 1} recorded")
    project.ledger.flush(durable=True)
    if retried and not no_wait:
        ctx.exit(_drive_all(engine, wf_names, retried, None, False))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Results as JSON.")
@click.pass_context
def fetch(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Bring remote outputs home and show each job's result (exit code, output tails)."""
    from jobledger.api.verbs import fetch as fetch_results

    project = _project(ctx)
    keys, _ = resolve_names(project, names)
    selection: list[Any] = [_Keys(project, keys)] if keys else []
    results = fetch_results(*selection, project=project)
    if as_json:
        payload = [
            {
                "name": r.name,
                "key": r.key,
                "state": r.state.value,
                "exit_code": r.exit_code,
                "stdout": r.stdout,
                "stderr": r.stderr,
                "error": r.error,
                "run_dir": str(r.run_dir),
            }
            for r in results.values()
        ]
        click.echo(json.dumps(payload, indent=1))
        return
    for result in results.values():
        click.echo(
            f"== {result.name}: {result.state.value}"
            + (f" (exit {result.exit_code})" if result.exit_code is not None else "")
        )
        if result.error:
            click.echo(f"   {result.error.get('type')}: {result.error.get('message')}")
        tail = result.stderr if not result.ok else result.stdout
        for line in tail.splitlines()[-10:]:
            click.echo(f"   {line}")


class _Keys:
    """Selects keys of a project for the verbs."""

    def __init__(self, project: Project, keys: list[str]) -> None:
        self.project = project
        self.keys = keys

    def _jobledger_selection(self) -> Any:
        from jobledger.api.session import Selection

        return Selection(self.project, (), tuple(self.keys), ())
