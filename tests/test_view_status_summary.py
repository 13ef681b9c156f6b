"""``jobledger status`` of a big project summarises truthfully: counts by state per
workflow, failed and running jobs listed, the rest folded into "N more, use --all"; ``--all``
and ``--json`` still give every job."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from big_ledger import seed
from conftest import run_cli
from jobledger.view.status_summary import FOLD_AT, LISTED


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 300 jobs: 6 failed (every 40th of the first 260), 40 running, 254 completed
    return seed(tmp_path_factory.mktemp("summary") / "p", 300, failed_every=40, running=40)


def _counts(text: str) -> dict[str, int]:
    return {state: int(n.replace(",", "")) for n, state in re.findall(r"(\d[\d,]*) (\w+)", text)}


def test_status_summarises_what_json_lists_in_full(big: Path) -> None:
    assert 300 > FOLD_AT and LISTED < 40
    rows = json.loads(run_cli(big, "status", "--json", "--no-observe", check=True).stdout)
    assert len(rows) == 300 and len({r["key"] for r in rows}) == 300
    truth = Counter(r["state"] for r in rows)
    assert truth == {"completed": 254, "failed": 6, "running": 40}

    out = run_cli(big, "status", "--no-observe", check=True).stdout
    head = out.splitlines()[0]
    assert head.startswith("workflow big: 300 jobs: ")
    assert _counts(head.split("jobs: ", 1)[1]) == truth
    failed = [r["name"] for r in rows if r["state"] == "failed"]
    running = [r["name"] for r in rows if r["state"] == "running"]
    for name in failed + running[:LISTED]:  # every failure; the first LISTED running
        assert re.search(rf"│ {re.escape(name)} +│", out), name
    for name in running[LISTED:] + [r["name"] for r in rows if r["state"] == "completed"]:
        assert not re.search(rf"│ {re.escape(name)} +│", out), name
    fold = re.search(r"… ([\d,]+) more \(([^)]*)\), use --all to list every job", out)
    assert fold is not None, out
    assert int(fold.group(1)) == 300 - 6 - LISTED
    assert _counts(fold.group(2)) == {"completed": 254, "running": 40 - LISTED}
    assert "40 unfinished job(s) and no driver running" in out
    assert out.count("\n") < 80  # a summary, not 300 rows


def test_status_all_lists_every_job(big: Path) -> None:
    out = run_cli(big, "status", "--all", "--no-observe", check=True).stdout
    names = re.findall(r"│ ((?:sim|post)-\d+) +│", out)
    assert len(names) == 300 and len(set(names)) == 300
    assert "more, use --all" not in out


def test_json_streams_a_valid_array_one_job_per_line(big: Path) -> None:
    out = run_cli(big, "status", "--json", "-w", "big", "--no-observe", check=True).stdout
    lines = out.splitlines()
    assert len(lines) == 301 and lines[0].startswith("[{") and lines[-1] == "]"
    rows = json.loads(out)
    assert [r["name"] for r in rows[:2]] == ["sim-0", "sim-1"]
    assert {r["driver"] for r in rows} == {None}  # a workflow with running jobs and nobody driving
