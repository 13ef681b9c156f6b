"""The ``jobledger`` command: a thin layer over the public API."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from jobledger.cli.common import EXIT_DAMAGED, console, open_project
from jobledger.errors import JobledgerError
from jobledger.project import Project

__all__ = ["EXIT_DAMAGED", "console", "main", "open_project", "run_main"]


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


# ---------------------------------------------------------------------- init
@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def init(directory: str | None) -> None:
    """Create a project (ledger, run directories, .gitignore) in DIRECTORY.

    DIRECTORY defaults to the current one; running init again only writes what is
    missing (jobs/.gitignore and jobs/.gitattributes: the git policy, docs/git.md).

    Examples:

    \b
      jobledger init
      jobledger init ~/projects/sweep
    """
    project = Project.init(directory)
    click.echo(f"initialised jobledger project in {project.root}")


def _register_more() -> None:
    from jobledger.cli import commands, gc, hosts, ledger_commands, run, status, views

    for command in (commands.wait, commands.cancel, commands.retry, commands.fetch):
        main.add_command(command)
    main.add_command(run.run_cmd)
    main.add_command(run.resume)
    main.add_command(status.status)
    main.add_command(hosts.hosts)
    main.add_command(gc.gc)
    ledger_commands.register(main)
    views.register(main)


_register_more()


def run_main() -> None:  # pragma: no cover - console entry helper
    """Entry point that never shows a traceback for our own errors."""
    main(prog_name="jobledger")


if __name__ == "__main__":  # pragma: no cover
    main(prog_name="jobledger")
