"""``jobledger report``: one self-contained HTML file about a project's runs.

The page holds the DAG of each workflow, a timeline (Gantt) of every attempt per host
(queued, running, final), a table of jobs with the tail of stderr for failures, and
summary figures (wall time, CPU hours requested and used, reuse ratio). Styles and
scripts are inlined and a Content-Security-Policy forbids every load, so the file opens
offline, from a mail attachment or a git checkout on another machine.

It reads only the ledger and the run directories under the project root: no scheduler
is asked anything, so it works on a copy of the project made with ``git clone``.

For notebooks, :func:`status` returns a :class:`StatusReport` that renders as an HTML
summary and table (``_repr_html_``).
"""

from __future__ import annotations

from jobledger.view.report.common import ACTIVE, STDERR_LINES, fmt_duration, tail
from jobledger.view.report.notebook import StatusReport, status
from jobledger.view.report.page import build_report, write_report
from jobledger.view.report.summary import Summary, fmt_cpu_hours, reported_cpu, summarize
from jobledger.view.report.table import jobs_table, stderr_tails
from jobledger.view.report.timeline import timeline_svg

__all__ = [
    "ACTIVE",
    "STDERR_LINES",
    "StatusReport",
    "Summary",
    "build_report",
    "fmt_cpu_hours",
    "fmt_duration",
    "jobs_table",
    "reported_cpu",
    "status",
    "stderr_tails",
    "summarize",
    "tail",
    "timeline_svg",
    "write_report",
]
