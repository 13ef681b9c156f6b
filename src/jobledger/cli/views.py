"""CLI commands that show a project's runs: ``graph`` and ``report``.

Both read only the ledger and the run directories (no scheduler is asked), so they work
on a git checkout of the project on another machine.
"""

from __future__ import annotations

from pathlib import Path

import click

from jobledger.project import Project

_SUFFIX_FORMATS = {
    ".svg": "svg",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}


def _project(ctx: click.Context) -> Project:
    from jobledger.cli.common import open_project

    return open_project(ctx)


def _workflows(project: Project, names: tuple[str, ...]) -> list[str]:
    from jobledger.cli.status import known_workflows

    return known_workflows(project, names)


@click.command("graph")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["svg", "dot", "mermaid"]),
    default=None,
    help="Output format (default: from the -o suffix .svg/.dot/.gv/.mmd, else dot).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--workflow", "-w", multiple=True, help="Only these workflows (default: all).")
@click.option(
    "--full/--grouped",
    default=None,
    help="Every job as its own node / jobs grouped by name pattern "
    "(default: grouped when more than 100 jobs).",
)
@click.pass_context
def graph_cmd(
    ctx: click.Context, fmt: str | None, output: str | None, workflow: tuple[str, ...], full: bool | None
) -> None:
    """Draw the workflow DAG: nodes coloured by state, arrays as one node, cross-host edges marked.

    Past 100 jobs the graph is collapsed: jobs whose names differ only in their numbers
    (sim-1 .. sim-5000) are one node, sim-*, counting its jobs by state, with one edge
    between groups; `--full` draws every job.

    SVG is laid out in Python (no Graphviz needed); `--format dot` feeds Graphviz,
    `--format mermaid` pastes into Markdown.

    Examples:

    \b
      jobledger graph -o dag.svg
      jobledger graph -w sweep --format mermaid
      jobledger graph | dot -Tpng > dag.png
      jobledger graph --full -o every-job.svg
    """
    from jobledger.view.graph import render
    from jobledger.view.graph.groups import collapsed_graph

    project = _project(ctx)
    names = _workflows(project, workflow)
    if fmt is None:
        fmt = _SUFFIX_FORMATS.get(Path(output).suffix.lower(), "dot") if output else "dot"
    text = render(collapsed_graph(project.ledger.state, names, full), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {fmt} graph of {', '.join(names) or 'no workflow'} to {output}", err=True)


@click.command("report")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="report.html",
    show_default=True,
    help="The HTML file to write.",
)
@click.option("--workflow", "-w", multiple=True, help="Only these workflows (default: all).")
@click.pass_context
def report_cmd(ctx: click.Context, output: str, workflow: tuple[str, ...]) -> None:
    """Write one self-contained HTML report: DAG, timeline per host, jobs, stderr of failures.

    The file loads nothing from the network (styles and script are inlined).

    Examples:

    \b
      jobledger report
      jobledger report -w sweep -o sweep.html
    """
    from jobledger.cli.status import known_workflows
    from jobledger.view.report import write_report

    project = _project(ctx)
    known = project.ledger.state.workflows()
    names = known_workflows(project, workflow, known)
    path = write_report(project, output, names, known=known)
    click.echo(f"wrote report of {', '.join(names) or 'no workflow'} to {path}")


def register(main: click.Group) -> None:
    """Add ``graph`` and ``report`` to the ``jobledger`` group."""
    main.add_command(graph_cmd)
    main.add_command(report_cmd)
