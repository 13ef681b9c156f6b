"""Reading ``qstat -f`` output in its three forms (JSON, Torque XML, text) and the attribute
values in it (numbers, times, ``Variable_List`` entries)."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

_ATTR_RE = re.compile(r"^ {4}(?P<name>[A-Za-z_][\w.]*) = ?(?P<value>.*)$")
_JOB_HEAD_RE = re.compile(r"^Job Id: (?P<id>\S+)\s*$")
_BAD_ESCAPE_RE = re.compile(r'\\(?!["\\/bfnrtu])')


def parse_qstat(stdout: str) -> dict[str, dict[str, Any]]:
    """Attributes of every job in ``qstat -f`` output, keyed by the printed job id.

    Accepts the three forms PBS prints: ``-F json`` (PBS Pro >= 19), the Torque ``-x``
    XML document, and the classic text form with its wrapped values. Text values are
    unwrapped: a tab continuation (or its space-expanded copy) is glued on as is; a line
    with less indent is a raw newline inside the value (an exported bash function in
    ``Variable_List``, a multi-line ``sched_hint``). Only ``Job Id:`` starts a job.
    """
    text = stdout.lstrip("\ufeff")
    head = text.lstrip()
    if head.startswith("{"):
        return _parse_json(head)
    if head.startswith("<"):
        return _parse_xml(head)
    return _parse_text(text)


def _parse_json(text: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError:
        # Some PBS versions print Variable_List values with unescaped backslashes.
        data = json.loads(_BAD_ESCAPE_RE.sub(r"\\\\", text), strict=False)
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else {}
    return {str(k): dict(v) for k, v in jobs.items() if isinstance(v, dict)}


def _parse_xml(text: str) -> dict[str, dict[str, Any]]:
    # The text is our own qstat's output, not untrusted input; ElementTree does not
    # resolve external entities.
    root = ET.fromstring(text)  # noqa: S314
    out: dict[str, dict[str, Any]] = {}
    for job in root.iter("Job"):
        attrs: dict[str, Any] = {}
        for child in job:
            if len(child):
                attrs[child.tag] = {sub.tag: (sub.text or "") for sub in child}
            else:
                attrs[child.tag] = child.text or ""
        job_id = str(attrs.get("Job_Id", "")).strip()
        if job_id:
            out[job_id] = attrs
    return out


def _parse_text(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    attrs: dict[str, Any] | None = None
    name = ""
    for line in text.splitlines():
        head = _JOB_HEAD_RE.match(line)
        if head:
            attrs = out.setdefault(head.group("id"), {})
            name = ""
            continue
        if attrs is None or not line.strip():
            continue
        attr = _ATTR_RE.match(line)
        if attr:
            name = attr.group("name")
            attrs[name] = attr.group("value")
        elif name:
            if line.startswith("\t"):
                attrs[name] += line[1:]
            elif line.startswith("    "):  # a tab expanded to spaces by a copy
                attrs[name] += line.lstrip(" ")
            else:  # a raw newline inside the value
                attrs[name] += "\n" + line
    return out


def _get(attrs: Mapping[str, Any], *names: str) -> Any:
    """First present attribute; ``a.b`` also looks into a nested JSON/XML ``a``."""
    for name in names:
        if name in attrs:
            return attrs[name]
        head, dot, tail = name.partition(".")
        nested = attrs.get(head)
        if dot and isinstance(nested, Mapping) and tail in nested:
            return nested[tail]
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> float | None:
    """Seconds since the epoch from ``1522939183`` or ``Fri Aug 20 23:14:08 2021``."""
    text = _text(value)
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        return time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    except (ValueError, OverflowError):
        return None


def _variable(attrs: Mapping[str, Any], name: str) -> str:
    """One variable of ``Variable_List`` (a JSON object or a ``A=b,C=d`` string)."""
    variables = attrs.get("Variable_List")
    if isinstance(variables, Mapping):
        return _text(variables.get(name))
    if isinstance(variables, str):
        m = re.search(rf"(?:^|,){re.escape(name)}=([^,\n]*)", variables)
        return m.group(1).strip() if m else ""
    return ""
