"""The report's table of many jobs as data: the rows travel as one JSON array that the page's
script (assets/report.js) draws a page at a time, so a 10,000-job report stays small and
opens fast."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from jobledger.view.graph import colours

#: The fields of each row of data, in order (read by report.js).
FIELDS = ("ident", "name", "workflow", "state", "label", "exit", "attempts", "elapsed",
          "runtime", "host", "scheduler_id", "started", "clock", "details", "key")  # fmt: skip


def paged_table(data: Sequence[Sequence[Any]], several: bool, page_rows: int) -> str:
    """The toolbar, an empty table and the rows as data (``<`` escaped in the JSON so the
    script element cannot be closed by a job's text)."""
    heads = ["job", *(["workflow"] if several else []), "state", "exit", "attempts", "runtime",
             "host", "scheduler id", "started", "details"]  # fmt: skip
    blob = json.dumps(list(data), separators=(",", ":")).replace("<", "\\u003c")
    badges = {state: colours(state) for state in sorted({str(row[3]) for row in data})}
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
