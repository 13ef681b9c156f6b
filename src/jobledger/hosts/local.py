"""This machine as a :class:`~jobledger.hosts.base.Host` (commands through plumbum)."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plumbum import ProcessTimedOut, local
from plumbum.commands.processes import CommandNotFound

from jobledger.errors import CommandFailed, ResourceError
from jobledger.hosts.base import CommandResult, Host
from jobledger.model.resources import Resources
from jobledger.model.units import format_memory


class LocalHost(Host):
    """Runs commands on this machine; paths are local paths."""

    def __init__(self, alias: str = "local") -> None:
        self.alias = alias

    @property
    def is_local(self) -> bool:
        """Always true."""
        return True

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float | None = 60.0,
        check: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` locally (no shell)."""
        args = tuple(argv)
        # resolve on the current PATH: plumbum's own copy of the environment is the one
        # it saw when it was imported
        program = shutil.which(args[0]) if "/" not in args[0] else args[0]
        try:
            if program is None:
                raise CommandNotFound(args[0], [])
            command: Any = local[program][list(args[1:])]
        except CommandNotFound:
            result = CommandResult(args, 127, "", f"{args[0]}: command not found")
        else:
            # plumbum's local.env is a copy taken at import; jobs must see the current one
            command = command.with_env(**{**os.environ, **(env or {})})
            if stdin is not None:
                command = command << stdin
            try:
                code, out, err = command.run(retcode=None, timeout=timeout)
            except ProcessTimedOut:
                raise CommandFailed(args, None, "", f"timed out after {timeout}s", self.alias) from None
            result = CommandResult(args, int(code), out, err)
        if check:
            self.check_result(result)
        return result

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write atomically (temporary file, then rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.chmod(mode)
        tmp.replace(target)

    def read_files(self, paths: Sequence[str], limit: int | None = None) -> dict[str, bytes | None]:
        """Read local files."""
        out: dict[str, bytes | None] = {}
        for path in paths:
            try:
                with Path(path).open("rb") as fh:
                    if limit is not None:
                        size = fh.seek(0, os.SEEK_END)
                        fh.seek(max(0, size - limit))
                    out[path] = fh.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                out[path] = None
        return out

    def makedirs(self, paths: Sequence[str]) -> None:
        """``mkdir -p`` each path."""
        for path in paths:
            Path(path).mkdir(parents=True, exist_ok=True)

    def upload(self, local_path: str, remote_path: str) -> None:
        """Copy within this machine (no-op when the paths are the same file)."""
        if os.path.abspath(local_path) != os.path.abspath(remote_path):
            Path(remote_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local_path, remote_path)

    def download(self, remote_path: str, local_path: str) -> None:
        """Copy within this machine (no-op when the paths are the same file)."""
        self.upload(remote_path, local_path)

    def which(self, command: str) -> str | None:
        """Path of an executable ``command`` on PATH (builtins do not count)."""
        return shutil.which(command)

    def user(self) -> str:
        """The current user."""
        import getpass

        return getpass.getuser()


# ---------------------------------------------------------------------- what fits here
@functools.cache
def machine_limits() -> tuple[int, int | None]:
    """This machine's CPU count and total memory in MB (``None`` when unknown)."""
    cpus = os.cpu_count() or 1
    memory: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) // 1024  # kB
                    break
    except (OSError, ValueError, IndexError):
        pass
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
        except (ValueError, OSError, AttributeError):
            memory = None
    return cpus, memory


LOCAL_OVERCOMMIT = 16
"""How far past this machine's size the local backend takes a request.

A job asking for more CPUs than the machine's budget runs alone (see
:mod:`jobledger.engine.local`) and memory is not enforced locally, so the seeds' examples
(``cpus=4, memory="16G"`` on a 2-core laptop) run, slower. What lies beyond 16 times the
machine is no request this machine could ever honour (``cpus=10**9``, ``"99999999P"``)."""


def check_fits_machine(
    job: str, resources: Resources, cpus: int, memory_mb: int | None, *, overcommit: int = 1
) -> None:
    """Refuse a request this machine can never satisfy (pure: the limits are arguments).

    ``cpus`` is the machine's CPU count and ``memory_mb`` its total RAM in MB (``None``:
    unknown, not checked); a request above ``overcommit`` times either is refused with a
    :class:`~jobledger.errors.ResourceError` naming the job, the field, the value asked
    for and the machine's limit.
    """
    context = f"job {job!r} on the local host"
    beyond = f" (the local backend runs up to {overcommit}x the machine)" if overcommit > 1 else ""
    if resources.cpus is not None and resources.cpus > cpus * overcommit:
        raise ResourceError("cpus", resources.cpus, f"this machine has {cpus} CPUs{beyond}", context)
    if memory_mb is None:
        return
    total = f"this machine has {format_memory(memory_mb)} of memory in total{beyond}"
    if resources.memory is not None and resources.memory > memory_mb * overcommit:
        raise ResourceError("memory", format_memory(resources.memory), total, context)
    per_cpu = resources.memory_per_cpu
    count = resources.cpus or 1
    if per_cpu is not None and per_cpu * count > memory_mb * overcommit:
        whole = format_memory(per_cpu * count)
        raise ResourceError(
            "memory_per_cpu", format_memory(per_cpu), f"{count} CPU(s) x that is {whole}; {total}", context
        )
