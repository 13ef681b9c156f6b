"""``jobledger report``: a real 50-job run with failures and retries, checked as HTML and in Chromium.

The workflow runs once per module on the local backend (two host aliases, both local):
30 simulations (two fail on purpose), 6 flaky jobs with ``retries=2`` that count their
attempts in a file (five succeed on attempt 2 or 3, one never does), an array with one
failing element, merges that end ``dependency_failed``, and jobs on a second host.

The browser test drives headless Chromium over its DevTools protocol on a pipe
(``--remote-debugging-pipe``: stdlib only, no websocket package), so it sees every console
message, exception and network request. Set ``JOBLEDGER_SCREENSHOT_DIR`` to keep the
screenshots (docs/img/ is made that way).
"""

from __future__ import annotations

import base64
import fcntl
import html.parser
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobledger as jl
from conftest import env_with_src
from jobledger.project import Project
from jobledger.session.registry import _SESSIONS, forget_session
from jobledger.view.report import StatusReport, build_report, status, summarize, write_report
from jobledger.view.status import status_rows
from services import chromium_path, require

WORKFLOW = "fifty"
FAILING_SIMS = (7, 19)


# ----------------------------------------------------------------------------- the workflow
def _flaky_command(counter: Path, name: str, succeed_on: int) -> str:
    """Fails until its attempt counter (a file) reaches ``succeed_on``."""
    return (
        f"n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; "
        f'if [ $n -lt {succeed_on} ]; then echo "{name}: transient error on try $n" >&2; exit 1; fi; '
        f'echo "{name} ok on try $n"'
    )


def fifty_jobs(root: Path) -> jl.Workflow:
    """The 50-job workflow (see the module docstring)."""
    counters = root / "counts"
    counters.mkdir(exist_ok=True)
    setup = jl.Job(name="setup", command="echo preparing; sleep 0.1", cpus=1, time="2m")
    sims = []
    for i in range(30):
        if i in FAILING_SIMS:
            cmd = f'echo "sim {i}: step 1"; echo "sim {i}: diverged at step 42" >&2; exit 2'
        else:
            cmd = f"echo sim {i}; sleep 0.{(i * 7) % 10 // 3}"
        sims.append(jl.Job(name=f"sim_{i:02d}", command=cmd, after=[setup], cpus=1, time="5m"))
    flaky = [
        jl.Job(
            name=f"flaky_{i}",
            command=_flaky_command(counters / f"flaky_{i}", f"flaky_{i}", 2 + i % 2 if i < 5 else 99),
            after=[setup],
            retries=2,
            retry_on={"failed"},
        )
        for i in range(6)
    ]
    scan = jl.Job(
        name="scan",
        command='echo "scan $JOBLEDGER_ARRAY_INDEX"; '
        'if [ "$JOBLEDGER_ARRAY_INDEX" = 4 ]; then echo "bad input 4" >&2; exit 3; fi',
        array=6,
        after=[setup],
    )
    merge_a = jl.Job(name="merge_a", command="echo merge a", after=sims[:15])
    merge_b = jl.Job(name="merge_b", command="echo merge b", after=sims[15:])
    merge_f = jl.Job(name="merge_f", command="echo merge f; sleep 0.1", after=flaky[:5])
    posts = [
        jl.Job(name=f"post_{i}", command=f"echo post {i}; sleep 0.2", after=[merge_f], host="other")
        for i in range(5)
    ]
    collect = jl.Job(name="collect", command="echo collect", after=[scan])
    summary = jl.Job(
        name="summary",
        command="echo summary",
        after=[jl.Dependency(merge_a, "afterany"), jl.Dependency(merge_b, "afterany")],
    )
    notify = jl.Job(name="notify", command="echo notify", after=[jl.Dependency(flaky[5], "afterany")])
    final = jl.Job(name="final", command="echo final", after=posts)
    return jl.Workflow([final, summary, collect, notify, *sims], name=WORKFLOW)


