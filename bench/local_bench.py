"""Local backend figures (issue 18.1, 18.6): throughput of 1,000 ``true`` jobs beside the
2-worker subprocess-pool ceiling measured in the same run, CPU per job and where it goes,
and the files and bytes a finished job leaves for git.

Run: ``python bench/local_bench.py [N]``. jobledger runs in a fresh process and a fresh
project; the ceilings run in this process, just before.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

THROUGHPUT = textwrap.dedent(
    """
    import json, os, resource, sys, time
    import jobledger as jl
    n, line = int(sys.argv[1]), sys.argv[2] == "line"
    jobs = [jl.Job(name=f"t{i}", command="true" if line else ["true"]) for i in range(n)]
    began = time.perf_counter()
    run = jl.run  # imports the engine (timed apart: issue 18.3 is the import's own figure)
    imported = time.perf_counter() - began
    t0 = os.times()
    start, epoch = time.perf_counter(), time.time()
    results = run(jl.Workflow(jobs, name="throughput"), wait=True, max_parallel=2, progress=False)
    seconds = time.perf_counter() - start
    t1 = os.times()
    assert all(r.ok for r in results.values()), "a job failed"
    intents = sum(1 for e in jl.Project.open().ledger.iter_events() if e.type == "intent")
    print(json.dumps({"seconds": seconds, "intents": intents, "imported": imported, "epoch": epoch,
                      "driver_cpu": (t1.user - t0.user) + (t1.system - t0.system)}))
    """
)


def _cpu_children() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (from /proc/stat; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(f) for f in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def pool(n: int, argv: list[str]) -> tuple[float, float]:
    """Jobs/s and CPU s/job of a 2-thread pool running ``argv`` ``n`` times (no persistence)."""
    cpu0, start = _cpu_children(), time.perf_counter()
    with ThreadPoolExecutor(2) as workers:
        list(workers.map(lambda _i: subprocess.run(argv, check=True), range(n)))
    seconds = time.perf_counter() - start
    return n / seconds, (_cpu_children() - cpu0) / n


def _adopt_orphans() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), so the CPU time
    of processes that outlive their parent (the launcher outlives the driver by design)
    is counted in this process's children's usage once they are reaped."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, 1, 0, 0, 0) == 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_orphans(timeout: float = 10.0) -> None:
    """Wait for adopted descendants to end (the launcher ends once the driver is gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def shell_floor(n: int, folder: Path) -> float:
    """CPU seconds per job of the shell design's floor: one forked bash subshell per job
    that writes one file (the wrappers fork at least that, then fork the task)."""
    folder.mkdir()
    cpu0 = _cpu_children()
    script = 'for ((i=0;i<$1;i++)); do ( : > "$2/f$i" ) & wait $!; done'
    subprocess.run(["bash", "-c", script, "floor", str(n), str(folder)], check=True)
    return (_cpu_children() - cpu0) / n


def files_floor(n: int, folder: Path) -> float:
    """Seconds per job to make what a finished job leaves on this file system (its run
    directory and five small files), without running anything."""
    folder.mkdir()
    start = time.perf_counter()
    for i in range(n):
        unit = folder / f"j{i}"
        unit.mkdir()
        for name in ("job.sh", "claim", "stdout", "stderr", "exit"):
            (unit / name).write_bytes(b"x\n")
    return (time.perf_counter() - start) / n


def _memory_dir() -> str | None:
    """A writable memory file system (``/dev/shm`` on Linux), or None."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if (
            len(fields) > 2
            and fields[1] == "/dev/shm"
            and fields[2] == "tmpfs"
            and os.access("/dev/shm", os.W_OK)
        ):
            return "/dev/shm"
    return None


def _timed(run: Callable[[], dict[str, float]]) -> tuple[dict[str, float], float, float]:
    cpu0, busy0 = _cpu_children(), _machine_busy()
    got = run()
    _reap_orphans()
    return got, _cpu_children() - cpu0, _machine_busy() - busy0


def wrapper_spans(root: Path) -> list[tuple[float, float]]:
    """``(started, ended)`` of every job's wrapper, from its exit record."""
    spans = []
    for path in (root / "jobs").rglob("exit"):
        fields = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        try:
            spans.append((float(fields["started"]), float(fields["ended"])))
        except (KeyError, ValueError):
            continue
    return sorted(spans)


def committed(root: Path) -> tuple[int, int, int]:
    """Files under jobs/, and files and bytes of them git would commit (the init policy)."""
    every = [p for p in (root / "jobs").rglob("*") if p.is_file()]
    env = {**os.environ, "GIT_DIR": str(root / ".git-bench"), "GIT_WORK_TREE": str(root)}
    subprocess.run(["git", "init", "-q"], env=env, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A", "jobs"], env=env, check=True, capture_output=True)
    out = subprocess.run(["git", "ls-files", "jobs"], env=env, check=True, capture_output=True, text=True)
    kept = [root / line for line in out.stdout.splitlines() if line]
    return len(every), len(kept), sum(p.stat().st_size for p in kept)


def main() -> None:
    """Print the figures."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    counted = _adopt_orphans()
    with tempfile.TemporaryDirectory(prefix="jl-local-bench-") as tmp:
        root = Path(tmp) / "t"
        limit, limit_cpu = pool(n, ["true"])
        shell, shell_cpu = pool(n, ["sh", "-c", "true"])
        floor_cpu = shell_floor(n, Path(tmp) / "floor")
        files_cost = files_floor(n, Path(tmp) / "files")
        subprocess.run(
            [sys.executable, "-m", "jobledger.cli.main", "init", str(root)], check=True, capture_output=True
        )

        def jobledger(kind: str, where: Path) -> dict[str, float]:
            out = subprocess.run(
                [sys.executable, "-c", THROUGHPUT, str(n), kind], cwd=where, capture_output=True, text=True
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

        got, tree_cpu, busy = _timed(lambda: jobledger("argv", root))
        lines = Path(tmp) / "lines"
        subprocess.run(
            [sys.executable, "-m", "jobledger.cli.main", "init", str(lines)], check=True, capture_output=True
        )
        by_line, line_cpu, _busy = _timed(lambda: jobledger("line", lines))
        rate = n / got["seconds"]
        print(
            f"local: {n:,} independent `true` jobs, max_parallel=2 ({os.cpu_count()} CPUs), "
            f"load average {os.getloadavg()[0]:.2f} (the engine's import, {got['imported']:.2f} s, not timed)"
        )
        print(
            f"  local jobs/s {rate:,.0f} / ceiling {limit:,.0f} = {rate / limit:.2f}x (target >= 0.5x); "
            f"{got['seconds']:.2f} s, {int(got['intents'])} intents durable before their spawns"
        )
        print(f"  beside awflow-like threads running `sh -c true`: {shell:,.0f} jobs/s = {rate / shell:.2f}x")
        line_rate = n / by_line["seconds"]
        print(
            f"  the same jobs as shell lines (`true`, run by bash -c): {line_rate:,.0f} jobs/s = "
            f"{line_rate / shell:.2f}x of that `sh -c true` pool, {1000 * line_cpu / n:.2f} ms CPU per job"
        )
        job_cpu = tree_cpu / n
        print(
            f"  CPU per job: jobledger {1000 * job_cpu:.2f} ms / ceiling {1000 * limit_cpu:.2f} ms "
            f"= {job_cpu / max(limit_cpu, 1e-9):.1f}x (`sh -c true`: {1000 * shell_cpu:.2f} ms)"
        )
        print(
            f"  where it goes: driver process {1000 * got['driver_cpu'] / n:.2f} ms/job (planning, "
            f"observing, ledger, files, handing to the supervisor); supervisor and tasks "
            f"{1000 * (tree_cpu - got['driver_cpu']) / n:.2f} ms/job"
            + ("" if counted else " (not counted where the supervisor outlives the driver)")
            + f"; machine busy: {1000 * busy / n:.2f} ms/job, other users included"
        )
        cpus = os.cpu_count() or 1
        most = cpus / max(job_cpu, 1e-9)
        print(
            f"  our processes used {tree_cpu / (cpus * got['seconds']):.0%} of the {cpus} CPUs; at "
            f"{1000 * job_cpu:.2f} ms CPU per job they allow at most {most:,.0f} jobs/s "
            f"({most / limit:.2f}x of the ceiling); making a job's run directory with its five files "
            f"costs {1000 * files_cost:.2f} ms/job on this file system (the ceiling makes none), and "
            f"one bash subshell writing one file {1000 * floor_cpu:.2f} ms/job (the launcher shell's "
            "floor, used with JOBLEDGER_NO_SUPERVISOR)"
        )
        beyond = max(job_cpu - files_cost, 1e-9)
        print(
            f"  beyond those files: {1000 * beyond:.2f} ms CPU per job, which would allow "
            f"{cpus / beyond:,.0f} jobs/s = {cpus / beyond / limit:.2f}x of the ceiling (a file creation "
            "costs 0.03-0.5 ms here, more after many deletions: ext4 without a journal skips "
            "recently deleted inodes)"
        )
        spans = wrapper_spans(root)
        if spans:
            held = sum(end - began for began, end in spans)
            span = max(end for _b, end in spans) - spans[0][0]
            wrapper = statistics.median(end - began for began, end in spans)
            print(
                f"  wall: the first job started {spans[0][0] - got['epoch']:.2f} s into the run "
                f"(define, plan, the first chunk's intents); from then on jobs were running "
                f"{held / (cpus * max(span, 1e-9)):.0%} of the time per CPU (median job "
                f"{1000 * wrapper:.2f} ms wall, claim to exit record: files, the task's spawn and run)"
            )
        memory = _memory_dir()
        if memory is not None:
            with tempfile.TemporaryDirectory(prefix="jl-local-bench-", dir=memory) as mem:
                in_memory = Path(mem) / "t"
                subprocess.run(
                    [sys.executable, "-m", "jobledger.cli.main", "init", str(in_memory)],
                    check=True,
                    capture_output=True,
                )
                got_mem, mem_cpu, _busy = _timed(lambda: jobledger("argv", in_memory))
                mem_files = files_floor(n, Path(mem) / "files")
            mem_rate = n / got_mem["seconds"]
            print(
                f"  the same run with its project on a memory file system ({memory}): {mem_rate:,.0f} "
                f"jobs/s = {mem_rate / limit:.2f}x of the ceiling, {1000 * mem_cpu / n:.2f} ms CPU per "
                f"job (its run directory and five files: {1000 * mem_files:.2f} ms/job there)"
            )
        files, kept, size = committed(root)
        print(
            f"  git: {files / n:.1f} files per finished job in jobs/, {kept / n:.2f} committed "
            f"({size / n:.0f} bytes) under the init policy (docs/git.md)"
        )


if __name__ == "__main__":
    main()
