"""Moving files between this machine and remote run directories.

- **Up**: before a job is submitted to a remote host, its declared ``inputs`` and the
  declared ``outputs`` of its upstream jobs (as they are on this machine) are uploaded
  into its remote attempt directory, where it runs. The content hash of every file sent
  is recorded; a file whose hash is already recorded for that remote path is not sent
  again.
- **Home**: when a remote job completes, its declared ``outputs`` are downloaded into the
  directory the job was defined in, so that jobs downstream — local or on another
  cluster — find them (data flows between clusters through this machine).
- **Fetch** (``fetch()``/``jobledger fetch``): stdout, stderr, the exit record and Python
  results of remote units are downloaded into the local run directories.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobledger.errors import HostError, JobledgerError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.model.job import file_digest

if TYPE_CHECKING:
    from jobledger.engine.base import EngineBase, Loaded

#: Files of a unit that ``fetch`` brings back.
UNIT_FILES = ("stdout", "stderr", "exit", "claim", "result.pkl", "result.json", "error.json")


def _local_source(base: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base / name


def _remote_name(name: str) -> str:
    return Path(name).name if Path(name).is_absolute() else name


def upload_for(engine: EngineBase, loaded: Loaded, key: str, host: Host, remote_dir: str) -> int:
    """Send a remote job its inputs and its upstream jobs' outputs; returns files sent."""
    job = loaded.by_key[key]
    alias = loaded.hosts[key]
    wanted: list[tuple[Path, str]] = []
    base = (
        Path(job.workdir) if job.workdir and Path(job.workdir).is_absolute() else Path(loaded.local_dirs[key])
    )
    for name in job.inputs:
        source = _local_source(base, name)
        if not source.is_file():
            raise JobledgerError(f"job {job.name!r}: input file {source} does not exist")
        wanted.append((source, posixpath.join(remote_dir, _remote_name(name))))
    for up, _kind in loaded.edges[key]:
        upstream = loaded.by_key.get(up)
        if upstream is None:
            continue
        for name in upstream.outputs:
            source = _local_source(Path(loaded.local_dirs[up]), name)
            if source.is_file():
                wanted.append((source, posixpath.join(remote_dir, _remote_name(name))))
    staged: dict[str, Any] = engine.ledger.raw_state.get("staged", {}).get(alias, {})
    sent = 0
    for source, remote in wanted:
        digest = file_digest(source)
        if (staged.get(remote) or [None])[0] == digest:
            continue
        host.makedirs([posixpath.dirname(remote)])
        host.upload(str(source), remote)
        engine.ledger.append(ev.NOTE, {"kind": "staged", "host": alias, "path": remote, "digest": digest})
        sent += 1
    return sent


def bring_home(engine: EngineBase, loaded: Loaded, key: str, host: Host, remote_dir: str) -> int:
    """Download a finished remote job's declared outputs next to where it was defined."""
    job = loaded.by_key[key]
    local_dir = Path(loaded.local_dirs[key])
    got = 0
    files: dict[str, str] = {}
    for name in job.outputs:
        remote = posixpath.join(remote_dir, _remote_name(name))
        target = (
            _local_source(local_dir, name) if not Path(name).is_absolute() else local_dir / Path(name).name
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            host.download(remote, str(target))
        except HostError as exc:
            engine.log.warning("job %s: output %s not brought back: %s", job.name, name, exc)
            continue
        files[str(target)] = file_digest(target)
        got += 1
    if files:
        engine.ledger.append(ev.NOTE, {"kind": "outputs", "key": key, "files": files})
    return got


def fetch_outputs(engine: EngineBase, keys: Iterable[str]) -> int:
    """Download remote units' files into the local run directories; returns files fetched."""
    state = engine.ledger.raw_state["jobs"]
    fetched = 0
    for key in keys:
        raw = state.get(key)
        if raw is None or not raw.get("attempts"):
            continue
        number = max(raw["attempts"])
        att = raw["attempts"][number]
        alias = att.get("host") or raw.get("host", "local")
        try:
            remote = engine.host_config(alias).is_remote
        except JobledgerError:
            continue
        if not remote or not att.get("run_dir"):
            continue
        host: Any = getattr(engine.backend(alias), "host", None)
        if host is not None:
            fetched += _fetch_attempt(engine, host, key, number, raw, att)
    engine.ledger.flush()
    return fetched


def _fetch_attempt(
    engine: EngineBase, host: Host, key: str, number: int, raw: dict[str, Any], att: dict[str, Any]
) -> int:
    root = engine.remote_root(att.get("host") or raw.get("host", "local"))
    rel = att["run_dir"]
    units = [rel] if not raw.get("array") else [f"{rel}/{i}" for i in raw["array"]]
    local_root = engine.project.root
    small = [posixpath.join(root, u, n) for u in units for n in UNIT_FILES if n != "result.pkl"]
    try:
        contents = host.read_files(small)
    except HostError as exc:
        engine.log.warning("cannot fetch %s from %s: %s", raw.get("name", key), host.alias, exc)
        return 0
    files: dict[str, str] = {}
    for unit in units:
        for name in UNIT_FILES:
            remote = posixpath.join(root, unit, name)
            local = local_root / unit / name
            if name == "result.pkl":
                if not contents.get(posixpath.join(root, unit, "result.json")):
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
    if files:
        engine.ledger.append(ev.NOTE, {"kind": "fetched", "key": key, "attempt": number, "files": files})
    return len(files)
