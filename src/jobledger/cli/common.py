"""What every ``jobledger`` command shares: the project of ``-C``, the console, exit codes."""

from __future__ import annotations

import os
import sys

import click
from rich.console import Console

from jobledger.project import Project


def console(stderr: bool = False) -> Console:
    """A rich console (plain and wide when not a terminal)."""
    stream = sys.stderr if stderr else sys.stdout
    # piped output is read by programs and pagers: never squeeze it to a terminal width
    width = None if stream.isatty() else max(200, int(os.environ.get("COLUMNS", "0") or 0))
    return Console(stderr=stderr, highlight=False, width=width)


#: ``jobledger status`` exits with this code when the ledger is damaged.
EXIT_DAMAGED = 4


def open_project(ctx: click.Context) -> Project:
    """The project named by ``-C`` or found upward from the cwd."""
    start = ctx.obj.get("project_dir") if ctx.obj else None
    return Project.open(start)
