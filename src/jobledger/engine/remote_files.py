"""Moving files between this machine and the run directories of a remote host.

- **Up**: before a job is submitted to a remote host, its Python pickles, its declared
  ``inputs`` and the declared ``outputs`` of its upstream jobs (as they are on this
  machine) are sent into its remote directories. A file whose hash is already recorded
  for that remote path is not sent again.
- **Home**: when a remote job completes, its declared ``outputs`` come back into the
  directory the job was defined in, so that jobs downstream — local or on another cluster
  — find them (data flows between clusters through this machine).
- **Fetch** (``fetch()``/``jobledger fetch``): stdout, stderr, the exit record and Python
  results of remote units come into the local run directories.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path

from jobledger.errors import HostError, JobledgerError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.ledger.specs import JobSpec
from jobledger.model.job import file_digest

#: Files of a unit that ``fetch`` brings back.
UNIT_FILES = ("stdout", "stderr", "exit", "claim", "result.pkl", "result.json", "error.json", "exception.pkl")


def remote_name(name: str) -> str:
    """Where a declared file lands in the remote working directory."""
    return Path(name).name if Path(name).is_absolute() else name


def local_path(base: str | None, name: str) -> Path:
    """A declared file as it is on this machine (relative ones from ``base``)."""
    path = Path(name)
    return path if path.is_absolute() or base is None else Path(base) / name


def wanted_files(
    spec: JobSpec, project_root: Path, upstream_outputs: Iterable[str], remote_run: str, remote_workdir: str
) -> list[tuple[Path, str]]:
    """``(local file, remote path)`` pairs a remote job needs before it runs."""
    wanted: list[tuple[Path, str]] = []
    for task in spec.tasks or ():
        if task.payload:
            wanted.append(
                (project_root / spec.run_dir / task.payload, posixpath.join(remote_run, task.payload))
            )
    if any(t.payload for t in spec.tasks or ()):
        runner = project_root / spec.run_dir / "jl_runner.py"
        wanted.append((runner, posixpath.join(remote_run, "jl_runner.py")))
    base = spec.workdir if spec.workdir and Path(spec.workdir).is_absolute() else spec.local_dir
    for name in spec.inputs:
        source = local_path(base, name)
        if not source.is_file():
            raise JobledgerError(f"job {spec.name!r}: input file {source} does not exist")
        wanted.append((source, posixpath.join(remote_workdir, remote_name(name))))
    for path in upstream_outputs:
        source = Path(path)
        if source.is_file():
            wanted.append((source, posixpath.join(remote_workdir, source.name)))
    return wanted


def send_files(
    host: Host, alias: str, wanted: Iterable[tuple[Path, str]], staged: Mapping[str, str]
) -> list[ev.Staged]:
    """Upload what the host does not hold yet (``staged``: remote path -> digest)."""
    sent: list[ev.Staged] = []
    for source, remote in wanted:
        digest = file_digest(source)
        if staged.get(remote) == digest:
            continue
        host.makedirs([posixpath.dirname(remote)])
        host.upload(str(source), remote)
        sent.append(ev.Staged(host=alias, path=remote, digest=digest))
    return sent


def bring_home(host: Host, spec: JobSpec, remote_workdir: str) -> tuple[ev.OutputsHome | None, list[str]]:
    """Download a finished remote job's declared outputs next to where it was defined;
    returns the event to record and the outputs that could not be brought back."""
    local_dir = Path(spec.local_dir or ".")
    files: dict[str, str] = {}
    missing: list[str] = []
    for name in spec.outputs:
        remote = posixpath.join(remote_workdir, remote_name(name))
        target = (
            local_path(str(local_dir), name) if not Path(name).is_absolute() else local_dir / Path(name).name
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            host.download(remote, str(target))
        except HostError as exc:
            missing.append(f"{name}: {exc}")
            continue
        files[str(target)] = file_digest(target)
    return (ev.OutputsHome(key=spec.key, files=files) if files else None), missing


def fetch_attempt(
    host: Host, remote_root: str, project_root: Path, spec: JobSpec, attempt: int, run_dir: str
) -> ev.Fetched | None:
    """Bring a remote attempt's unit files (stdout, stderr, exit, results) home."""
    units = [run_dir] if not spec.array else [f"{run_dir}/{i}" for i in spec.array]
    binary = ("result.pkl", "exception.pkl")
    small = [posixpath.join(remote_root, u, n) for u in units for n in UNIT_FILES if n not in binary]
    contents = host.read_files(small)
    files: dict[str, str] = {}
    for unit in units:
        for name in UNIT_FILES:
            remote = posixpath.join(remote_root, unit, name)
            local = project_root / unit / name
            if name in binary:
                described = "result.json" if name == "result.pkl" else "error.json"
                if not contents.get(posixpath.join(remote_root, unit, described)):
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                try:
                    host.download(remote, str(local))
                except HostError:
                    continue
            else:
                data = contents.get(remote)
                if data is None:
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
            files[f"{unit}/{name}"] = file_digest(local)
    return ev.Fetched(key=spec.key, attempt=attempt, files=files) if files else None
