"""The reduced state as plain data for the snapshot cache, and back.

Job records are packed one by one and decoded on first use (:class:`~.lazy.LazyJobs`), so
opening a 250,000-job project from its snapshot does not build every record up front.
"""

from __future__ import annotations

from typing import Any

from jobledger.ledger.event_codec import decode_spec, encode
from jobledger.ledger.lazy import LazyJobs, packed_jobs
from jobledger.ledger.records import JobRecord, WorkflowRecord
from jobledger.ledger.reducer import Model


def _dump_job(job: JobRecord) -> list[Any]:
    return job.to_row(encode)


def _load_job(row: Any) -> JobRecord:
    return JobRecord.from_row(row, decode_spec)


def model_to_plain(model: Model) -> dict[str, Any]:
    """Everything of ``model`` as msgpack-ready data."""
    return {
        "workflows": [w.to_row() for w in model.workflows.values()],
        "writers": model.writers,
        "problems": model.problems,
        "staged": {h: {p: [d, list(o)] for p, (d, o) in files.items()} for h, files in model.staged.items()},
        "max_clock": model.max_clock,
        "jobs": packed_jobs(model.jobs, _dump_job),
    }


def model_from_plain(data: dict[str, Any]) -> Model:
    """Inverse of :func:`model_to_plain` (job records stay packed until used)."""
    model = Model()
    model.workflows = {row[0]: WorkflowRecord.from_row(row) for row in data["workflows"]}
    model.writers = data["writers"]
    model.problems = list(data["problems"])
    model.staged = {
        h: {p: (d, (o[0], o[1], o[2])) for p, (d, o) in files.items()} for h, files in data["staged"].items()
    }
    model.max_clock = int(data["max_clock"])
    model.jobs = LazyJobs(data["jobs"], _load_job, _dump_job)
    return model
