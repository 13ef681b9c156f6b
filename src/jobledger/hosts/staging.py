"""Moving files between this machine and remote run directories.

Uploads: declared input files go to the job's remote attempt directory; a file whose
content hash is already recorded for that destination is not sent again. Downloads
(``fetch``): stdout, stderr, the exit record, Python results and declared outputs come
back into the local run directory, each recorded in the ledger by content hash.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from jobledger.errors import JobledgerError
from jobledger.hosts.base import Host
from jobledger.ledger import events as ev
from jobledger.model.job import Job, file_digest

if TYPE_CHECKING:
    from jobledger.engine.driver import Engine

#: Files of a unit that ``fetch`` brings back.
UNIT_FILES = ("stdout", "stderr", "exit", "claim", "result.pkl", "result.json", "error.json")


def upload_inputs(
    host: Host, job: Job, remote_dir: str, sent: dict[str, str] | None = None
) -> dict[str, str]:
    """Upload ``job.inputs`` into ``remote_dir``; returns ``{remote path: digest}``.

    ``sent`` maps remote paths to digests already uploaded; those are skipped.
    """
    base = Path(job.workdir) if job.workdir else Path.cwd()
    done: dict[str, str] = {}
    for name in job.inputs:
        local = Path(name) if Path(name).is_absolute() else base / name
        if not local.is_file():
            raise JobledgerError(f"job {job.name!r}: input file {local} does not exist")
        digest = file_digest(local)
        remote = posixpath.join(remote_dir, Path(name).name if Path(name).is_absolute() else name)
        if (sent or {}).get(remote) == digest:
            continue
        host.makedirs([posixpath.dirname(remote)])
        host.upload(str(local), remote)
        done[remote] = digest
    return done


def fetch_outputs(engine: Engine, keys: Iterable[str]) -> int:
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
            config = engine.host_config(alias)
        except JobledgerError:
            continue
        if not config.is_remote or not att.get("run_dir"):
            continue
        backend = engine.backend(alias)
        host = getattr(backend, "host", None)
        if host is None:
            continue
        fetched += _fetch_attempt(engine, host, key, number, raw, att)
    engine.ledger.flush()
    return fetched


def _fetch_attempt(engine: Engine, host: Host, key: str, number: int, raw: dict, att: dict) -> int:  # type: ignore[type-arg]
    root = engine.remote_root(att.get("host") or raw.get("host", "local"))
    rel = att["run_dir"]
    units = [rel] if not raw.get("array") else [f"{rel}/{i}" for i in raw["array"]]
    local_root = engine.project.root
    known = dict(att.get("fetched") or {})
    count = 0
    wanted: list[tuple[str, Path]] = []
    for unit in units:
        for name in UNIT_FILES:
            wanted.append((posixpath.join(root, unit, name), local_root / unit / name))
    workdir = raw.get("workdir") or posixpath.join(root, rel)
    for output in raw.get("outputs") or ():
        wanted.append((posixpath.join(workdir, output), local_root / rel / "outputs" / output))
    sizes = host.read_files([remote for remote, _ in wanted if remote.endswith(("exit", "json", "claim"))])
    recorded: dict[str, str] = {}
    for remote, local in wanted:
        small = sizes.get(remote, b"") if remote in sizes else None
        try:
            if small is not None:
                if small is None or small == b"":
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(small)
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
                host.download(remote, str(local))
        except JobledgerError:
            continue
        if local.exists():
            digest = file_digest(local)
            rel_local = str(local.relative_to(local_root))
            if known.get(rel_local) != digest:
                recorded[rel_local] = digest
            count += 1
    if recorded:
        engine.ledger.append(ev.NOTE, {"kind": "fetched", "key": key, "attempt": number, "files": recorded})
    return count
