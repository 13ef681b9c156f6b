"""``jobledger run`` and ``jobledger resume``: the commands that start or carry on driving."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import click

from jobledger.cli.commands import drive, exit_code, resolve_names, session_of
from jobledger.cli.common import open_project
from jobledger.ledger.state import settled_state
from jobledger.project import Project


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

    Waits (by default) until every job it ran is final, with progress and a summary on
    stderr; exit status 0 when all completed, 1 when one did not, 3 when one is
    unfinished, 130 on Ctrl-C (the jobs keep running; `jobledger resume` carries on).
    Arguments after FILE go to the script; put them after `--` when they look like
    options of this command.

    Examples:

    \b
      jobledger run workflow.py
      jobledger run workflow.py --host cluster
      jobledger run sweep.py --force -- --size 10
      jobledger run workflow.py --detach
    """
    from jobledger.errors import WorkflowFailed
    from jobledger.session import JobsKeepRunning, RunDefaults

    project = Project.find() or Project.init(Path.cwd())
    if detach:
        flags = [*(["--host", host] if host else []), *(["--force"] if force else [])]
        flags += ["--max-parallel", str(max_parallel)] if max_parallel else []
        _detach(project, "run", ["run", *flags, file, "--", *script_args])
        return
    session = session_of(project)
    session.defaults = RunDefaults(host=host, force=force)  # what the script's runs take
    if max_parallel:
        session.driver.max_parallel = max_parallel
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
    session = session_of(project)
    if wait and session.ran:
        # drive what the script left unfinished; what it waited for was summarised already
        unfinished = [n for n in session.unfinished_workflows() if n in session.ran]
        if unfinished:
            code = max(code, drive(session, session.keys_of(unfinished), unfinished, None))
        code = max(code, exit_code(session.states(session.keys_of(session.ran)).values()))
    ctx.exit(code)


@click.command()
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.option("--wait-for-lock", is_flag=True, help="Wait for another driver to finish instead of observing.")
@click.option("--detach", is_flag=True, help="Carry on in a background process.")
@click.pass_context
def resume(ctx: click.Context, timeout: float | None, wait_for_lock: bool, detach: bool) -> None:
    """Carry on every unfinished workflow after a crash or Ctrl-C: reconcile, observe, submit.

    Takes over each workflow whose driver is gone; follows the ones another process
    drives. Exit status as for `jobledger wait`.

    Examples:

    \b
      jobledger resume
      jobledger resume --timeout 600
      jobledger resume --detach
    """
    project = open_project(ctx)
    if detach:
        _detach(project, "resume", ["-C", str(project.root), "resume"])
        return
    session = session_of(project)
    unfinished = session.unfinished_workflows()
    if not unfinished:
        click.echo("nothing to resume: every job is final")
        keys, _names = resolve_names(session, ())
        ctx.exit(exit_code(session.states(keys).values()))
    model = session.ledger.model
    open_keys = [k for k in session.keys_of(unfinished) if settled_state(model, k) is None]
    records = [session.state.record(k) for k in open_keys]  # only the open ones: decoded on use
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
