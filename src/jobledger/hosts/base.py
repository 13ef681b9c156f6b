"""A host: where commands run and files live, behind one interface (local or SSH)."""

from __future__ import annotations

import abc
import shlex
from collections.abc import Mapping, Sequence

import attrs

from jobledger.errors import CommandFailed


@attrs.frozen
class CommandResult:
    """Outcome of one command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """Exit code 0."""
        return self.returncode == 0


class Host(abc.ABC):
    """Runs argv lists and moves files on one machine.

    Commands are argv lists, never shell strings built from user input; an SSH host
    quotes each word for the remote shell.
    """

    alias: str

    @property
    @abc.abstractmethod
    def is_local(self) -> bool:
        """True when paths on this host are paths on this machine."""

    @abc.abstractmethod
    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float | None = 60.0,
        check: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv``; with ``check`` raise :class:`CommandFailed` on a non-zero exit."""

    @abc.abstractmethod
    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace ``path`` (parents created)."""

    @abc.abstractmethod
    def read_files(self, paths: Sequence[str], limit: int | None = None) -> dict[str, bytes | None]:
        """Contents of each path (``None`` when missing); ``limit`` keeps only the last bytes."""

    @abc.abstractmethod
    def makedirs(self, paths: Sequence[str]) -> None:
        """Create directories (and parents)."""

    @abc.abstractmethod
    def upload(self, local_path: str, remote_path: str) -> None:
        """Copy a local file to this host."""

    @abc.abstractmethod
    def download(self, remote_path: str, local_path: str) -> None:
        """Copy a file of this host to the local machine."""

    def read_file(self, path: str, limit: int | None = None) -> bytes | None:
        """Contents of one file, or ``None``."""
        return self.read_files([path], limit).get(path)

    def user(self) -> str:
        """The login user on this host."""
        return self.run(["id", "-un"], check=True).stdout.strip()

    def which(self, command: str) -> str | None:
        """Path of ``command`` on this host's PATH, or ``None``."""
        result = self.run(["sh", "-c", f"command -v {shlex.quote(command)}"], timeout=30)
        return result.stdout.strip() or None if result.ok else None

    def check_result(self, result: CommandResult) -> CommandResult:
        """Raise :class:`CommandFailed` unless ``result`` succeeded."""
        if not result.ok:
            raise CommandFailed(result.argv, result.returncode, result.stdout, result.stderr, self.alias)
        return result

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def describe(self) -> str:
        """Human description for messages."""
        return self.alias
