"""``jobledger hosts``: the configured hosts, and a connection check of one."""

from __future__ import annotations

import os
import posixpath
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobledger.errors import HostError, JobledgerError
from jobledger.project import Project

if TYPE_CHECKING:
    from jobledger.config import HostConfig
    from jobledger.hosts.base import Host


@click.group(invoke_without_command=True)
@click.pass_context
def hosts(ctx: click.Context) -> None:
    """List the hosts: configured ones, and the implicit ones of a scheduler on this
    machine's PATH (`hosts check NAME` tests one).

    Examples:

    \b
      jobledger hosts
      jobledger hosts check slurm
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from jobledger.cli.common import console
    from jobledger.config import LOCAL_HOST, load_config
    from jobledger.schedulers.registry import check_settings

    project = Project.find()
    config = load_config(project.root if project else None)
    check_settings(config)
    table = Table(header_style="bold")
    for column in ("host", "ssh", "scheduler", "workdir", "python", "max in flight", "defined in"):
        table.add_column(column)
    implicit = config.implicit_hosts()
    if implicit:
        from jobledger.hosts.local import LocalHost
        from jobledger.schedulers.detect import available

        here = available(LocalHost())
        implicit = {n: h for n, h in implicit.items() if h.scheduler in (*here, "auto")}
    all_hosts = {"local": LOCAL_HOST, **implicit, **config.hosts}
    for name, host in all_hosts.items():
        ssh = f"{host.ssh}" + (f":{host.port}" if host.port else "") if host.ssh else ""
        table.add_row(
            name,
            ssh,
            host.scheduler,
            host.workdir or "",
            host.python or "",
            str(host.max_in_flight or ""),
            host.source or "(built in)",
        )
    console().print(table)


@hosts.command("check")
@click.argument("name")
def hosts_check(name: str) -> None:
    """Connect to host NAME, find its scheduler commands and print their versions, and
    check that its workdir is writable (a probe file is created and removed there).

    Examples:

    \b
      jobledger hosts check cluster
      jobledger hosts check local
    """
    from jobledger.config import load_config
    from jobledger.hosts.factory import make_host
    from jobledger.schedulers.detect import detect_scheduler
    from jobledger.schedulers.registry import get_adapter

    project = Project.find()
    config = load_config(project.root if project else None)
    host_config = config.host(name)
    started = time.monotonic()
    host = make_host(host_config)
    try:
        user = host.user()
        click.echo(f"{name}: connected as {user} in {time.monotonic() - started:.2f}s")
        scheduler = host_config.scheduler
        detected = detect_scheduler(host)
        click.echo(f"{name}: scheduler configured: {scheduler}; detected: {detected}")
        effective = detected if scheduler == "auto" else scheduler
        if effective != "local":
            adapter = get_adapter(effective)
            result = host.run(adapter.version_argv(), timeout=60)
            version = (result.stdout or result.stderr).strip().splitlines()
            shown = version[0] if version else "(no output)"
            click.echo(f"{name}: {' '.join(adapter.version_argv())}: {shown}")
            for command in (
                _program(adapter.submit_argv("x")),
                _program(adapter.status_argv(None, ())),
                _program(adapter.cancel_argv(["1"])),
            ):
                where = host.which(command)
                click.echo(f"{name}: {command}: {where or 'NOT FOUND'}")
                if where is None:
                    raise JobledgerError(
                        f"host {name!r}: {command} not found on its PATH; install the "
                        f"{effective} client tools or fix PATH in the login environment"
                    )
        probe_dir = _check_workdir(name, host, host_config, project)
        click.echo(f"{name}: workdir {probe_dir}: writable")
        python = host_config.python or ("python3" if host_config.is_remote else sys.executable)
        result = host.run(
            [python, "-c", "import sys, cloudpickle; print(sys.version.split()[0])"], timeout=60
        )
        if result.ok:
            click.echo(f"{name}: python {python}: {result.stdout.strip()} (cloudpickle ok)")
        else:
            click.echo(
                f"{name}: python {python}: cannot run Python-function jobs "
                f"({(result.stderr or result.stdout).strip().splitlines()[-1:]})"
            )
    finally:
        host.close()


def _check_workdir(name: str, host: Host, config: HostConfig, project: Project | None) -> str:
    """Create and remove a probe file in the host's workdir (made if missing); the
    directory, or a :class:`HostError` naming host and path when it is not writable."""
    if config.is_remote:
        base = config.workdir or "jobledger"
        base = base[2:] if base.startswith("~/") else base
        if not posixpath.isabs(base):
            home = host.run(["sh", "-c", 'printf %s "$HOME"'], check=True).stdout.strip()
            base = posixpath.join(home, base)
    else:
        base = config.workdir or str(project.root if project else Path.cwd())
    probe = posixpath.join(base, f".jobledger-probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        host.makedirs([base])
        host.write_file(probe, b"jobledger hosts check\n")
        host.run(["rm", "-f", "--", probe], check=True)
    except (JobledgerError, OSError) as exc:
        detail = getattr(exc, "strerror", None) or str(exc)
        raise HostError(f"host {name!r}: workdir {base} is not writable: {detail}", name) from None
    return base


def _program(argv: list[str]) -> str:
    """The program an argv runs (past ``env`` and ``VAR=value`` words)."""
    for word in argv:
        if word != "env" and "=" not in word:
            return word
    return argv[0]
