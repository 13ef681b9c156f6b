"""Every command answers ``-h`` as ``--help``, and its help shows an example."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from jobledger.cli.main import main


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_paths(command, (*prefix, name)))
    return found


COMMANDS = [(), *_paths(main)]


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "jobledger" for p in COMMANDS])
def test_help_has_short_option_and_an_example(path: tuple[str, ...]) -> None:
    short = CliRunner().invoke(main, [*path, "-h"])
    long = CliRunner().invoke(main, [*path, "--help"])
    assert short.exit_code == 0, short.output
    assert short.output == long.output
    assert "Example" in short.output, f"jobledger {' '.join(path)} -h shows no example"
    assert f"jobledger {' '.join(path)}".strip() in short.output.split("Example", 1)[1]