@pytest.fixture(scope="module")
def fifty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project holding one finished run of :func:`fifty_jobs`."""
    root = tmp_path_factory.mktemp("report") / "proj"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JOBLEDGER_USER_CONFIG", str(root.parent / "no-user-config.toml"))
        for var in (
            "JOBLEDGER_PROJECT",
            "JOBLEDGER_HOST",
            "JOBLEDGER_FORCE",
            "JOBLEDGER_MAX_PARALLEL",
            "HPC_SCHEDULER",
        ):
            mp.delenv(var, raising=False)
        project = Project.init(root)
        (root / "jobledger.toml").write_text('[hosts.other]\nscheduler = "local"\n')
        mp.chdir(root)
        workflow = fifty_jobs(root)
        assert len(workflow) == 50
        jl.run(workflow, wait=True, check=False, timeout=120, max_parallel=4)
        for root in [r for r in _SESSIONS if r == project.root]:
            session = _SESSIONS[root]
            session.finish()
            forget_session(session.project)
        yield project
        project.close()


def _attempts(project: Project) -> int:
    """Attempts the ledger knows (submitted or final), counted without the report's code."""
    state = project.ledger.state
    return sum(1 for job in state.jobs(WORKFLOW) for a in job.attempts if a.submitted_at or a.state.is_final)


