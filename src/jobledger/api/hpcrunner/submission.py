"""``Job.submit()``: run one job now, as its own small workflow, through the Session.

To an hpc-runner user ``submit()`` means "run this now": a job that completed before is
run again (a forced re-run of that job only; the jobs it depends on are references to
what the ledger holds, never defined again). ``reuse=True`` asks for jobledger's own rule
instead: a job whose key completed is not run again.
"""

from __future__ import annotations

from typing import Any

from jobledger.api.hpcrunner.detection import scheduler_for_host, scheduler_object
from jobledger.api.hpcrunner.results import JobResult
from jobledger.api.hpcrunner.schedulers import LedgerScheduler


def chosen_scheduler(job: Any, scheduler: Any) -> Any:
    """The scheduler object for ``job``: the one given (name or object), else the one of
    the host the job names, else the detected one."""
    host = getattr(job, "host", None)
    if scheduler is None and host not in (None, "local"):
        return scheduler_for_host(str(host))
    return scheduler_object(scheduler)


def submit_job(
    job: Any, scheduler: Any = None, *, interactive: bool = False, reuse: bool = False
) -> JobResult:
    """``Job.submit()``: run ``job`` now on ``scheduler`` (a name, a scheduler object, or
    ``None``: the job's own ``host`` if it names one, else detected); returns a
    :class:`JobResult`. ``interactive=True`` blocks until the job ended; ``reuse=True``
    returns its earlier run when that completed. A scheduler object of your own gets
    ``submit(job)``."""
    chosen = chosen_scheduler(job, scheduler)
    if not isinstance(chosen, LedgerScheduler):
        result: JobResult = chosen.submit(job, interactive=True) if interactive else chosen.submit(job)
        return result
    return chosen.submit(job, interactive=interactive, reuse=reuse)
