"""Packs on a batch host: submitting one array for same-shape jobs, and finding it again.

The jobs' own batch scripts are already in their run directories (each names its pack on
its last line, :mod:`.pack_script`); a pack adds one script, in the git-ignored cache
(``<root>/.jobledger/cache/packs/<16 hex>.sh``, the scheduler's logs of its elements in the
folder of the same name), submitted once. Each job's scheduler id is its element's key
(``<array id>[<task id>]``, SLURM's ``123_4``), so status, accounting, cancel and native
dependencies address the one element.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Sequence

from jobledger.config import HostConfig
from jobledger.engine.batch import SchedulerClient
from jobledger.engine.batch_scripts import raw_args
from jobledger.engine.local_units import SCRIPT
from jobledger.engine.pack_script import PackPointer, render_pack_body
from jobledger.engine.types import Submission, SubmitOutcome
from jobledger.errors import HostError, JobledgerError, SubmitError
from jobledger.hosts.base import Host
from jobledger.model.array import ArraySpec
from jobledger.schedulers.base import BatchSpec, SchedulerAdapter, element_key

log = logging.getLogger("jobledger.batch")

#: Where packs' scripts and logs go, under the host's root.
PACKS_DIR = ".jobledger/cache/packs"
#: Seconds a pack lookup (by its tag) is reused: one lookup for all the jobs of a pack.
LOOKUP_TTL = 5.0


class Packs:
    """Submits packs and finds them again through one scheduler client."""

    def __init__(
        self, host: HostConfig, machine: Host, adapter: SchedulerAdapter, client: SchedulerClient
    ) -> None:
        self.host = host
        self.machine = machine
        self.adapter = adapter
        self.client = client
        self._found: dict[str, tuple[float, str | None]] = {}

    def task_id(self, index: int) -> int:
        """The scheduler's task id of a pack's element ``index``."""
        return index + self.adapter.array_base

    def batch_spec(self, subs: Sequence[Submission], root: str) -> tuple[BatchSpec, str]:
        """The pack's :class:`BatchSpec` and its folder (``subs``: its jobs with intents)."""
        first = subs[0]
        assert first.pack is not None
        folder = posixpath.join(root, PACKS_DIR, first.pack.tag.rpartition(":")[2])
        jobs = [
            (self.task_id(s.pack.index), posixpath.join(root, s.attempt_dir, SCRIPT))
            for s in subs
            if s.pack is not None
        ]
        tasks = [t for t, _ in jobs]
        # one range: Grid Engine and PBS Pro take nothing else; a gap runs no job
        array = ArraySpec(tuple(range(min(tasks), max(tasks) + 1)), self.host.max_parallel)
        spec = BatchSpec(
            job_name=first.pack.name,
            comment=first.pack.tag,
            run_dir=folder,
            workdir=folder,
            body=render_pack_body(first.pack.tag, jobs, self.adapter.array_env),
            resources=first.resources,
            array=array,
            dependencies=first.native_deps,
            raw_args=raw_args(first, self.adapter.name),
        )
        return spec, folder

    def submit(self, subs: Sequence[Submission], root: str) -> list[SubmitOutcome] | None:
        """Submit ``subs`` (one pack) as one array: an outcome per job, in order; ``None``
        when the scheduler cannot take this pack as an array (submit the jobs alone)."""
        first = subs[0]
        assert first.pack is not None
        try:
            batch, folder = self.batch_spec(subs, root)
            script = self.adapter.render_script(batch)
        except JobledgerError as exc:
            log.info("pack %s submitted job by job: %s", first.pack.name, exc)
            return None
        path = f"{folder}.sh"
        what = f"pack {first.pack.name} ({len(subs)} jobs)"
        try:
            self.machine.makedirs([folder])
            self.machine.write_file(path, script.encode(), 0o755)
            base = self.client.submit_script(path, what)
        except HostError as exc:
            error = f"{what} on {self.client.alias!r}: {exc}"
            return [SubmitOutcome(s.key, s.attempt, error=error, transient=True) for s in subs]
        except SubmitError as exc:
            return [SubmitOutcome(s.key, s.attempt, error=str(exc), transient=exc.transient) for s in subs]
        out = []
        for sub in subs:
            assert sub.pack is not None
            sid = element_key(base, self.task_id(sub.pack.index))
            if self.adapter.element_dependencies:
                self.client.live_ids.add(sid)
            out.append(SubmitOutcome(sub.key, sub.attempt, sid))
        return out

    def find(self, pointer: PackPointer) -> str | None:
        """The scheduler id of a pack's element, if the scheduler still lists the pack
        (one lookup per pack within :data:`LOOKUP_TTL` seconds)."""
        now = time.monotonic()
        cached = self._found.get(pointer.tag)
        if cached is None or now - cached[0] > LOOKUP_TTL:
            cached = (now, self.client.find(pointer.name, pointer.tag))
            self._found[pointer.tag] = cached
        base = cached[1]
        return None if base is None else element_key(base, self.task_id(pointer.index))
