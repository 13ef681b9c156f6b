"""Progress while waiting and the summary at the end, as a terminal (pexpect) and as a
pipe (CI logs, ``nohup``) show them."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pexpect

import jobledger as jl
from conftest import env_with_src
from jobledger.project import Project
from jobledger.session.progress import Counts, Progress, summary_lines

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAIN = re.compile(
    r"jobledger: (\d+) of 20 jobs done \((\d+)%\) · \d+ queued · \d+ running( · \d+ failed)? · \d+:\d\d"
)

MANY = """\
import jobledger as jl
jobs = [jl.Job(name=f"j{i:02d}", command="sleep 0.2" + ("; echo 'no such input' >&2; exit 4" if i == 13 else ""))
        for i in range(20)]
jl.run(jl.Workflow(jobs, name="many"), wait=True, check=False, max_parallel=4)
"""

FEW = """\
import jobledger as jl
jobs = [jl.Job(name=f"step{i}", command="sleep 1" + ("; exit 2" if i == 3 else "")) for i in range(6)]
jl.run(jl.Workflow(jobs, name="few"), wait=True, check=False, max_parallel=2)
"""


def test_progress_in_a_pipe_is_plain_lines_and_a_summary(project: Project) -> None:
    (project.root / "many.py").write_text(MANY)
    out = subprocess.run(
        [sys.executable, "many.py"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert not ANSI.search(out.stderr)
    lines = out.stderr.splitlines()
    progress = [m for line in lines if (m := PLAIN.fullmatch(line))]
    assert 1 <= len(progress) <= 10  # the first, then one per tenth at most (100% is the summary)
    done = [int(m.group(1)) for m in progress]
    assert done == sorted(done) and len({10 * d // 20 for d in done}) == len(done)
    summary = lines[len(progress) :]
    assert summary[0].startswith("jobledger: 20 jobs in 0:") and summary[0].endswith(
        ": 19 completed, 1 failed"
    )
    assert re.fullmatch(r"  j13: failed with exit code 4; stderr: jobs/j13-[0-9a-f]{8}/stderr", summary[1]), (
        summary
    )
    assert len(summary) == 2

    quiet = subprocess.run(
        [sys.executable, "many.py"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src() | {"JOBLEDGER_QUIET": "1"},
        timeout=120,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_progress_on_a_terminal_is_one_live_line_then_the_summary(project: Project) -> None:
    (project.root / "few.py").write_text(FEW)
    child = pexpect.spawn(
        sys.executable,
        ["few.py"],
        cwd=str(project.root),
        env=env_with_src(),
        encoding="utf-8",
        dimensions=(24, 80),
        timeout=60,
    )
    try:
        child.expect(pexpect.EOF)
        shown = str(child.before)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, shown
    assert "\x1b[2K" in shown  # the live line is redrawn in place ...
    pieces = [p for p in ANSI.sub("", shown).replace("\r\n", "\n").replace("\r", "\n").split("\n") if p]
    live = [
        p
        for p in pieces
        if re.fullmatch(r"\d of 6 jobs done \(\d+%\) · \d queued · \d running.* · 0:\d\d", p)
    ]
    assert len(live) >= 2 and any("2 running" in p for p in live)
    assert not any(p.startswith("jobledger: ") and "jobs done" in p for p in pieces)  # ... never a plain line
    assert all(len(p) <= 80 for p in pieces), [p for p in pieces if len(p) > 80]
    summary = pieces[pieces.index(next(p for p in pieces if " jobs in " in p)) :]
    assert summary[0].startswith("jobledger: 6 jobs in 0:") and summary[0].endswith("5 completed, 1 failed")
    assert re.fullmatch(
        r"  step3: failed with exit code 2; stderr: jobs/step3-[0-9a-f]{8}/stderr", summary[1]
    )
    assert len(summary) == 2  # the live line is gone


def _counts(done: int, total: int = 100) -> Counts:
    return Counts(total, queued=total - done, done=done)


def test_plain_progress_at_tenths_every_30_s_and_a_heartbeat() -> None:
    stream = io.StringIO()
    progress = Progress(100, stream=stream)
    for done in range(100):
        progress.update(_counts(done))
    progress.update(_counts(100))
    lines = stream.getvalue().splitlines()
    assert [line.split(" of ")[0] for line in lines] == [f"jobledger: {n}" for n in range(0, 100, 10)]

    stream = io.StringIO()
    progress = Progress(100, stream=stream)
    progress.update(_counts(0))
    progress.update(_counts(1))  # same tenth, too soon: nothing
    progress.PLAIN_EVERY = 0.0  # as if 30 s went by
    progress.update(_counts(2))  # changed: shown
    progress.update(_counts(2))  # nothing changed: not shown ...
    progress.HEARTBEAT = 0.0
    progress.update(_counts(2))  # ... until the heartbeat is due
    assert [line.split(" of ")[0] for line in stream.getvalue().splitlines()] == [
        "jobledger: 0",
        "jobledger: 2",
        "jobledger: 2",
    ]

    stream = io.StringIO()
    quiet = Progress(100, stream=stream, quiet=True)
    quiet.update(_counts(50))
    quiet.close(["summary"])
    assert stream.getvalue() == ""

    closed = io.StringIO()
    closed.close()
    gone = Progress(10, stream=closed)  # a closed log never breaks the wait
    gone.update(_counts(1, 10))
    gone.close(["summary"])


def test_summary_names_failed_array_elements_and_python_errors(project: Project) -> None:
    def explode(x: int) -> int:
        raise ValueError(f"bad input {x}\nsecond line")

    array = jl.Job(name="arr", command='[ "$JOBLEDGER_ARRAY_INDEX" != 2 ] || exit 5', array=4)
    boom = jl.Job(explode, name="boom", args=(3,))
    results = jl.run(jl.Workflow([array, boom], name="mixed"), wait=True, check=False, timeout=120)
    lines = summary_lines(results, 61.0)
    assert lines[0] == "jobledger: 2 jobs in 1:01: 2 failed"
    text = "\n".join(lines[1:])
    assert re.search(
        r"  arr: failed \(element 2 of 4\) with exit code 5; stderr: jobs/arr-[0-9a-f]{8}/2/stderr", text
    )
    assert re.search(r"  boom: failed with exit code \d+ \(ValueError: bad input 3\); stderr: ", text), text
    for line in lines[1:]:
        path = Path(line.rsplit("stderr: ", 1)[1])
        assert (project.root / path).is_file()
