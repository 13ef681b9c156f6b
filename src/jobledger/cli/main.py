"""The ``jobledger`` command: a thin layer over the public API."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from jobledger.errors import JobledgerError
from jobledger.project import Project


def console(stderr: bool = False) -> Console:
    """A rich console (plain and wide when not a terminal)."""
    stream = sys.stderr if stderr else sys.stdout
    # piped output is read by programs and pagers: never squeeze it to a terminal width
    width = None if stream.isatty() else max(200, int(os.environ.get("COLUMNS", "0") or 0))
    return Console(stderr=stderr, highlight=False, width=width)


#: ``jobledger status`` exits with this code when the ledger is damaged.
EXIT_DAMAGED = 4


class _StderrWarnings(logging.Handler):
    """Shows the library's warnings as ``jobledger: warning: ...`` lines on stderr.

    Silent when the program configured logging itself (a script under ``jobledger run``
    that calls ``logging.basicConfig``): its own handlers show them then.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        #: error lines shown, so the error that ends the command is not shown twice
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        try:
            message = record.getMessage()
            if record.levelno >= logging.ERROR:
                self.errors.append(message)
            sys.stderr.write(f"jobledger: {record.levelname.lower()}: {message}\n")
        except Exception:  # logging must never raise
            self.handleError(record)


def _already_shown(exc: BaseException) -> bool:
    """True when a logged error line already carried this error's message."""
    text = str(exc)
    handlers = logging.getLogger("jobledger").handlers
    return any(text in line for h in handlers if isinstance(h, _StderrWarnings) for line in h.errors)


def _show_warnings() -> None:
    logger = logging.getLogger("jobledger")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings())


class JobledgerGroup(click.Group):
    """Turns :class:`JobledgerError` into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobledgerError as exc:
            if not _already_shown(exc):  # e.g. by the driver thread that met it
                click.echo(f"jobledger: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=JobledgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jobledger")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Project directory (default: nearest one upward, or $JOBLEDGER_PROJECT).",
)
@click.pass_context
def main(ctx: click.Context, project_dir: str | None) -> None:
    """Run workflows of HPC jobs and keep every action in the project's ledger.

    Examples:

    \b
      jobledger init
      jobledger run workflow.py
      jobledger status
      jobledger -C ~/projects/sweep resume
    """
    _show_warnings()
    ctx.obj = {"project_dir": project_dir}


def open_project(ctx: click.Context) -> Project:
    """The project named by ``-C`` or found upward from the cwd."""
    start = ctx.obj.get("project_dir") if ctx.obj else None
    return Project.open(start)


# ---------------------------------------------------------------------- init
@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def init(directory: str | None) -> None:
    """Create a project (ledger, run directories, .gitignore) in DIRECTORY.

    DIRECTORY defaults to the current one; running init again changes nothing.

    Examples:

    \b
      jobledger init
      jobledger init ~/projects/sweep
    """
    project = Project.init(directory)
    click.echo(f"initialised jobledger project in {project.root}")


# ---------------------------------------------------------------------- log
def _summary(data: dict[str, Any]) -> str:
    parts = []
    for key in (
        "name",
        "key",
        "attempt",
        "index",
        "state",
        "action",
        "scheduler_id",
        "host",
        "exit_code",
        "reason",
        "error",
        "workflow",
    ):
        if key in data and data[key] not in (None, ""):
            value = data[key]
            if key == "key":
                value = str(value)[:12]
            parts.append(f"{key}={value}")
    if "jobs" in data:
        parts.append(f"jobs={len(data['jobs'])}")
    return " ".join(parts)


def _event_json(event: Any) -> dict[str, Any]:
    return {
        "type": event.type,
        "clock": event.clock,
        "writer": event.writer,
        "seq": event.seq,
        "time": event.time,
        "data": _jsonable(dict(event.data)),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _print_events(events: Any, as_json: bool) -> None:
    for event in events:
        if as_json:
            click.echo(json.dumps(_event_json(event)))
        else:
            when = _dt.datetime.fromtimestamp(event.time).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            origin = f"[{event.writer[-6:]}#{event.seq}]"
            click.echo(f"{when}  {event.type:<13} {_summary(dict(event.data))}  {origin}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (watchdog, no polling).")
@click.pass_context
def log(ctx: click.Context, as_json: bool, follow: bool) -> None:
    """Print the event log in logical-clock order.

    Examples:

    \b
      jobledger log | tail
      jobledger log --json | jq 'select(.type == "state")'
      jobledger log --follow
    """
    project = open_project(ctx)
    ledger = project.ledger
    _print_events(ledger.iter_events(), as_json)
    if not follow:
        return
    from jobledger.engine.watch import FolderWatch

    ledger.read_new_events()  # everything printed above is now "seen"
    watch = FolderWatch(project.ledger_dir)
    watch.start()
    try:
        while True:
            watch.wait(5.0)
            _print_events(ledger.read_new_events(), as_json)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        watch.stop()


# ---------------------------------------------------------------------- verify
@main.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Check every record's digest and chain; exit 1 naming file and offset of damage.

    Also finds whole-file damage, naming the files: a segment deleted or truncated (another
    segment had read more of it), rewritten, duplicated (two files carry one writer), from
    another project, or an entry of .jobledger/ledger that is not a segment file.

    Examples:

    \b
      jobledger verify
      git pull && jobledger verify
    """
    from jobledger.ledger.verify import verify_ledger

    project = open_project(ctx)
    report = verify_ledger(project.ledger_dir)
    for note in report.notes:
        click.echo(f"note: {note}")
    for finding in report.findings:
        click.echo(str(finding), err=True)
    summary = f"{report.segments} segment(s), {report.records} record(s), {report.events} event(s)"
    if report.ok:
        click.echo(f"ledger intact: {summary}")
        return
    click.echo(f"ledger damaged: {len(report.findings)} problem(s) in {summary}", err=True)
    ctx.exit(1)


