"""The SSH :class:`~jobledger.hosts.base.Host`: commands, file transfers and closing, on
top of the command, connection and fault layers (see :mod:`jobledger.hosts.ssh`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plumbum.machines.ssh_machine import SshMachine

from jobledger.errors import HostError
from jobledger.hosts.base import CommandResult
from jobledger.hosts.ssh.commands import SshCommands
from jobledger.hosts.ssh.connection import _Master, _stop_master
from jobledger.hosts.ssh.scripts import (
    _ARG_BYTES_PER_READ,
    _READ_SCRIPT,
    _WHICH_MARK,
    _WHICH_SCRIPT,
    _WRITE_SCRIPT,
    _remote_path,
)

if TYPE_CHECKING:
    from jobledger.config import HostConfig


class SshHost(SshCommands):
    """A host reached with OpenSSH through one multiplexed connection.

    Parameters
    ----------
    config
        The ``[hosts.NAME]`` table: ``ssh`` target (``user@host`` or an alias of the ssh
        configuration), ``port``, ``identity_file``, ``ssh_config`` (``-F``),
        ``ssh_options`` (``Key=Value`` for ``-o``, before ours so they win; items starting
        with ``-`` are passed as they are), ``connect_timeout``, ``command_timeout``
        (bound for internal commands and the base of transfer deadlines).
    retry_delays
        Sleeps between reconnection attempts after a connection was lost.
    control_persist
        Seconds the master outlives its last client (if :meth:`close` is never called).
    max_sessions
        Concurrent commands on the connection (sshd's ``MaxSessions`` is 10 by default,
        and plumbum's shell holds one).
    """

    def __init__(
        self,
        config: HostConfig,
        *,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
        control_persist: int = 120,
        max_sessions: int = 8,
    ) -> None:
        if not config.ssh:
            raise HostError(f"host {config.name!r} has no ssh target (set `ssh`)", config.name)
        self.alias = config.name
        self.config = config
        self.target = config.ssh
        #: Multiplexed connections (plumbum machines) opened so far.
        self.connections_opened = 0
        self._retry_delays = tuple(retry_delays)
        self._persist = control_persist
        self._lock = threading.RLock()
        self._slots = threading.BoundedSemaphore(max_sessions)
        self._machine: SshMachine | None = None
        self._shell: Any = None  # RemoteCommand for /bin/sh on the current machine
        self._generation = 0
        self._connected_once = False
        self._effective: dict[str, list[str]] | None = None  # ``ssh -G``
        self._opts: list[str] = []  # -F and -o options (plumbum adds -p/-i itself)
        self._has_timeout = True
        self._user: str | None = None
        self._master = _Master(target=self.target)
        self._finalizer = weakref.finalize(self, _stop_master, self._master)

    # ------------------------------------------------------------------ properties
    @property
    def is_local(self) -> bool:
        """Always false: paths are on the remote machine."""
        return False

    def describe(self) -> str:
        """``alias (ssh target)``."""
        return f"{self.alias} ({self.target})"

    # ------------------------------------------------------------------- commands
    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float | None = 60.0,
        check: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run ``argv`` remotely; on timeout the remote process group is killed.

        Raises :class:`CommandFailed` on timeout (``returncode`` None) and, with
        ``check``, on a non-zero exit; :class:`ConnectionFailed` when the host cannot be
        reached or the connection is lost while the command runs.
        """
        args = tuple(argv)
        if not args:
            raise ValueError("empty argv")
        data = stdin.encode() if stdin is not None else None
        out = self._call(args, stdin=data, timeout=timeout, env=env)
        result = CommandResult(args, out.returncode, out.stdout.decode(errors="replace"), out.stderr)
        if check:
            self.check_result(result)
        return result

    def user(self) -> str:
        """The login user (asked once per host)."""
        if self._user is None:
            mark = "__jobledger_user__"
            script = f"printf '{mark}%s\\n' \"$(id -un)\""
            result = self._checked(["/bin/sh", "-c", script])
            found = re.search(rf"{mark}(.*)", result.stdout.decode(errors="replace"))
            if not found or not found.group(1):
                raise HostError(f"host {self.alias!r}: cannot tell the login user", self.alias)
            self._user = found.group(1)
        return self._user

    def which(self, command: str) -> str | None:
        """Path of ``command`` on the PATH remote commands get (``None`` if absent).

        Only executable regular files count (no shell builtins, aliases or functions).
        """
        if not command:
            return None
        out = self._checked(["/bin/sh", "-c", _WHICH_SCRIPT, "which", command])
        found = re.search(rf"{_WHICH_MARK}(.*)", out.stdout.decode(errors="replace"))
        return found.group(1) if found else None

    # ---------------------------------------------------------------------- files
    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or replace ``path`` atomically (parents created), one command."""
        target = _remote_path(path)
        argv = ["/bin/sh", "-c", _WRITE_SCRIPT, "write_file", target, f"{mode:o}"]
        self._checked(argv, stdin=bytes(data), timeout=self._transfer_timeout(len(data)))

    def read_files(self, paths: Sequence[str], limit: int | None = None) -> dict[str, bytes | None]:
        """Contents of each path (``None`` when missing or not a regular file).

        One remote command per 64 KB of path names; binary-safe (base64 on the wire);
        with ``limit`` only the last ``limit`` bytes. An unreadable file raises
        :class:`HostError`.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        out: dict[str, bytes | None] = {}
        for batch in self._batches(list(dict.fromkeys(paths))):
            size = "all" if limit is None else str(limit)
            names = [_remote_path(p) for p in batch]
            argv = ["/bin/sh", "-c", _READ_SCRIPT, "read_files", size, *names]
            result = self._checked(argv)
            out.update(self._parse_read(batch, result.stdout))
        return out

    def makedirs(self, paths: Sequence[str]) -> None:
        """``mkdir -p`` all paths in one command."""
        if paths:
            self._checked(["mkdir", "-p", "--", *(_remote_path(p) for p in paths)])

    def upload(self, local_path: str, remote_path: str) -> None:
        """Stream a local file over the connection; atomic on the remote side.

        Keeps the file's permission bits (not its times or owner).
        """
        info = Path(local_path).stat()
        target = _remote_path(remote_path)
        mode = f"{stat.S_IMODE(info.st_mode):o}"
        argv = ["/bin/sh", "-c", _WRITE_SCRIPT, "upload", target, mode]
        with Path(local_path).open("rb") as source:
            self._checked(argv, stdin=source, timeout=self._transfer_timeout(info.st_size))

    def download(self, remote_path: str, local_path: str) -> None:
        """Stream a remote file to ``local_path`` (a temporary name, then rename)."""
        dest = Path(local_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as sink:
                argv = ("cat", "--", _remote_path(remote_path))
                timeout = 10 * self.config.command_timeout  # size unknown until it arrives
                out = self._invoke(argv, stdin=None, timeout=timeout, env=None, sink=sink)
                self._raise_unless_ok(argv, out)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)

    # --------------------------------------------------------------------- closing
    def close(self) -> None:
        """Close plumbum's shell, stop the master we started (``ssh -O exit``).

        The host stays usable: the next command connects again.
        """
        with self._lock:
            self._drop_machine()
            _stop_master(self._master)
            self._effective = None

    # ============================================================== internals
    def _transfer_timeout(self, size: int) -> float:
        """Deadline for moving ``size`` bytes: command_timeout plus 1 s per MB."""
        return self.config.command_timeout + size / 1e6

    def _batches(self, paths: list[str]) -> Iterator[list[str]]:
        batch: list[str] = []
        size = 0
        for path in paths:
            if batch and size + len(path) > _ARG_BYTES_PER_READ:
                yield batch
                batch, size = [], 0
            batch.append(path)
            size += len(path) + 1
        if batch:
            yield batch

    def _parse_read(self, paths: list[str], data: bytes) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        pos = 0
        for path in paths:
            head, pos = data[pos : pos + 2], pos + 2
            if head == b"M\n":
                out[path] = None
            elif head == b"E\n":
                raise HostError(f"host {self.alias!r}: cannot read {path}: permission denied")
            elif head == b"F\n" and (end := data.find(b".\n", pos)) >= 0:
                try:
                    out[path] = base64.b64decode(data[pos:end])
                except binascii.Error as exc:
                    raise HostError(f"host {self.alias!r}: garbled content of {path}") from exc
                pos = end + 2
            else:
                raise HostError(
                    f"host {self.alias!r}: unexpected read_files output at {path}: "
                    f"{data[pos - 2 : pos + 40]!r}"
                )
        return out
