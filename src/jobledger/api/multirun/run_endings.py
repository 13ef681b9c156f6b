"""How a run of a sweep takes the end of its element of the array job: the result, exit
code, reason and output tails recorded on the :class:`~jobledger.api.multirun.runs.Run`,
links to the element's stdout and stderr in the run folder, and the run's future settled.

:class:`~jobledger.api.multirun.cluster.ClusterRunner` calls these as its elements end.
"""

from __future__ import annotations

from jobledger.api.multirun.files import _symlink
from jobledger.api.multirun.layout import STDERR_LINK, STDERR_TAIL, STDOUT_LINK
from jobledger.api.multirun.runs import Run
from jobledger.session.results import Result
from jobledger.states import JobState


def _settle(record: Run) -> None:
    if record.task is not None and not record.task.done():
        record.task.set_result(record)


def _finish(record: Run, element: Result, state: JobState) -> None:
    record.job = element
    record.exit_code = element.exit_code
    record.reason = element.reason
    record.status = "success" if state is JobState.COMPLETED else "failure"
    record.stdout = element.read_stdout(STDERR_TAIL)
    record.stderr = element.read_stderr(STDERR_TAIL)
    if record.status == "failure" and not record.stderr.strip():
        record.stderr = element.reason or f"ended {state.value}"
    record.reload()
    for link, target in ((STDOUT_LINK, element.stdout_path), (STDERR_LINK, element.stderr_path)):
        try:
            if target.exists():
                _symlink(target, record.cwd / link)
        except OSError:
            pass
