"""``jobledger status --watch`` in a real terminal (tmux), following a run in another process.

A driver process runs jobs that wait for gate files; the test opens the live view in a
private tmux server (its own socket), releases the gates in two steps and reads the screen
with ``capture-pane`` until the counts and the array's progress change. Ctrl-C must end
the view with exit status 0, which tmux reports because ``remain-on-exit`` is on.

Set ``JOBLEDGER_SCREENSHOT_DIR`` to also render a captured frame to ``live.png`` (through
rich's SVG export and headless Chromium), as in docs/img/.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from conftest import env_with_src
from jobledger.project import Project
from jobledger.view.live import render, stacked_bar
from jobledger.view.status import status_rows
from services import chromium_path, require

COLUMNS, LINES = 120, 42

DRIVER = """
import sys
from pathlib import Path

import jobledger as jl

gates = Path(sys.argv[1])
wait = "while [ ! -e {gate} ]; do sleep 0.05; done; echo released {name}"
gate_a = jl.Job(name="gate_a", command=wait.format(gate=gates / "a", name="a"))
gate_b = jl.Job(name="gate_b", command=wait.format(gate=gates / "b", name="b"))
batch = jl.Job(name="batch", command=wait.format(gate=str(gates) + "/batch-$JOBLEDGER_ARRAY_INDEX",
               name="batch element"), array=4)
