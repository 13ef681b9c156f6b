"""This machine as a :class:`~jobledger.hosts.base.Host` (commands through plumbum)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plumbum import ProcessTimedOut, local
from plumbum.commands.processes import CommandNotFound

from jobledger.errors import CommandFailed
from jobledger.hosts.base import CommandResult, Host


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
