"""``jobledger status``: every job, its history, and who drives it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from jobledger.cli.common import EXIT_DAMAGED, console, open_project
from jobledger.errors import JobledgerError
from jobledger.ledger.state import ProjectState, WorkflowInfo
from jobledger.project import Project


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per job (one per line).")
@click.option("--watch", is_flag=True, help="Full-screen view that follows the ledger.")
@click.option("--workflow", "-w", multiple=True, help="Only these workflows.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Every job ever defined, also older versions of a job (no summary).",
)
@click.option("--no-observe", is_flag=True, help="Only read the ledger; do not ask the backends.")
@click.pass_context
def status(
    ctx: click.Context,
    as_json: bool,
    watch: bool,
    workflow: tuple[str, ...],
    show_all: bool,
    no_observe: bool,
) -> None:
    """Show every job: state, host, scheduler id, start, elapsed, exit code, reuse.

    Past 100 jobs, a summary: per workflow the number of jobs in each state, the failed and
    unfinished jobs listed (at most 30 of each), the rest folded into one "N more" line;
    --all lists every job, --json always gives every job (one per line, streamed).

    Each workflow's current definition comes first; below it, dimmed and marked
    superseded, the jobs of its earlier definitions whose names the current one does not
    have (--all: every job ever defined). A workflow defined on two lines of history that
    a git merge joined shows the jobs of both, with a note; its next run settles it. An
    unfinished job of a workflow that no process drives reads "submitted · no driver
    running" (carry on with `jobledger resume`). "reused" is about each workflow's latest
    run. Narrow columns are left out to fit the terminal; piped output has them all.

    When the ledger is damaged, a warning names the damage, jobs whose workflow record is
    lost are shown by key under their own heading, and the exit code is 4 (see
    `jobledger verify`). An unknown workflow name is a usage error (exit 2).

    Examples:

    \b
      jobledger status
      jobledger status -w sweep --all
      jobledger status --json | jq '.[] | select(.state == "failed") | .name'
      jobledger status --watch
    """
    from jobledger.view.status import add_drivers, orphan_rows, status_rows
    from jobledger.view.status_summary import needs_summary, summary_view, unfinished_workflows
    from jobledger.view.status_table import status_table, status_view

    project = open_project(ctx)
    workflows = project.ledger.state.workflows()
    names = known_workflows(project, workflow, workflows)
    if watch and not as_json:
        from jobledger.view.live import run_live

        raise SystemExit(run_live(project, list(workflow) or None))
    state = project.ledger.state
    unfinished = unfinished_workflows(state, workflows, names)
    session = _session(project) if unfinished else None  # a finished workflow: no backend to ask
    if not no_observe and session is not None:
        _observe(session, unfinished)
        state = project.ledger.state
    holder = None if session is None else _holder_of(session)
    orphans = orphan_rows(state)
    code = EXIT_DAMAGED if orphans or project.ledger.health() else 0
    if as_json:
        drivers = (
            {} if holder is None else {n: holder(n) for n in unfinished_workflows(state, workflows, names)}
        )
        _stream_json(state, names, show_all, drivers, orphans)
        ctx.exit(code)
    out = console()
    if orphans:
        title = "jobs whose workflow record is damaged (definition lost; shown by key)"
        out.print(status_table(orphans, title=title, width=out.width))
    if not show_all and needs_summary(workflows, names):
        resume = _resume_command(ctx, project)
        for part in summary_view(state, workflows, names, holder=holder, resume=resume, width=out.width):
            out.print(part, soft_wrap=isinstance(part, Text))
        ctx.exit(code)
    rows = status_rows(state, names, history="all" if show_all else "superseded")
    if holder is not None:
        add_drivers(rows, holder)
    if not rows:
        if not orphans:
            out.print("no jobs yet (define and run a workflow: see `jobledger run --help`)")
        ctx.exit(code)
    for part in status_view(state, rows, resume=_resume_command(ctx, project), width=out.width):
        out.print(part, soft_wrap=isinstance(part, Text))  # a note is one line in a file
    ctx.exit(code)


def _stream_json(
    state: ProjectState,
    names: list[str],
    show_all: bool,
    drivers: Mapping[str, str | None],
    orphans: list[dict[str, Any]],
) -> None:
    """Print the JSON array of rows one job per line as they are made (100,000 jobs start
    printing at once); ``drivers``: who drives each workflow with unfinished jobs."""
    from jobledger.view.status import iter_status_rows

    rows = iter_status_rows(state, names, history="all" if show_all else "superseded")
    sep = "["
    for row in itertools.chain(rows, orphans):
        if row["workflow"] in drivers:
            row["driver"] = drivers[row["workflow"]]
        click.echo(sep + json.dumps(row, default=str))
        sep = ","
    click.echo("[]" if sep == "[" else "]")


def known_workflows(
    project: Project, names: tuple[str, ...], known: Mapping[str, WorkflowInfo] | None = None
) -> list[str]:
    """``names`` (all workflows when empty); a usage error listing the known names when
    one of them is not a workflow of the project (``known``: the project's workflows, when
    already read)."""
    known = project.ledger.state.workflows() if known is None else known
    for name in names:
        if name not in known:
            choices = ", ".join(known) or "none defined yet"
            raise click.BadParameter(
                f"no workflow named {name!r} in {project.root} (known: {choices})",
                param_hint="'--workflow' / '-w'",
            )
    return list(names) or list(known)


def _session(project: Project) -> Any:
    from jobledger.session import session_for

    try:
        return session_for(project, create=False)
    except JobledgerError as exc:
        click.echo(f"jobledger: warning: cannot open a session: {exc}", err=True)
        return None


def _observe(session: Any, names: list[str]) -> None:
    try:
        session.observe(names)
    except JobledgerError as exc:
        click.echo(f"jobledger: warning: cannot observe: {exc}", err=True)


def _holder_of(session: Any) -> Callable[[str], str | None]:
    """Who drives a workflow (``None``: nobody); ``None`` too when it cannot be known (the
    lock folder cannot be made: a read-only checkout)."""

    def holder(name: str) -> str | None:
        try:
            found = str(session.driver_holder(name))
        except JobledgerError:
            return None
        return None if found == "nobody" else found

    return holder


def _resume_command(ctx: click.Context, project: Project) -> str:
    inside = Path.cwd().resolve()
    if inside == project.root or project.root in inside.parents:
        return "jobledger resume"
    return f"jobledger -C {project.root} resume"