class _Collect(html.parser.HTMLParser):
    """Tags and attributes of a page (to count bars and find anything that would load)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(text: str) -> _Collect:
    parser = _Collect()
    parser.feed(text)
    return parser


# ----------------------------------------------------------------------------- plain HTML
def test_the_run_went_as_designed(fifty: Project) -> None:
    rows = {r["name"]: r for r in status_rows(fifty.ledger.state, [WORKFLOW])}
    assert len(rows) == 50
    states = {name: r["state"] for name, r in rows.items()}
    assert [n for n, s in sorted(states.items()) if s == "failed"] == ["flaky_5", "scan", "sim_07", "sim_19"]
    assert sorted(n for n, s in states.items() if s == "dependency_failed") == [
        "collect",
        "merge_a",
        "merge_b",
    ]
    assert [len(rows[f"flaky_{i}"]["attempts"]) for i in range(6)] == [2, 3, 2, 3, 2, 3]
    counters = [int((fifty.root / "counts" / f"flaky_{i}").read_text()) for i in range(6)]
    assert counters == [2, 3, 2, 3, 2, 3]
    assert _attempts(fifty) == 59
    assert {rows[f"post_{i}"]["host"] for i in range(5)} == {"other"}


def test_report_is_self_contained_with_one_bar_per_attempt(fifty: Project) -> None:
    page = build_report(fifty.ledger.state, fifty.root, [WORKFLOW])
    parsed = _parse(page)
    for tag, attrs in parsed.tags:  # nothing that could load: no src, no href, no <link>
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert "http-equiv" in page and "default-src 'none'" in page
    bars = [a for tag, a in parsed.tags if "data-attempt" in a]
    assert len(bars) == _attempts(fifty) == 59
    by_job: dict[str, list[str]] = {}
    for attrs in bars:
        by_job.setdefault(str(attrs["data-name"]), []).append(str(attrs["data-attempt"]))
    assert by_job["flaky_1"] == ["1", "2", "3"] and by_job["sim_00"] == ["1"]
    assert {a["data-host"] for a in bars} == {"local", "other"}
    # table: one row per job, stderr tails of failures, DAG with 50 nodes and cross-host edges
    assert sum(1 for tag, a in parsed.tags if tag == "tr" and a.get("class") == "job") == 50
    assert "sim 7: diverged at step 42" in page and "sim 19: diverged at step 42" in page
    assert "bad input 4" in page and "flaky_5: transient error on try 3" in page
    nodes = [a for tag, a in parsed.tags if tag == "g" and a.get("class") == "node"]
    assert len(nodes) == 50
    assert sum(1 for tag, a in parsed.tags if tag == "path" and "cross-host" in (a.get("class") or "")) == 10


def test_summary_figures(fifty: Project) -> None:
    state = fifty.ledger.state
    rows = status_rows(state, [WORKFLOW])
    summary = summarize(state, rows)
    assert summary.jobs == 50 and summary.done == 50 and summary.failed == 7
    assert summary.attempts == 59 and summary.retried_jobs == 6 and summary.reused_jobs == 0
    assert summary.wall_time is not None and 0 < summary.wall_time < 120
    # requested: setup 2 min + 30 sims x 5 min, one core each (attempts that never ran excluded)
    assert summary.cpu_hours_requested == pytest.approx((120 + 30 * 300) / 3600)
    assert 0 < summary.cpu_hours_allocated < summary.cpu_hours_requested


def test_report_from_a_copy_of_the_project(fifty: Project, tmp_path: Path) -> None:
    """What `git clone` gives on another machine: ledger, config and run directories, no cache."""
    copy = tmp_path / "clone"
    shutil.copytree(fifty.root / ".jobledger" / "ledger", copy / ".jobledger" / "ledger")
    shutil.copytree(fifty.root / "jobs", copy / "jobs")
    shutil.copy(fifty.root / "jobledger.toml", copy / "jobledger.toml")
    out = subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", "-C", str(copy), "report", "-o", "out/report.html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert len([a for _, a in _parse(page).tags if "data-attempt" in a]) == 59
    assert "sim 7: diverged at step 42" in page
    # without run directories (not fetched, or ignored by git) the report still builds
    shutil.rmtree(copy / "jobs")
    bare = build_report(Project(copy).ledger.state, copy, [WORKFLOW])
    assert len([a for _, a in _parse(bare).tags if "data-attempt" in a]) == 59
    assert "diverged" not in bare and bare.count("jobledger fetch</code> copies it home") == 4


def test_status_report_for_notebooks(fifty: Project) -> None:
    report = status(fifty.root, WORKFLOW)
    assert isinstance(report, StatusReport) and len(report) == 50 and report.finished
    assert report.counts == {"completed": 43, "dependency_failed": 3, "failed": 4}
    assert report["flaky_1"]["attempt"] == 3
    page = report._repr_html_()
    assert page.count("<tr>") == 51 and "50/50 finished" in page
    assert "50 job(s) in fifty" in str(report)


def test_report_cli_rejects_unknown_workflow(fifty: Project, tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobledger.cli.main",
            "-C",
            str(fifty.root),
            "report",
            "-w",
            "nope",
            "-o",
            str(tmp_path / "r.html"),
        ],
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "no workflow named 'nope'" in out.stderr
    assert not (tmp_path / "r.html").exists()


# ----------------------------------------------------------------------------- Chromium
class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # move the child's ends above 9 so the dup2 onto 3 and 4 cannot clobber each other
        high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)

        def wire() -> None:
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        argv = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}", "--remote-debugging-pipe",
            "about:blank",
        ]  # fmt: skip
        self.log = profile.parent / "chromium.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(3, 4), preexec_fn=wire
            )
        for fd in (to_child_r, from_child_w, high_r, high_w):
            os.close(fd)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_child], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no message from Chromium in time; see " + str(self.log))
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe; see " + str(self.log))
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False, timeout: float = 30
    ) -> dict[str, Any]:
        """Send one command (to the page session unless ``browser``) and return its result."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        """The first event named ``method`` (already received or arriving within ``timeout``)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            self.events.append(self._receive(deadline))

    def open_page(self, width: int, height: int) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]  # fmt: skip
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": clip is not None}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close", browser=True, timeout=10)
        except (OSError, RuntimeError, TimeoutError, EOFError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_child)
        os.close(self._from_child)


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, rows) of an 8-bit, non-interlaced RGB(A)/grey PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), (depth, colour, interlace)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def assert_not_blank(png: bytes) -> None:
    """Many colours and a good share of pixels that differ from the background."""
    width, height, bpp, rows = decode_png(png)
    assert width >= 600 and height >= 400
    tally: dict[bytes, int] = {}
    for row in rows[::3]:
        for x in range(0, width * bpp, 3 * bpp):
            pixel = row[x : x + bpp]
            tally[pixel] = tally.get(pixel, 0) + 1
    total = sum(tally.values())
    background = max(tally.values())
    assert len(tally) >= 16, f"only {len(tally)} colours: blank screenshot?"
    assert (total - background) / total > 0.05, "almost every pixel is the background colour"


