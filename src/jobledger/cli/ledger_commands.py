"""``jobledger log`` and ``jobledger verify``: the event log itself, and its integrity."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from typing import Any

import click

from jobledger.cli.common import open_project


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


@click.command()
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


@click.command()
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


def register(main: click.Group) -> None:
    """Add ``log`` and ``verify`` to the ``jobledger`` group."""
    main.add_command(log)
    main.add_command(verify)
