"""A live status bar of a runner's sweep: :func:`display_status`."""

from __future__ import annotations

from typing import Any

from jobledger.api.multirun.cluster import ClusterRunner
from jobledger.api.multirun.runners import AbstractRunner
from jobledger.api.multirun.runs import RunStatistics

#: How long a display waits for a sweep to start on an idle runner (seconds).
_START_PATIENCE = 1.0


async def display_status(
    runner: AbstractRunner, *, refresh: float = 0.2, console: Any = None
) -> RunStatistics:
    """Show a live status bar of ``runner``'s sweep until every run is complete.

    Run it next to the sweep::

        await asyncio.gather(multirun_async(..., runner=r), display_status(r))

    It redraws when a run changes state (and every ``refresh`` seconds for the elapsed
    time); a runner that starts no sweep within a second ends it. Returns the final
    statistics.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def describe(stats: RunStatistics) -> str:
        return (
            f"[green]{stats.success_count} ok[/] [red]{stats.failure_count} failed[/] "
            f"[dim]{stats.skipped_count} skipped[/] [cyan]{stats.running_count} running[/] "
            f"{stats.pending_count} pending"
        )

    progress = Progress(
        TextColumn("[bold]runs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console if console is not None else Console(stderr=True),
    )
    stats = runner.compute_statistics()
    task = progress.add_task(describe(stats), total=max(stats.total_count, 1))
    seen_active = runner.active
    if isinstance(runner, ClusterRunner):
        runner.progress = False  # this bar shows the progress: no second one from the wait
    with progress:
        while True:
            stats = runner.compute_statistics()
            seen_active = seen_active or runner.active
            progress.update(
                task,
                total=max(stats.total_count, 1),
                completed=stats.complete_count,
                description=describe(stats),
            )
            if not runner.active and stats.complete_count == stats.total_count:
                if seen_active or not await runner.changed(timeout=_START_PATIENCE):
                    break  # done, or no sweep came to show
                continue
            await runner.changed(timeout=refresh if refresh > 0 else None)
    return stats


displayStatus = display_status  # noqa: N816 - Karana's spelling
