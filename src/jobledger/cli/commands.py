"""CLI commands that drive work: run, resume, wait, cancel, retry, fetch, hosts."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from jobledger.project import Project

if TYPE_CHECKING:
    from jobledger.session import Session


def _project(ctx: click.Context) -> Project:
    from jobledger.cli.main import open_project

    return open_project(ctx)


def _session(project: Project) -> Session:
    from jobledger.session import session_for

    return session_for(project)


def resolve_names(session: Session, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Keys and workflow names selected by job or workflow ``names`` (all when empty)."""
    state = session.state
    workflows = state.workflows()
    if not names:
        names_all = list(workflows)
        return session.keys_of(names_all), names_all
    keys: list[str] = []
    wf_names: list[str] = []
    for name in names:
        matched = False
        if name in workflows:
            wf_names.append(name)
            keys.extend(k for k in session.keys_of([name]) if k not in keys)
            matched = True
        for wf_name in workflows:
            for key in session.keys_of([wf_name]):
                job = state.record(key)
                if job is not None and job.name == name and key not in keys:
                    keys.append(key)
                    if wf_name not in wf_names:
                        wf_names.append(wf_name)
                    matched = True
        if not matched:
            known = ", ".join(sorted(workflows)) or "none"
            raise click.BadParameter(
                f"no job or workflow named {name!r} in {session.project.root} (workflows: {known})",
                param_hint="NAME",
            )
    return keys, wf_names


def exit_code(results: dict[str, Any]) -> int:
    """0 when every job completed, 1 when one did not, 3 when one is not final."""
    states = [r.state for r in results.values()]
    if any(not s.is_final for s in states):
        return 3
    return 1 if any(not s.is_success for s in states) else 0


def drive(session: Session, keys: list[str], names: list[str], timeout: float | None) -> int:
    """Wait for ``keys`` (driving where nobody does); the exit code (130 on Ctrl-C)."""
    from jobledger.errors import WaitTimeout
    from jobledger.session import JobsKeepRunning

    for name in names:
        if not session.take_over(name):
            holder = session.driver_holder(name)
            click.echo(f"jobledger: workflow {name!r} is driven by {holder}; following it", err=True)
    try:
        results = session.wait(keys, names, timeout=timeout, check=False)
    except WaitTimeout as exc:
        click.echo(f"jobledger: {exc}", err=True)
        session.release(names)  # gave up: do not drive on at exit (`jobledger resume` does)
        return 3
    except JobsKeepRunning:
        return 130
    return exit_code(results)


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
    """Run FILE.py, a Python file that defines and runs a workflow.

    Waits (by default) until every job it ran is final; exit status 0 when all
    completed, 1 when one did not, 3 when one is unfinished, 130 on Ctrl-C.

    Example: jobledger run workflow.py --host cluster
    """
    from jobledger.errors import WorkflowFailed
    from jobledger.session import JobsKeepRunning

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
    code = 0
    try:
        runpy.run_path(file, run_name="__main__")
    except WorkflowFailed:
        code = 1  # its summary is printed
    except JobsKeepRunning:
        ctx.exit(130)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    session = _session(project)
    if wait and session.ran:
        keys = session.keys_of(session.ran)
        code = max(code, drive(session, keys, list(session.ran), None))
    ctx.exit(code)


@click.command()
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.option("--wait-for-lock", is_flag=True, help="Wait for another driver to finish instead of observing.")
@click.option("--detach", is_flag=True, help="Carry on in a background process.")
@click.pass_context
def resume(ctx: click.Context, timeout: float | None, wait_for_lock: bool, detach: bool) -> None:
    """Carry on every unfinished workflow after a crash: reconcile, observe, submit.

    Takes over each workflow whose driver is gone; follows the ones another process
    drives. Example: jobledger resume --timeout 600
    """
    project = _project(ctx)
    if detach:
        _detach(project, "resume", ["-C", str(project.root), "resume"])
        return
    session = _session(project)
    unfinished = session.unfinished_workflows()
    if not unfinished:
        click.echo("nothing to resume: every job is final")
        keys, _names = resolve_names(session, ())
        ctx.exit(exit_code(session.results(keys)))
    records = [session.state.record(k) for k in session.keys_of(unfinished)]
    blocked = sorted(
        {r.name for r in records if r is not None and r.spec is not None and not r.spec.submittable}
    )
    if blocked:
        click.echo(
            "jobledger: defined by an older version (run their script again to submit them): "
            + ", ".join(blocked),
            err=True,
        )
    ctx.exit(drive(session, session.keys_of(unfinished), unfinished, timeout))


@click.command()
@click.argument("names", nargs=-1)
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.pass_context
def wait(ctx: click.Context, names: tuple[str, ...], timeout: float | None) -> None:
    """Block until the named jobs or workflows (or all) are final.

    Exit status 0 when all completed, 1 when one did not, 3 when one is unfinished (each
    named, with why). Example: jobledger wait train --timeout 3600
    """
    project = _project(ctx)
    session = _session(project)
    keys, wf_names = resolve_names(session, names)
    ctx.exit(drive(session, keys, wf_names, timeout) if keys else 0)


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
    """Cancel the named jobs or workflows (all unfinished jobs when none are named).

    A cancel sticks: no retry policy brings the jobs back (run the script again, or
    ``jobledger retry``, to start them anew). Example: jobledger cancel sweep
    """
    project = _project(ctx)
    session = _session(project)
    keys, _ = resolve_names(session, names)
    touched = session.cancel(keys, grace=grace)
    for name in touched:
        click.echo(f"cancelled {name}")
    if not touched:
        click.echo("nothing to cancel")


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--no-wait", is_flag=True, help="Only record the new attempts.")
@click.pass_context
def retry(ctx: click.Context, names: tuple[str, ...], no_wait: bool) -> None:
    """Retry the named jobs by hand (a new, manual attempt each), then drive them.

    Example: jobledger retry train
    """
    project = _project(ctx)
    session = _session(project)
    keys, wf_names = resolve_names(session, names)
    state = session.state
    final = [k for k in keys if (r := state.record(k)) is not None and _final(r)]
    for key in keys:
        if key not in final and (r := state.record(key)) is not None:
            click.echo(f"{r.name}: not final; not retried", err=True)
    retried = session.retry(final)
    state = session.state
    for key in final:
        record = state.record(key)
        if record is not None and record.name in retried and record.current is not None:
            click.echo(f"{record.name}: attempt {record.current.number} recorded")
    if retried and not no_wait:
        ctx.exit(drive(session, final, wf_names, None))


def _final(record: Any) -> bool:
    from jobledger.ledger.state import Phase, job_phase

    return job_phase(record)[0] in (Phase.SUCCESS, Phase.FAILURE)


@click.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Results as JSON.")
@click.pass_context
def fetch(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Bring remote outputs home and show each job's result (exit code, output tails)."""
    project = _project(ctx)
    session = _session(project)
    keys, _ = resolve_names(session, names)
    results = session.fetch(keys)
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