# ---------------------------------------------------------------------- status
@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per job.")
@click.option("--watch", is_flag=True, help="Full-screen view that follows the ledger.")
@click.option("--workflow", "-w", multiple=True, help="Only these workflows.")
@click.option("--all", "show_all", is_flag=True, help="Every job ever defined, also older versions of a job.")
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
    from jobledger.view.status_table import status_table, status_view

    project = open_project(ctx)
    names = known_workflows(project, workflow)
    if watch and not as_json:
        from jobledger.view.live import run_live

        raise SystemExit(run_live(project, list(workflow) or None))
    session = _session(project)
    if not no_observe and session is not None:
        _observe(session, names)
    state = project.ledger.state
    rows = status_rows(state, names, history="all" if show_all else "superseded")
    if session is not None:
        add_drivers(rows, lambda name: _holder(session, name))
    orphans = orphan_rows(state)
    code = EXIT_DAMAGED if orphans or project.ledger.health() else 0
    if as_json:
        click.echo(json.dumps(rows + orphans, indent=1, default=str))
        ctx.exit(code)
    out = console()
    if orphans:
        title = "jobs whose workflow record is damaged (definition lost; shown by key)"
        out.print(status_table(orphans, title=title, width=out.width))
    if not rows:
        if not orphans:
            out.print("no jobs yet (define and run a workflow: see `jobledger run --help`)")
        ctx.exit(code)
    for part in status_view(state, rows, resume=_resume_command(ctx, project), width=out.width):
        out.print(part, soft_wrap=isinstance(part, Text))  # a note is one line in a file
    ctx.exit(code)


def known_workflows(project: Project, names: tuple[str, ...]) -> list[str]:
    """``names`` (all workflows when empty); a usage error listing the known names when
    one of them is not a workflow of the project."""
    known = project.ledger.state.workflows()
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


def _holder(session: Any, name: str) -> str | None:
    try:
        holder = str(session.driver_holder(name))
    except JobledgerError:
        return None
    return None if holder == "nobody" else holder


def _resume_command(ctx: click.Context, project: Project) -> str:
    inside = Path.cwd().resolve()
    if inside == project.root or project.root in inside.parents:
        return "jobledger resume"
    return f"jobledger -C {project.root} resume"


def _register_more() -> None:
    from jobledger.cli import commands

    commands.register(main)


_register_more()


def run_main() -> None:  # pragma: no cover - console entry helper
    """Entry point that never shows a traceback for our own errors."""
    main(prog_name="jobledger")


if __name__ == "__main__":  # pragma: no cover
    main(prog_name="jobledger")
