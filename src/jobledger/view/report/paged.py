"""The report's table of many jobs as data: the rows travel as JSON columns that the page's
script (assets/report.js) turns back into rows and draws a page at a time, so a 10,000-job
report stays small and opens fast.

Each field of :data:`FIELDS` is one entry of ``{"n": rows, "c": {field: column}}``, a
column being ``{"list": [value per row]}``, ``{"values": [...], "codes": [index per row]}``
(few distinct values: states, hosts, clock times), ``{"values": [...], "chars": text}``
(at most :data:`CHARS` distinct values: the index of row ``r``'s value is the position
of its character ``text[r]`` in :data:`CHARS`) or ``{"like": field, "at": {row: value}}``
(the value of another field, or ``""`` when ``like`` is ``""``, but where listed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from jobledger.view.graph import colours

#: The fields of each row of data, in order (read by report.js).
FIELDS = ("ident", "name", "workflow", "state", "label", "exit", "attempts", "elapsed",
          "runtime", "host", "scheduler_id", "started", "clock", "details", "key")  # fmt: skip
#: How each field travels (see the module's documentation).
_CODED = ("workflow", "state", "exit", "runtime", "host", "clock")
_LIKE = {"ident": "name", "label": "state", "details": ""}
#: Fields of a value per job (not worth looking for few values).
_UNIQUE = ("name", "scheduler_id", "key")
#: The characters that stand for the values of a column of few values (none that JSON
#: escapes).
CHARS = "".join(chr(c) for c in range(35, 127) if c != 92)
_TO_CHARS = bytes(range(256)).translate(bytes.maketrans(bytes(range(len(CHARS))), CHARS.encode("ascii")))


def coded(values: Sequence[Any], distinct: dict[Any, None] | None = None) -> dict[str, Any]:
    """A column of few distinct values: each once, and each row's index among them (as
    characters of :data:`CHARS` when there are few enough). ``distinct``: the values once
    each, when already known."""
    table = {value: i for i, value in enumerate(dict.fromkeys(values) if distinct is None else distinct)}
    codes = map(table.__getitem__, values)
    if len(table) <= len(CHARS):
        return {"values": list(table), "chars": bytes(codes).translate(_TO_CHARS).decode("ascii")}
    return {"values": list(table), "codes": list(codes)}


def like(values: Sequence[Any], base: Sequence[Any] | None) -> dict[str, Any]:
    """A column equal to ``base`` (or ``""`` everywhere) but at a few rows."""
    if base is None:
        at = {str(p): v for p, v in enumerate(values) if v != ""}
    elif values == base or list(values) == list(base):
        at = {}
    else:
        at = {str(p): v for p, (v, b) in enumerate(zip(values, base, strict=True)) if v != b}
    return {"at": at}


def encode_columns(columns: Mapping[str, Sequence[Any]]) -> str:
    """The JSON of the rows of ``columns`` (one sequence per field of :data:`FIELDS`, each
    as long), ``<`` escaped so that the script element cannot be closed by a job's text."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        values = columns[field]
        if field in _CODED:
            out[field] = coded(values)
        elif field in _LIKE:
            base = _LIKE[field]
            out[field] = {"like": base, **like(values, columns[base] if base else None)}
        elif field not in _UNIQUE and len(distinct := dict.fromkeys(values)) <= len(CHARS):
            out[field] = coded(values, distinct)
        else:
            out[field] = {"list": list(values)}
    rows = len(columns[FIELDS[0]])
    return json.dumps({"n": rows, "c": out}, separators=(",", ":")).replace("<", "\\u003c")


def paged_table(columns: Mapping[str, Sequence[Any]], several: bool, page_rows: int) -> str:
    """The toolbar, an empty table and the rows as data (``columns``: one sequence of
    values per field of :data:`FIELDS`)."""
    heads = ["job", *(["workflow"] if several else []), "state", "exit", "attempts", "runtime",
             "host", "scheduler id", "started", "details"]  # fmt: skip
    blob = encode_columns(columns)
    badges = {state: colours(state) for state in sorted({str(s) for s in columns["state"]})}
    palette = escape(json.dumps(badges, separators=(",", ":")))
    return "".join(
        [
            '<div class="toolbar"><input id="job-search" type="search" placeholder="filter jobs by name">',
            ' <button type="button" id="page-prev">‹ previous</button>',
            ' <span id="page-info"></span>',
            ' <button type="button" id="page-next">next ›</button></div>',
            '<div class="scroll" style="max-height:70vh">',
            f'<table class="jobs paged" id="jobs-table" data-page-rows="{page_rows}" '
            f'data-several="{int(several)}" data-colours="{palette}"><thead><tr>',
            "".join(f"<th>{escape(h)}</th>" for h in heads),
            "</tr></thead><tbody></tbody></table></div>",
            f'<script type="application/json" id="jobs-data">{blob}</script>',
        ]
    )
