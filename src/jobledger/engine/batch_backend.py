"""The batch backend: jobs as scheduler jobs (SLURM, SGE, PBS, LSF) on a host reached
locally or over SSH.

Run directories live under the host's *remote root* (the project itself when the scheduler
runs on this machine; ``<workdir>/<project>-<8 hex>`` over SSH). Preparing a submission
renders the batch script and sends what the job needs (its script, its Python pickles, its
inputs and its upstream jobs' outputs); a host that does not answer is tried again a few
times, then the submission fails with the reason. Observation asks the scheduler once per
poll interval (sooner when a completion marker names one of its units).
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from jobledger.config import HostConfig
from jobledger.engine.backend import Prepared
from jobledger.engine.batch import SchedulerClient
from jobledger.engine.batch_final import UNKNOWN_ID
from jobledger.engine.batch_packs import Packs
from jobledger.engine.batch_scripts import job_batch_spec, remote_root
from jobledger.engine.local_backend import parse_python_files
from jobledger.engine.local_units import SCRIPT
from jobledger.engine.pack_script import pointer_line, read_pointer
from jobledger.engine.packing import packs
from jobledger.engine.planner import HostView
from jobledger.engine.remote_files import bring_home, fetch_attempt, send_files, wanted_files
from jobledger.engine.types import Submission, SubmitOutcome, Unit, Update
from jobledger.engine.unit_files import CLAIM_FILE, EXIT_FILE
from jobledger.errors import HostError, JobledgerError, SubmitError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec
from jobledger.schedulers.base import NativeDependency, SchedulerAdapter

log = logging.getLogger("jobledger.batch")

#: Seconds between scheduler queries unless the host sets ``poll_interval``.
DEFAULT_POLL = 3.0
#: Tries to send a job's files before its submission fails for good.
MAX_STAGING_TRIES = 5


class BatchBackend:
    """Submits, watches and cancels through a scheduler adapter on one host."""

    def __init__(
        self, project_root: Path, host: HostConfig, machine: Host, adapter: SchedulerAdapter
    ) -> None:
        self.alias = host.name
        self.host = host
        self.machine = machine
        self.adapter = adapter
        self.project_root = project_root
        self.client = SchedulerClient(
            host.name, machine, adapter, max_in_flight=host.max_in_flight, accounting=host.accounting
        )
        self.packs = Packs(host, machine, adapter, self.client)
        self._root: str | None = None
        self._last_poll: float | None = None
        self._staging_failures: dict[tuple[str, int], int] = {}
        self._offsets: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------------ places
    @property
    def root(self) -> str:
        """Where this project's run directories live on the host (absolute; see
        :func:`~jobledger.engine.batch_scripts.remote_root`)."""
        if self._root is None:
            self._root = remote_root(self.host, self.machine, self.project_root)
        return self._root

    def _markers(self) -> str | None:
        return None if self.host.is_remote else str(self.project_root / ".jobledger" / "cache" / "done")

    # ------------------------------------------------------------------ protocol
    def view(self) -> HostView:
        """Native dependency kinds, ids the scheduler still lists, throttling."""
        return HostView(
            self.alias,
            native_kinds=frozenset(self.adapter.native_kinds),
            live_ids=frozenset(self.client.live_ids),
            throttled_until=self.client.throttled_until,
            max_in_flight=self.client.max_in_flight,
            pack_limit=self.adapter.pack_limit,
        )

    def prepare(self, subs: Sequence[Submission], staged: dict[str, str]) -> list[Prepared]:
        """Render each batch script and send it, with what the job needs, to the host.

        A host that cannot be reached at all the first time (authentication, host key,
        refused) raises :class:`~jobledger.errors.ConnectionFailed`: that is for the user to
        fix; later failures to send are tried again a few times.
        """
        _ = self.root  # the first contact: raises ConnectionFailed naming the host
        out = []
        for sub in subs:
            try:
                batch, offset = job_batch_spec(sub, self.host, self.adapter, self.root, self._markers())
                script = self.adapter.render_script(batch)
                if sub.pack is not None:  # names its pack, to find it after a crash
                    script += pointer_line(sub.pack.tag, sub.pack.name, sub.pack.index)
            except JobledgerError as exc:
                out.append(Prepared(sub.key, error=str(exc)))
                continue
            self._offsets[(sub.key, sub.attempt)] = offset
            remote_att = posixpath.join(self.root, sub.attempt_dir)
            try:
                self.machine.makedirs([remote_att])
                self.machine.write_file(posixpath.join(remote_att, SCRIPT), script.encode(), 0o755)
                sent: list[ev.Staged] = []
                if self.host.is_remote:
                    wanted = wanted_files(
                        sub.spec,
                        self.project_root,
                        sub.upstream_outputs,
                        posixpath.join(self.root, sub.spec.run_dir),
                        batch.workdir,
                    )
                    sent = send_files(self.machine, self.alias, wanted, staged)
            except (HostError, JobledgerError) as exc:
                tries = self._staging_failures.get((sub.key, sub.attempt), 0) + 1
                self._staging_failures[(sub.key, sub.attempt)] = tries
                final = tries >= MAX_STAGING_TRIES or not isinstance(exc, HostError)
                reason = f"sending job {sub.spec.name!r} to host {self.alias!r} failed"
                reason += f" ({tries} tries)" if isinstance(exc, HostError) else ""
                out.append(Prepared(sub.key, error=f"{reason}: {exc}", transient=not final))
                continue
            self._staging_failures.pop((sub.key, sub.attempt), None)
            out.append(Prepared(sub.key, staged=tuple(sent), index_offset=offset))
        return out

    def submit(self, subs: Sequence[Submission]) -> list[SubmitOutcome]:
        """``sbatch``/``qsub``/``bsub`` each prepared script once; the jobs of a pack
        (:attr:`Submission.pack`) as one array. Outcomes in the order of ``subs``."""
        done: dict[tuple[str, int], SubmitOutcome] = {}
        for group in packs(subs):
            outcomes = self.packs.submit(group, self.root) if len(group) > 1 else None
            if outcomes is None:
                outcomes = [self._submit_one(sub) for sub in group]
            for sub, outcome in zip(group, outcomes, strict=True):
                self._offsets.pop((sub.key, sub.attempt), None)
                done[(sub.key, sub.attempt)] = outcome
        return [done[(sub.key, sub.attempt)] for sub in subs]

    def _submit_one(self, sub: Submission) -> SubmitOutcome:
        script = posixpath.join(self.root, sub.attempt_dir, SCRIPT)
        offset = self._offsets.get((sub.key, sub.attempt), 0)
        try:
            sid = self.client.submit_script(script, sub.spec.name)
        except SubmitError as exc:
            return SubmitOutcome(sub.key, sub.attempt, error=str(exc), transient=exc.transient)
        return SubmitOutcome(sub.key, sub.attempt, sid, index_offset=offset)

    def find(self, sub: Submission) -> str | None:
        """The id of a submission a crash interrupted: by its tag (its pack's, when its
        script names one), else by its files."""
        unit = posixpath.join(self.root, sub.attempt_dir)
        paths = [posixpath.join(unit, name) for name in (SCRIPT, CLAIM_FILE, EXIT_FILE)]
        try:
            seen = self.machine.read_files(paths)
        except HostError:
            seen = {}
        pointer = read_pointer(seen.get(paths[0]))
        if pointer is not None:
            found = self.packs.find(pointer)
        else:
            found = self.client.find(_safe(sub.spec.name), sub.tag)
        if found is not None:
            return found
        return UNKNOWN_ID if seen.get(paths[1]) or seen.get(paths[2]) else None

    def needs_units(self, markers: Sequence[str]) -> bool:
        """When a status query is due, or a completion marker was seen."""
        interval = self.host.poll_interval or DEFAULT_POLL
        return bool(markers) or self._last_poll is None or time.monotonic() - self._last_poll >= interval

    def observe(
        self, units: Sequence[Unit], markers: Sequence[str], full: bool, adopt: bool = True
    ) -> list[Update]:
        """One status query per poll interval (sooner when a marker names a unit here)."""
        if not units:
            return []
        now = time.monotonic()
        interval = self.host.poll_interval or DEFAULT_POLL
        hit = bool(markers) and any(u.key[:12] in m for u in units for m in markers)
        if self._last_poll is not None and now - self._last_poll < interval and not hit:
            return []
        self._last_poll = now
        updates = self.client.poll(units, self.root)
        python = {(u.key, u.attempt, u.index): u for u in units if u.python}
        finals = [u for u in updates if u.state.is_final and (u.key, u.attempt, u.index) in python]
        if finals:
            updates = self._with_results(updates, python)
        return updates

    def _with_results(
        self, updates: list[Update], python: dict[tuple[str, int, int | None], Unit]
    ) -> list[Update]:
        paths: dict[tuple[str, int, int | None], tuple[str, str]] = {}
        for u in updates:
            unit = python.get((u.key, u.attempt, u.index))
            if unit is not None and u.state.is_final:
                base = posixpath.join(self.root, unit.unit_dir)
                paths[unit.ident] = (posixpath.join(base, "result.json"), posixpath.join(base, "error.json"))
        try:
            files = self.machine.read_files([p for pair in paths.values() for p in pair])
        except HostError:
            return updates
        out = []
        for u in updates:
            pair = paths.get((u.key, u.attempt, u.index))
            result = None if pair is None else parse_python_files(files.get(pair[0]), files.get(pair[1]))
            out.append(u if result is None else attrs.evolve(u, result=result))
        return out

    def tick(self) -> list[Update]:
        """The scheduler starts the work: nothing to do."""
        return []

    def cancel(self, units: Sequence[Unit], grace: float) -> list[Update]:
        """``scancel``/``qdel``/``bkill`` the units' jobs (whole arrays)."""
        ids = sorted({u.scheduler_id for u in units if u.scheduler_id and u.scheduler_id != UNKNOWN_ID})
        if ids:
            self.client.cancel(ids)
        return []

    def _remote_workdir(self, spec: JobSpec, attempt_dir: str) -> str:
        base = posixpath.join(self.root, attempt_dir)
        if spec.workdir:
            return spec.workdir if spec.workdir.startswith("/") else posixpath.join(base, spec.workdir)
        return base

    def bring_home(self, spec: JobSpec, attempt_dir: str) -> ev.OutputsHome | None:
        """Download a finished remote job's declared outputs to where it was defined."""
        if not self.host.is_remote or not spec.outputs:
            return None
        event, missing = bring_home(self.machine, spec, self._remote_workdir(spec, attempt_dir))
        for problem in missing:
            log.warning("job %s: output %s not brought back", spec.name, problem)
        return event

    def fetch(self, spec: JobSpec, attempt: int, run_dir: str) -> ev.Fetched | None:
        """Bring a remote attempt's unit files into the local run directory."""
        if not self.host.is_remote:
            return None
        return fetch_attempt(self.machine, self.root, self.project_root, spec, attempt, run_dir)

    @property
    def busy(self) -> bool:
        """The scheduler holds the work."""
        return False

    @property
    def waiting(self) -> bool:
        """The scheduler starts the work."""
        return False

    def close(self) -> None:
        """Close the host connection (jobs keep running)."""
        self.machine.close()


def _safe(name: str) -> str:
    from jobledger.model.names import safe_name

    return safe_name(name)


__all__ = ["BatchBackend", "NativeDependency"]
