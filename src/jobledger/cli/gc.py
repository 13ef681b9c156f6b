"""``jobledger gc``: remove what no record of the ledger refers to under ``jobs/``.

It never touches a run directory the ledger names (a job's, or any of its attempts'):
only directories of jobs the ledger does not know (left by a run whose ledger segments
were not kept, or by a ``git checkout`` of an older history) and ``attempt-N`` folders of
attempts the ledger does not know. Entries changed recently are left alone: a script
may be defining its jobs right now.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import click

from jobledger.cli.common import open_project
from jobledger.project import Project, writing

_ATTEMPT = re.compile(r"attempt-(\d+)")


def referenced(project: Project) -> tuple[set[str], dict[str, set[int]]]:
    """Run directories the ledger names (project-relative), and each one's attempt numbers."""
    dirs: set[str] = set()
    attempts: dict[str, set[int]] = {}
    for job in project.ledger.model.jobs.values():
        base = job.spec.run_dir if job.spec is not None else None
        if base:
            dirs.add(base)
            attempts.setdefault(base, set()).update(job.attempts)
        for number, att in job.attempts.items():
            if att.run_dir:
                top = "/".join(att.run_dir.split("/")[:2])
                dirs.add(top)
                attempts.setdefault(top, set()).add(number)
    return dirs, attempts


def garbage(project: Project, min_age: float) -> list[Path]:
    """Entries under ``jobs/`` that no ledger record refers to, older than ``min_age`` s."""
    jobs = project.jobs_dir
    if not jobs.is_dir():
        return []
    dirs, attempts = referenced(project)
    cutoff = time.time() - min_age
    out: list[Path] = []
    for entry in sorted(jobs.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        relative = f"jobs/{entry.name}"
        if relative not in dirs:
            if _newest(entry) <= cutoff:
                out.append(entry)
            continue
        known = attempts.get(relative, set())
        for sub in sorted(entry.iterdir()):
            match = _ATTEMPT.fullmatch(sub.name)
            if match and sub.is_dir() and int(match.group(1)) not in known and _newest(sub) <= cutoff:
                out.append(sub)
    return out


def _newest(path: Path) -> float:
    newest = path.lstat().st_mtime
    for sub in path.rglob("*"):
        try:
            newest = max(newest, sub.lstat().st_mtime)
        except FileNotFoundError:
            continue
    return newest


def _size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


@click.command()
@click.option("--yes", is_flag=True, help="Remove them (without it, only list them).")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Leave entries changed less than this many seconds ago.",
)
@click.pass_context
def gc(ctx: click.Context, yes: bool, min_age: float) -> None:
    """List (or with --yes remove) what no ledger record refers to under jobs/.

    Never touches a run directory the ledger names: only directories of jobs the
    ledger does not know and attempt-N folders of attempts it does not know.

    Examples:

    \b
      jobledger gc
      jobledger gc --yes
    """
    project = open_project(ctx)
    found = garbage(project, min_age)
    total_files = total_bytes = 0
    verb = "removed" if yes else "would remove"
    for path in found:
        files, size = _size(path)
        total_files += files
        total_bytes += size
        relative = path.relative_to(project.root)
        if yes:
            with writing(path, "run directory"):
                shutil.rmtree(path)
        click.echo(f"{verb} {relative}/ ({files} files, {size} bytes)")
    click.echo(f"{verb} {len(found)} folder(s), {total_files} files, {total_bytes} bytes no record uses")
    if found and not yes:
        click.echo("run `jobledger gc --yes` to remove them")
