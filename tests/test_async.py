"""The ``await`` forms of the verbs: many workflows driven from one event loop."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

import jobledger
from jobledger import Job, Workflow
from jobledger.api import aio
from jobledger.api.aio import (
    arun,
    as_completed,
    check_async,
    fetch_async,
    run_async,
    stop_async,
    update_async,
    wait_async,
)
from jobledger.api.verbs import RunHandle, WaitTimeout
from jobledger.project import Project
from jobledger.states import JobState
from services import require, slurm_available


def _wf(name: str, command: str, host: str = "local") -> Workflow:
    return Workflow([Job(name=f"{name}-job", command=command, host=host)], name=name)


def test_many_workflows_progress_together_and_the_loop_stays_free(project: Project) -> None:
    count = 10  # more than the default thread pool (cpus + 4) on small machines
    ticks: list[float] = []

    async def heartbeat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def main() -> list[dict[str, jobledger.Result]]:
        stop = asyncio.Event()
        beat = asyncio.ensure_future(heartbeat(stop))
        handles = await asyncio.gather(
            *(run_async(_wf(f"wf{i}", f"sleep 0.3; echo {i}")) for i in range(count))
        )
        assert all(isinstance(h, RunHandle) for h in handles)
        results = await asyncio.gather(*(wait_async(h, poll=0.05) for h in handles))
        stop.set()
        await beat
        return results

    start = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - start
    for i, res in enumerate(results):
        assert res[f"wf{i}-job"].state is JobState.COMPLETED
        assert res[f"wf{i}-job"].stdout.strip() == str(i)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > elapsed / 0.02 / 3  # the loop was never blocked for long
    assert max(gaps) < 1.0


def test_arun_and_run_async_wait(project: Project) -> None:
    results = asyncio.run(arun(_wf("a", "echo a")))
    assert results["a-job"].ok and results["a-job"].stdout.strip() == "a"
    results = asyncio.run(run_async(_wf("b", "echo b"), wait=True, timeout=60))
    assert results["b-job"].stdout.strip() == "b"
    both = asyncio.run(arun(_wf("c", "echo c"), _wf("d", "echo d")))
    assert set(both) == {"c-job", "d-job"}


def test_wait_async_timeout_update_check_fetch_and_stop(project: Project) -> None:
    async def main() -> None:
        handle = await run_async(_wf("slow", "sleep 30"))
        with pytest.raises(WaitTimeout):
            await wait_async(handle, timeout=0.5, poll=0.1)
        for _ in range(100):
            if (await check_async(handle))["slow-job"] is JobState.RUNNING:
                break
            await asyncio.sleep(0.05)
        assert (await update_async(handle))["slow-job"].state is JobState.RUNNING
        assert (await fetch_async(handle))["slow-job"].state is JobState.RUNNING
        assert await stop_async(handle, grace=1.0) == ["slow-job"]
        final = await wait_async(handle, timeout=30, check=False)
        assert final["slow-job"].state is JobState.CANCELLED

    asyncio.run(main())


def test_as_completed_yields_in_finishing_order(project: Project) -> None:
    async def main() -> list[str]:
        slow = await run_async(_wf("late", "sleep 4"))
        fast = await run_async(_wf("early", "sleep 0.1"))
        order = []
        async for handle, results in as_completed(slow, fast, poll=0.05):
            assert all(r.ok for r in results.values())
            order.append(handle.name)
        return order

    assert asyncio.run(main()) == ["early", "late"]


def test_cancelling_the_waiting_task_leaves_the_job_running(project: Project, tmp_path: Path) -> None:
    done = tmp_path / "done"

    async def main() -> None:
        handle = await run_async(_wf("keep", f"sleep 0.5; touch {done}"))
        task = asyncio.ensure_future(wait_async(handle))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        results = await wait_async(handle, timeout=30)
        assert results["keep-job"].ok

    asyncio.run(main())
    assert done.exists()


def test_aliases() -> None:
    assert aio.await_ is wait_async
    assert aio.aupdate is update_async and aio.acheck is check_async
    assert aio.afetch is fetch_async and aio.astop is stop_async


@pytest.mark.slurm
def test_local_and_slurm_workflows_concurrently(project: Project) -> None:
    require(slurm_available(), "SLURM (make slurm-up)")
    project.config_path.write_text('[hosts.slurm]\nscheduler = "slurm"\n')

    async def main() -> list[dict[str, jobledger.Result]]:
        handles = await asyncio.gather(
            run_async(_wf("on-slurm", "sleep 1; echo s", host="slurm")),
            run_async(_wf("on-local", "sleep 1; echo l")),
        )
        return await asyncio.gather(*(wait_async(h, timeout=120) for h in handles))

    start = time.monotonic()
    slurm, local = asyncio.run(main())
    assert slurm["on-slurm-job"].ok and slurm["on-slurm-job"].host == "slurm"
    assert slurm["on-slurm-job"].stdout.strip() == "s"
    assert local["on-local-job"].ok and local["on-local-job"].stdout.strip() == "l"
    assert time.monotonic() - start < 60
