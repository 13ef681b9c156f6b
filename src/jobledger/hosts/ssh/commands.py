"""One remote command over an SSH connection: the wrapped argv, the ssh client process,
its deadline, and reconnection while the command has not started (never after).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

import attrs

from jobledger.errors import CommandFailed, ConnectionFailed
from jobledger.hosts.ssh.connection import SshConnection
from jobledger.hosts.ssh.faults import _PERMANENT, _SSH_FAILED, _AttemptFailed, classify_ssh_error
from jobledger.hosts.ssh.scripts import (
    _ENV_NAME,
    _KILL_GRACE,
    _WRAPPER,
    _WRAPPER_RAW,
    _check_words,
    _seconds,
    _split_marker,
)


@attrs.frozen
class _Outcome:
    """One remote invocation: exit status, raw stdout, stderr, whether it started."""

    returncode: int
    stdout: bytes
    stderr: str
    started: bool
    elapsed: float


class _NoAnswer(Exception):
    """The local deadline passed: the ssh client was killed."""

    def __init__(self, stdout: bytes, deadline: float) -> None:
        self.stdout = stdout
        self.deadline = deadline
        super().__init__(deadline)


def _abandon_process(proc: Any) -> bytes:
    """Kill an ssh client and return what it wrote, without waiting for EOF.

    A multiplexing client hands its stdio to the master, which keeps the pipes open
    until the server side goes away: reading to EOF could wait minutes.
    """
    proc.kill()
    proc.wait()
    try:
        data, _err = proc.communicate(timeout=0.5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        data = b""
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    return data or b""


class SshCommands(SshConnection):
    """The command layer of :class:`~jobledger.hosts.ssh.SshHost`: runs argv lists on the
    connection, at most ``max_sessions`` at a time."""

    _retry_delays: tuple[float, ...]
    _slots: threading.BoundedSemaphore

    def _checked(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | IO[bytes] | None = None,
        timeout: float | None = None,
    ) -> _Outcome:
        """Run an internal command; raise :class:`CommandFailed` unless it exits 0."""
        args = tuple(argv)
        limit = self.config.command_timeout if timeout is None else timeout
        out = self._call(args, stdin=stdin, timeout=limit, env=None)
        self._raise_unless_ok(args, out)
        return out

    def _raise_unless_ok(self, argv: Sequence[str], out: _Outcome) -> None:
        if out.returncode != 0:
            shown = [a if len(a) < 80 else f"{a[:40]}..." for a in argv]
            raise CommandFailed(shown, out.returncode, "", out.stderr, self.alias)

    def _call(
        self,
        argv: tuple[str, ...],
        *,
        stdin: bytes | IO[bytes] | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
    ) -> _Outcome:
        """Run with stdout captured; turn a timeout into :class:`CommandFailed`."""
        return self._invoke(argv, stdin=stdin, timeout=timeout, env=env, sink=None)

    def _words(
        self, argv: Sequence[str], timeout: float | None, env: Mapping[str, str] | None, raw: bool
    ) -> list[str]:
        """The remote argv: wrapper, env, timeout, then the command."""
        words = ["-c", _WRAPPER_RAW if raw else _WRAPPER, "jobledger"]
        if env:
            assignments = []
            for key, value in env.items():
                if not _ENV_NAME.fullmatch(key):
                    raise ValueError(f"invalid environment variable name {key!r}")
                assignments.append(f"{key}={value}")
            words += ["env", *assignments]
        if timeout is not None and self._has_timeout:
            words += ["timeout", "-k", str(_KILL_GRACE), _seconds(timeout)]
        words += argv
        _check_words(words)
        return words

    def _invoke(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | IO[bytes] | None,
        timeout: float | None,
        env: Mapping[str, str] | None,
        sink: IO[bytes] | None,
    ) -> _Outcome:
        """Run on the connection, reconnecting while the command has not started."""
        delays = list(self._retry_delays)
        while True:
            try:
                shell, generation = self._connection()
                words = self._words(argv, timeout, env, raw=sink is not None)
                out = self._once(shell, words, stdin, sink, timeout)
            except _NoAnswer as exc:
                # the remote ``timeout`` would have answered by now: the connection hangs
                if self._has_timeout:
                    self._abandon(generation)
                why = (
                    f"no answer from {self.alias} within {exc.deadline:g}s (ssh client "
                    "killed; the connection was dropped, the next command reconnects)"
                )
                text = exc.stdout.decode(errors="replace")
                raise CommandFailed(argv, None, text, why, self.alias) from None
            except _AttemptFailed as failure:
                if not self._connected_once or failure.kind in _PERMANENT or not delays:
                    raise ConnectionFailed(self._fault_message(failure), self.alias) from None
                time.sleep(delays.pop(0))
                continue
            if out.started:
                if out.returncode == _SSH_FAILED and not self._master_alive():
                    self._reset(generation)
                    raise ConnectionFailed(
                        f"host {self.alias!r}: the connection was lost while running "
                        f"{' '.join(argv)[:200]!r}; it may have run partly or completely, "
                        "so it is not retried (the next command reconnects)",
                        self.alias,
                    )
                if timeout is not None and out.returncode == 124 and out.elapsed >= 0.9 * timeout:
                    text = out.stdout.decode(errors="replace")
                    why = f"timed out after {timeout:g}s (killed on {self.alias})"
                    raise CommandFailed(argv, None, text, why, self.alias)
                return out
            if out.returncode != _SSH_FAILED:
                return out  # the wrapper itself could not start: report as is
            kind = classify_ssh_error(out.stderr)
            if kind != "session refused":
                self._reset(generation)
            if kind in _PERMANENT or not delays:
                raise ConnectionFailed(self._fault_message(_AttemptFailed(kind, out.stderr)), self.alias)
            if stdin is not None and not isinstance(stdin, bytes):
                stdin.seek(0)
            if sink is not None:
                sink.seek(0)
                sink.truncate()
            time.sleep(delays.pop(0))

    def _once(
        self,
        shell: Any,
        words: list[str],
        stdin: bytes | IO[bytes] | None,
        sink: IO[bytes] | None,
        timeout: float | None,
    ) -> _Outcome:
        """One ssh client process through the master."""
        deadline = None
        if timeout is not None:
            deadline = timeout + _KILL_GRACE + max(5.0, self.config.connect_timeout)
        kwargs: dict[str, Any] = {"stdout": sink} if sink is not None else {}
        if stdin is None:
            kwargs["stdin"] = subprocess.DEVNULL
        else:
            kwargs["stdin"] = subprocess.PIPE if isinstance(stdin, bytes) else stdin
        with self._slots:
            start = time.monotonic()
            proc = shell[words].popen(**kwargs)
            try:
                data, err = proc.communicate(
                    input=stdin if isinstance(stdin, bytes) else None, timeout=deadline
                )
            except subprocess.TimeoutExpired:
                assert deadline is not None
                raise _NoAnswer(_abandon_process(proc), deadline) from None
            except BaseException:
                _abandon_process(proc)
                raise
            elapsed = time.monotonic() - start
        stdout, started_out = _split_marker(data or b"")
        stderr_b, started = _split_marker(err or b"")
        if sink is None and not started_out:
            stdout = data or b""
        return _Outcome(int(proc.returncode), stdout, stderr_b.decode(errors="replace"), started, elapsed)
