"""How fast this machine is right now, printed before the other figures.

The targets in seconds and events per second are absolute, and this machine is a shared
virtual machine whose speed moves between runs. Two reference figures, measured the same
way every time, let runs on different days be compared: a pure-Python loop (interpreter
speed), and the first touch of fresh memory (a virtual machine that hands freed pages
back to its host pays for every page again; building a million events' state touches
hundreds of thousands of pages).

Run: ``python bench/machine_bench.py``.
"""

from __future__ import annotations

import mmap
import os
import time

LOOP = 10_000_000
TOUCHED = 256 << 20  # bytes
PAGE = mmap.PAGESIZE


def loop_seconds() -> float:
    """CPU seconds of ``LOOP`` additions in a pure-Python loop (best of three)."""
    best = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        total = 0
        for i in range(LOOP):
            total += i
        best = min(best, time.process_time() - cpu)
    return best


def page_touch_us() -> float:
    """Wall microseconds per page to touch ``TOUCHED`` bytes of fresh anonymous memory
    (best of three; each round maps new memory)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        area = mmap.mmap(-1, TOUCHED)
        for offset in range(0, TOUCHED, PAGE):
            area[offset] = 1
        best = min(best, time.perf_counter() - start)
        area.close()
    # the Python loop itself, without touching anything new
    area = mmap.mmap(-1, PAGE)
    area[0] = 1
    start = time.perf_counter()
    for _offset in range(0, TOUCHED, PAGE):
        area[0] = 1
    loop = time.perf_counter() - start
    area.close()
    return max(best - loop, 0.0) / (TOUCHED // PAGE) * 1e6


def main() -> None:
    """Print the two reference figures."""
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load {load:.1f}")
    print(
        f"  a pure-Python loop of {LOOP:,} additions: {loop_seconds():.2f} s of CPU (the interpreter's speed)"
    )
    print(
        f"  first touch of fresh memory: {page_touch_us():.2f} us per {PAGE // 1024} KiB page"
        " (the kernel's page fault and whatever the host adds)"
    )


if __name__ == "__main__":
    main()
