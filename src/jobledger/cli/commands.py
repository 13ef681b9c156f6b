"""CLI commands on named jobs and workflows: wait, cancel, retry, fetch (and what the
commands that drive share: resolving names, waiting, exit codes)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from jobledger.cli.common import open_project
from jobledger.project import Project
from jobledger.states import JobState

if TYPE_CHECKING:
    from jobledger.session import Session


def session_of(project: Project) -> Session:
    """The session of ``project`` (one per process)."""
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


def exit_code(states: Iterable[JobState]) -> int:
    """0 when every job completed, 1 when one did not, 3 when one is not final."""
    seen = list(states)
    if any(not s.is_final for s in seen):
        return 3
    return 1 if any(not s.is_success for s in seen) else 0


def drive(session: Session, keys: list[str], names: list[str], timeout: float | None) -> int:
    """Wait for ``keys`` (driving where nobody does); the exit code (130 on Ctrl-C)."""
    from jobledger.errors import WaitTimeout
    from jobledger.session import JobsKeepRunning

    for name in names:
        if not session.take_over(name):
            holder = session.driver_holder(name)
            click.echo(f"jobledger: workflow {name!r} is driven by {holder}; following it", err=True)
    try:
        session.wait(keys, names, timeout=timeout, check=False, collect=False)
    except WaitTimeout as exc:
        click.echo(f"jobledger: {exc}", err=True)
        session.release(names)  # gave up: do not drive on at exit (`jobledger resume` does)
        return 3
    except JobsKeepRunning:
        return 130
    return exit_code(session.states(keys).values())


@click.command()
@click.argument("names", nargs=-1)
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 3).")
@click.pass_context
def wait(ctx: click.Context, names: tuple[str, ...], timeout: float | None) -> None:
    """Block until the named jobs or workflows (or all) are final.

    Exit status 0 when all completed, 1 when one did not, 3 when one is unfinished (each
    named, with why), 130 on Ctrl-C.

    Examples:

    \b
      jobledger wait
      jobledger wait train --timeout 3600
      jobledger wait sweep && python plot.py
    """
    project = open_project(ctx)
    session = session_of(project)
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
    `jobledger retry`, to start them anew).

    Examples:

    \b
      jobledger cancel sweep
      jobledger cancel train --grace 30
    """
    project = open_project(ctx)
    session = session_of(project)
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

    Examples:

    \b
      jobledger retry train
      jobledger retry sweep --no-wait
    """
    project = open_project(ctx)
    session = session_of(project)
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
    """Bring remote outputs home and show each job's result (exit code, output tails).

    Examples:

    \b
      jobledger fetch
      jobledger fetch train
      jobledger fetch sweep --json > results.json
    """
    project = open_project(ctx)
    session = session_of(project)
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