@pytest.mark.browser
def test_report_in_headless_chromium(fifty: Project, tmp_path: Path) -> None:
    binary = chromium_path()
    require(None if binary else "no chromium on PATH (make ci-deps installs Debian's chromium)",
            "headless Chromium")  # fmt: skip
    assert binary is not None
    page = write_report(fifty, tmp_path / "report.html", [WORKFLOW])
    url = page.resolve().as_uri()
    (tmp_path / "profile").mkdir()
    browser = Chromium(binary, tmp_path / "profile")
    try:
        browser.open_page(1280, 900)
        browser.call("Page.navigate", {"url": url})
        browser.wait_for("Page.loadEventFired")
        assert browser.evaluate("document.readyState") == "complete"
        # the page's script ran: clicking a state chip filters the table
        shown = browser.evaluate(
            "document.querySelector('.chip[data-filter=\"failed\"]').click();"
            "document.querySelectorAll('tr.job:not(.hidden)').length"
        )
        assert shown == 4
        browser.evaluate("document.querySelector('.chip[data-filter=\"failed\"]').click(); 0")
        bars = browser.evaluate(
            "Array.from(document.querySelectorAll('#timeline [data-attempt]'))"
            ".map(g => { const r = g.getBoundingClientRect(); return [g.dataset.name, r.width, r.height]; })"
        )
        assert len(bars) == _attempts(fifty) == 59
        assert all(w > 0 and h > 0 for _, w, h in bars), [b for b in bars if not (b[1] > 0 and b[2] > 0)]
        assert sorted(n for n, _, _ in bars if n.startswith("flaky_5")) == ["flaky_5"] * 3
        assert browser.evaluate("document.querySelectorAll('#graph .node').length") == 50
        png = browser.screenshot()
        assert_not_blank(png)
        (tmp_path / "report.png").write_bytes(png)
        keep = os.environ.get("JOBLEDGER_SCREENSHOT_DIR")
        if keep:
            _docs_screenshots(browser, Path(keep))
        time.sleep(0.2)  # let late console messages arrive
        browser.evaluate("0")
    finally:
        browser.close()
    assert_clean_console(browser, url)


def _docs_screenshots(browser: Chromium, folder: Path) -> None:
    """docs/img/report*.png: the top of the page, the timeline, and the failures in the table."""
    folder.mkdir(parents=True, exist_ok=True)
    browser.resize(1280, 1000)
    browser.evaluate("window.scrollTo(0, 0); 0")
    (folder / "report.png").write_bytes(browser.screenshot())

    def section(selector: str, name: str) -> None:
        box = browser.evaluate(
            f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();"
            " return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,"
            " height: Math.min(r.height, 1100)}; })()"
        )
        (folder / name).write_bytes(browser.screenshot(clip=box))

    section("#timeline", "report-timeline.png")
    browser.evaluate(  # the jobs table showing failures only, their stderr unfolded
        "document.querySelector('.chip[data-filter=\"failed\"]').click();"
        "document.querySelectorAll('#jobs details').forEach(d => { d.open = true; }); 0"
    )
    section("#jobs", "report-jobs.png")


def assert_clean_console(browser: Chromium, url: str) -> None:
    """No script error or warning was logged, and the page loaded nothing but itself."""
    errors = [
        e for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert", "warning"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))
    ]  # fmt: skip
    assert not errors, json.dumps(errors, indent=1)[:3000]
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [url], requests