broken = jl.Job(name="broken", command="echo 'disk quota exceeded' >&2; exit 1")
collect = jl.Job(name="collect", command="echo collected", after=[gate_a, gate_b, batch])
jl.run(jl.Workflow([collect, broken], name="gates"), wait=True, check=False, timeout=120, max_parallel=8)
"""


class Tmux:
    """A private tmux server (own socket and config) holding one session."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        self.config.write_text("set -g remain-on-exit on\nset -g status off\nset -g history-limit 100\n")
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-S", str(self.socket), "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
            check=False,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def screen(self, escapes: bool = False) -> str:
        return self("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "live")

    def exit_status(self, timeout: float) -> str:
        """``"<code>"`` or ``"signal <n>"`` once the pane's process has ended (``remain-on-exit``).

        tmux 3.3a sometimes misses the SIGCHLD of a pane that ends while the machine is busy
        (the pane shows dead, the process stays a zombie, no status); a SIGCHLD sent to our
        own private server makes it run its ``waitpid`` loop and record the status.
        """
        deadline = time.monotonic() + timeout
        nudged = False
        while time.monotonic() < deadline:
            dead, code, sig = self("display-message", "-p", "-t", "live",
                                   "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}").strip().split("|")  # fmt: skip
            if dead == "1" and (code or sig):
                return code if code else f"signal {sig}"
            if dead == "1" and not nudged:
                time.sleep(1.0)
                os.kill(int(self("display-message", "-p", "#{pid}").strip()), signal.SIGCHLD)
                nudged = True
            time.sleep(0.1)
        return "still running" if not nudged else "dead, no status"

    def kill(self) -> None:
        self("kill-server", check=False)


def wait_for_screen(
    tmux: Tmux,
    check: Callable[[str], bool],
    what: str,
    driver: subprocess.Popen[bytes] | None = None,
    driver_log: Path | None = None,
    timeout: float = 30,
) -> str:
    """The screen once ``check`` accepts it; fails early (with its log) if the driver died."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if check(screen):
            return screen
        if driver is not None and driver.poll() not in (None, 0):
            log = driver_log.read_text() if driver_log else ""
            raise AssertionError(f"the driver exited with {driver.returncode}:\n{log[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"the live view never showed {what}; last screen:\n{screen}")


def count(screen: str, state: str) -> int:
    found = re.search(rf"\b{state}: (\d+)", screen)
    return int(found.group(1)) if found else 0


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    require(None if shutil.which("tmux") else "tmux not on PATH (apt-get install tmux)", "tmux")
    env = {**env_with_src(), "COLUMNS": str(COLUMNS), "LINES": str(LINES), "TERM": "xterm-256color"}
    env.pop("TMUX", None)
    server = Tmux(tmp_path, env)
    yield server
    server.kill()


def test_live_view_follows_the_run_and_leaves_on_ctrl_c(project: Project, tmp_path: Path, tmux: Tmux) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    driver_log = (tmp_path / "driver.log").open("wb")
    driver = subprocess.Popen(
        [sys.executable, str(script), str(gates)],
        cwd=project.root,
        env=env_with_src(),
        stdin=subprocess.DEVNULL,
        stdout=driver_log,
        stderr=subprocess.STDOUT,
    )
    try:
        tmux("new-session", "-d", "-s", "live", "-x", str(COLUMNS), "-y", str(LINES), "-c", str(project.root),
             "--", sys.executable, "-m", "jobledger.cli.main", "status", "--watch")  # fmt: skip
        first = wait_for_screen(
            tmux,
            lambda s: count(s, "running") == 3 and count(s, "failed") == 1 and "0/4 elements done" in s,
            "3 running jobs, 1 failed, the array at 0/4",
            driver,
            tmp_path / "driver.log",
        )
        assert count(first, "completed") == 0 and count(first, "pending") == 1
        assert "workflow gates" in first and "array batch" in first
        assert "most recent failures" in first and "disk quota exceeded" in first
        for name in ("a", "batch-0", "batch-1"):
            (gates / name).touch()
        middle = wait_for_screen(
            tmux,
            lambda s: count(s, "completed") == 1 and "2/4 elements done" in s,
            "1 completed job and the array at 2/4",
            driver,
            tmp_path / "driver.log",
        )
        assert count(middle, "running") == 2 and "2/5 jobs done" in middle
        keep = os.environ.get("JOBLEDGER_SCREENSHOT_DIR")
        if keep:
            frame_to_png(tmux.screen(escapes=True), Path(keep) / "live.png", tmp_path)
        for name in ("b", "batch-2", "batch-3"):
            (gates / name).touch()
        last = wait_for_screen(
            tmux, lambda s: count(s, "completed") == 4, "4 completed jobs", driver, tmp_path / "driver.log"
        )
        assert count(last, "running") == 0 and "5/5 jobs done" in last and "4/4 elements done" in last
        assert tmux("display-message", "-p", "-t", "live", "#{pane_dead}").strip() == "0"
        tmux("send-keys", "-t", "live", "C-c")
        status = tmux.exit_status(timeout=15)
        assert status == "0", f"after Ctrl-C the view ended with {status!r}\n{tmux.screen()}"
        assert "Traceback" not in tmux.screen()
        assert driver.wait(timeout=60) == 0, (tmp_path / "driver.log").read_text()
    finally:
        if driver.poll() is None:
            for name in ("a", "b", *(f"batch-{i}" for i in range(4))):
                (gates / name).touch()
            try:
                driver.wait(timeout=30)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
        driver_log.close()


def frame_to_png(ansi: str, target: Path, scratch: Path) -> None:
    """Render a captured terminal frame (with escapes) to PNG: rich SVG export, then Chromium."""
    from rich.text import Text

    binary = chromium_path()
    require(None if binary else "no chromium on PATH", "headless Chromium (for the screenshot)")
    assert binary is not None
    console = Console(
        record=True, width=COLUMNS, force_terminal=True, color_system="truecolor", file=io.StringIO()
    )
    for line in ansi.rstrip("\n").split("\n"):
        console.print(Text.from_ansi(line), no_wrap=True, crop=True)
    # rich's SVG names a web font on a CDN; offline, use a local monospace font instead
    exported = re.sub(r"@font-face\s*\{[^}]*\}", "", console.export_svg(title="jobledger status --watch"))
    svg = scratch / "live.svg"
    svg.write_text(
        exported.replace("font-family: Fira Code, monospace", 'font-family: "DejaVu Sans Mono", monospace')
    )
    size = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg.read_text())
    assert size is not None
    width, height = (int(float(v)) + 1 for v in size.groups())
    page = scratch / "live.html"
    page.write_text(f'<html><body style="margin:0">{svg.read_text()}</body></html>')
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={scratch / 'profile-live'}", f"--screenshot={target}",
         f"--window-size={width},{height}", page.as_uri()],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True,
    )  # fmt: skip


# ----------------------------------------------------------------------------- pure parts
def test_stacked_bar_always_fills_its_width() -> None:
    for parts in (
        {"completed": 1},
        {"completed": 3, "failed": 1, "pending": 3},
        {"running": 1, "pending": 99},
    ):
        assert len(stacked_bar(parts, 40).plain) == 40
    assert stacked_bar({}, 10).plain == "─" * 10


def test_render_fits_a_small_terminal(project: Project) -> None:
    import jobledger as jl

    jobs = [jl.Job(name=f"j{i:02d}", command="true") for i in range(40)]
    jl.run(jl.Workflow(jobs, name="many"), wait=True, check=False, timeout=60)
    rows = status_rows(project.ledger.state)
    console = Console(width=100, height=30, file=io.StringIO(), force_terminal=False, color_system=None)
    console.print(render(rows, "title", height=30, root=project.root))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert len(text.splitlines()) <= 30
    assert "completed: 40" in text and "40/40 jobs done" in text and "more (jobledger status" in text


def test_status_json_stays_plain_with_watch(project: Project) -> None:
    import jobledger as jl

    jl.run(jl.Job(name="one", command="echo 1"), wait=True, check=False, timeout=60)
    out = subprocess.run(
        [sys.executable, "-m", "jobledger.cli.main", "status", "--json", "--watch"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env_with_src(),
        timeout=60,
        check=True,
    )
    assert "\x1b" not in out.stdout
    assert [r["name"] for r in json.loads(out.stdout)] == ["one"]


def test_the_counts_keep_their_room_at_80_columns(project: Project) -> None:
    """At 80 columns the bar narrows; the counts beside it are never cut."""
    import jobledger as jl

    jobs = [jl.Job(name=f"j{i:02d}", command="exit 2" if i == 3 else "true") for i in range(12)]
    jl.run(jl.Workflow(jobs, name="narrow"), wait=True, check=False, timeout=60)
    rows = status_rows(project.ledger.state)
    console = Console(width=80, height=30, file=io.StringIO(), force_terminal=False, color_system=None)
    console.print(render(rows, "title", height=30, width=80, root=project.root))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    line = next(ln for ln in text.splitlines() if "workflow narrow" in ln)
    assert "12/12 jobs done  100%  1 failed" in line, line
    assert all(len(ln) <= 80 for ln in text.splitlines())
    wide = Console(width=160, height=30, file=io.StringIO(), force_terminal=False, color_system=None)
    wide.print(render(rows, "title", height=30, width=160, root=project.root))
    bar = next(ln for ln in wide.file.getvalue().splitlines() if "workflow narrow" in ln)  # type: ignore[attr-defined]
    assert "━" * 40 in bar  # a wide terminal keeps the whole bar
