"""Write the CLI reference (``docs/cli.md``) from the click commands themselves."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from jobledger.cli.main import main as cli


def _section(
    command: click.Command, path: list[str], out: list[str], parent: click.Context | None = None
) -> None:
    name = " ".join(path)
    out.append(f"## `{name}`\n")
    # a child of its group's context, as when run: it inherits -h
    ctx = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
    out.append("```text")
    out.append(command.get_help(ctx).replace(ctx.command_path, name))
    out.append("```\n")
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None:
                _section(sub, [*path, sub_name], out, ctx)


def render() -> str:
    """The whole reference as Markdown."""
    out = [
        "# CLI reference\n",
        "Generated from the commands by `make docs` (`python -m jobledger.cli.docgen docs/cli.md`).",
        "Every command finds the project upward from the current directory (like git), or",
        "takes `-C DIR` / `$JOBLEDGER_PROJECT`. Errors are one line on stderr and exit code 2.",
        "A damaged ledger (see `jobledger verify`) gives one `jobledger: warning:` line on stderr",
        "from every command that reads it; `jobledger status` then exits 4.\n",
    ]
    _section(cli, ["jobledger"], out)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    """``python -m jobledger.cli.docgen [FILE]``."""
    text = render()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
