"""Reading what Grid Engine prints: ``qsub`` job ids, ``qstat -xml`` documents, ``qacct``
records, ``qdel`` answers, task ranges and messages worth retrying.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # input is checked for DTDs/entities before parsing
from collections.abc import Iterable

from jobledger.errors import SchedulerError

_TERSE_RE = re.compile(r"^(\d+)(?:\.\d+-\d+:\d+)?$")
_VERBOSE_RE = re.compile(r"^Your job(?:-array)? (\d+)(?:\.\d+-\d+:\d+)? \(.*\) has been submitted")
_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
_RECORD_SEP_RE = re.compile(r"^={5,}\s*$", re.MULTILINE)
_DOES_NOT_EXIST_RE = re.compile(r'job "?\d+"?(?: task "?[\d,:-]+"?)? does not exist')
_CANCEL_OK_RE = re.compile(
    r"(has registered the job|has deleted job|has deleted job-array task"
    r"|is already in deletion|has registered the job-array task)"
)
_TRANSIENT_SGE = (
    "commlib error",
    "failed receiving gdi request",
    "can't connect to service",
    "got select error",
    "unable to contact qmaster",
    "unable to send message to qmaster",
    "qmaster is not alive",
)
_CTIME_FORMAT = "%a %b %d %H:%M:%S %Y"


def expand_task_ranges(text: str) -> Iterable[int]:
    """Task ids of a ``<tasks>`` value: ``'4'``, ``'2-10:1'``, ``'1,3,6'``, ``'1-5:2,9'``."""
    for part in text.split(","):
        match = _RANGE_RE.match(part.strip())
        if not match:
            raise SchedulerError(f"sge: cannot read task range {text!r}")
        start = int(match.group(1))
        end = int(match.group(2) or start)
        step = int(match.group(3) or 1)
        yield from range(start, end + 1, max(step, 1))


def _parse_xml(text: str) -> ET.Element:
    if not text.strip():
        raise SchedulerError("sge: qstat -xml printed nothing")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SchedulerError("sge: refusing qstat -xml output with a DTD or entities")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTD/entities refused above
    except ET.ParseError as exc:
        raise SchedulerError(f"sge: cannot parse qstat -xml output: {exc}") from None
    # Some versions put a default namespace on the root: compare local names only.
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
    return root


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _qacct_fields(chunk: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in chunk.splitlines():
        key, _, value = line.partition(" ")
        if key and value.strip():
            fields[key] = value.strip()
    return fields


def _leading_int(text: str) -> int | None:
    match = re.match(r"\s*(-?\d+)", text)
    return int(match.group(1)) if match else None
