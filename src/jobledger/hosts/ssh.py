"""A remote machine over SSH as a :class:`~jobledger.hosts.base.Host` (plumbum + OpenSSH).

One TCP connection per host carries every command and file transfer: OpenSSH
multiplexing (``ControlMaster=auto``, a ``ControlPath`` socket in a private 0700
directory, ``ControlPersist``). A user whose ``~/.ssh/config`` (or ``ssh_config``) already
sets a ``ControlPath`` (typical with 2FA) keeps it, so an existing master is reused.

Every remote command is one argv list, each word quoted for the remote shell by
plumbum::

    /bin/sh -c WRAPPER jobledger [env K=V ...] [timeout -k 5 SECS] ARGV...

``WRAPPER`` prints a start marker on stdout and stderr, then ``exec "$@"``: output
printed before the marker (noisy shell start-up files) is dropped, and an ``ssh`` exit
status 255 *without* the marker means ssh itself failed before the command started, so
the command can be retried safely on a new connection. A command that started and then
lost its connection is never re-run (it may have been ``sbatch``): that raises
:class:`~jobledger.errors.ConnectionFailed`. The remote ``timeout`` kills the command
(and its process group) when the caller's timeout expires; a local deadline a little
later kills the ``ssh`` client if the host stops answering.

Connection faults become :class:`~jobledger.errors.ConnectionFailed` whose message names
the host alias, the cause (authentication, unknown or changed host key, refused,
unresolvable, timed out, unreachable) and what to change. Once a host has connected, a
lost connection is re-established with backoff (0.5, 1, 2, 4 s by default).

Assumptions about the remote host: a POSIX ``/bin/sh`` and a login shell that parses
POSIX single quotes (sh, bash, zsh, ksh; not csh/tcsh), ``mktemp`` and ``base64``
(coreutils or busybox), and ``timeout`` (without it commands are bounded by the local
deadline only).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs
from plumbum import ProcessTimedOut, local
from plumbum.commands.processes import CommandNotFound, ProcessExecutionError
from plumbum.machines.ssh_machine import SshMachine

from jobledger.errors import CommandFailed, ConnectionFailed, HostError
from jobledger.hosts.base import CommandResult, Host

if TYPE_CHECKING:
    from jobledger.config import HostConfig

_STARTED = "__jobledger_started__"
#: Marks the start of the command on both streams, then becomes the command.
_WRAPPER = f"printf '%s\\n' {_STARTED}; printf '%s\\n' {_STARTED} >&2; exec \"$@\""
#: Same, stderr only: for downloads, whose stdout is the file.
_WRAPPER_RAW = f"printf '%s\\n' {_STARTED} >&2; exec \"$@\""
_PROBE_MARK = "__jobledger_probe__"
#: Run by the login shell at connect time (fixed text, no user data).
_PROBE = f"echo {_PROBE_MARK}; command -v timeout || echo {_PROBE_MARK}no-timeout"

#: ``read_files``: $1 = byte limit or "all", then paths. Per path: ``M`` (missing or not a
#: regular file), ``E`` (unreadable), or ``F``, the content in base64 and a ``.`` line
#: (base64 never contains a dot). Binary-safe, one process per file (two with a limit),
#: and the framing stays exact when a file changes while it is read (job output does).
_READ_SCRIPT = r"""
command -v base64 >/dev/null || { echo "read_files: no base64 on this host" >&2; exit 5; }
limit=$1; shift
for p do
  if [ ! -f "$p" ]; then printf 'M\n'; continue; fi
  if [ ! -r "$p" ]; then printf 'E\n'; continue; fi
  printf 'F\n'
  if [ "$limit" = all ]; then base64 <"$p"; else tail -c "$limit" <"$p" | base64; fi
  printf '.\n'
done
"""

#: ``write_file`` / ``upload``: $1 = path, $2 = octal mode; data on stdin. Atomic: a
#: temporary name in the target directory, then ``mv``.
_WRITE_SCRIPT = r"""
p=$1
case $p in */*) d=${p%/*}; [ -n "$d" ] || d=/ ;; *) d=. ;; esac
[ -d "$d" ] || mkdir -p -- "$d" || exit 1
t=$(mktemp "$d/.jobledger-tmp.XXXXXX") || exit 1
if cat >"$t" && chmod "$2" "$t" && mv -f -- "$t" "$p"; then exit 0; fi
rm -f -- "$t"
exit 1
"""

_WHICH_MARK = "__jobledger_which__"
#: ``which``: the first executable regular file named $1 on the PATH commands get.
_WHICH_SCRIPT = rf"""
case $1 in
  */*) if [ -f "$1" ] && [ -x "$1" ]; then printf '{_WHICH_MARK}%s\n' "$1"; fi; exit 0 ;;
esac
set -f
IFS=:
for d in $PATH; do
  [ -n "$d" ] || d=.
  if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then printf '{_WHICH_MARK}%s\n' "$d/$1"; exit 0; fi
done
"""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARG_BYTES_PER_READ = 64 * 1024  # paths per read_files command, well under ARG_MAX
_KILL_GRACE = 5  # seconds between the remote timeout's TERM and KILL
_SSH_FAILED = 255

#: (kind, lower-case fragments of ssh's stderr), first match wins.
_FAULTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("host key changed", ("remote host identification has changed", "host key for")),
    ("unknown host key", ("host key is known for", "host key verification failed")),
    (
        "authentication failed",
        ("permission denied", "too many authentication failures", "no supported authentication"),
    ),
    (
        "host name not resolved",
        ("could not resolve hostname", "name or service not known", "name resolution"),
    ),
    ("connection refused", ("connection refused",)),
    ("timed out", ("timed out",)),
    ("unreachable", ("no route to host", "network is unreachable", "host is unreachable")),
    ("session refused", ("session open refused", "administratively prohibited")),
    ("configuration error", ("bad configuration option", "config file", "garbage at end")),
    (
        "connection closed",
        ("connection closed", "connection reset", "kex_exchange_identification", "broken pipe"),
    ),
)
#: Faults that retrying cannot fix.
_PERMANENT = frozenset(
    {"host key changed", "unknown host key", "authentication failed", "configuration error"}
)


def classify_ssh_error(stderr: str) -> str:
    """The kind of an ssh failure from its stderr (``"other"`` when unrecognised)."""
    text = stderr.lower()
    for kind, fragments in _FAULTS:
        if any(fragment in text for fragment in fragments):
            return kind
    return "other"


@attrs.define
class _Master:
    """What is needed to stop the multiplexing master (shared with the finalizer)."""

    args: list[str] = attrs.Factory(list)
    target: str = ""
    control_dir: str | None = None
    owned: bool = False


def _stop_master(master: _Master) -> None:
    """``ssh -O exit`` the master if we started it, then remove our control directory."""
    if master.owned and master.args:
        with contextlib.suppress(Exception):
            local["ssh"][[*master.args, "-O", "exit", master.target]].run(retcode=None, timeout=10)
    master.owned = False
    if master.control_dir is not None:
        shutil.rmtree(master.control_dir, ignore_errors=True)
        master.control_dir = None


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


class _AttemptFailed(Exception):
    """One connection attempt failed; ``kind`` from :func:`classify_ssh_error`."""

    def __init__(self, kind: str, stderr: str) -> None:
        self.kind = kind
        self.stderr = stderr
        super().__init__(kind)


def _split_marker(data: bytes) -> tuple[bytes, bool]:
    """Drop everything up to and including the start marker line; (rest, found)."""
    mark = _STARTED.encode() + b"\n"
    at = data.find(mark)
    if at < 0:
        return data, False
    return data[at + len(mark) :], True


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


def _seconds(value: float) -> str:
    """Seconds for ``timeout`` (no exponent notation)."""
    return f"{max(value, 0.001):.3f}".rstrip("0").rstrip(".")


def _remote_path(path: str) -> str:
    """Relative paths get ``./`` so no word of a script starts with ``-``."""
    if not path:
        raise ValueError("empty remote path")
    return path if path.startswith("/") else f"./{path}"


def _check_words(words: Sequence[str]) -> None:
    for word in words:
        if "\x00" in word:
            raise ValueError(f"NUL byte in argument {word!r}")


class SshHost(Host):
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

    # ---------------------------------------------------------------- connection
    def _connection(self) -> tuple[Any, int]:
        """plumbum's ``/bin/sh`` command on a live machine, and its generation."""
        with self._lock:
            if self._machine is not None and not self._session_alive(self._machine):
                self._drop_machine()
            if self._machine is None:
                self._connect()
            return self._shell, self._generation

    @staticmethod
    def _session_alive(machine: SshMachine) -> bool:
        session = getattr(machine, "_session", None)
        alive = getattr(session, "alive", None)
        try:
            return bool(alive()) if callable(alive) else False
        except Exception:  # a closed session raises on any access
            return False

    def _abandon(self, generation: int) -> None:
        """Drop a hung connection of ``generation``: close the machine, stop our master."""
        with self._lock:
            if self._generation == generation:
                self.close()

    def _reset(self, generation: int) -> None:
        """Forget the machine of ``generation`` (others may have reconnected already)."""
        with self._lock:
            if self._generation == generation:
                self._drop_machine()

    def _drop_machine(self) -> None:
        machine, self._machine, self._shell = self._machine, None, None
        if machine is not None:
            with contextlib.suppress(Exception):
                machine.close()

    def _ssh_args(self) -> list[str]:
        """Our options plus ``-p``/``-i`` (plumbum adds those itself for its machine)."""
        args = list(self._opts)
        if self.config.port:
            args += ["-p", str(self.config.port)]
        if self.config.identity_file:
            args += ["-i", self.config.identity_file]
        return args

    def _ssh(self, *extra: str) -> Any:
        """The local ``ssh`` command with our options and ``extra``."""
        try:
            return local["ssh"][[*self._ssh_args(), *extra]]
        except CommandNotFound:
            raise HostError(
                f"host {self.alias!r}: no `ssh` client on this machine (install OpenSSH)",
                self.alias,
            ) from None

    def _base_opts(self) -> list[str]:
        """-F, forced BatchMode, the user's options, then our defaults (first value wins)."""
        c = self.config
        opts = ["-F", c.ssh_config] if c.ssh_config else []
        opts += ["-o", "BatchMode=yes"]
        for option in c.ssh_options:
            opts += [option] if option.startswith("-") else ["-o", option]
        ours = (
            f"ConnectTimeout={max(1, math.ceil(c.connect_timeout))}",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
            "RequestTTY=no",
        )
        for option in ours:
            opts += ["-o", option]
        return opts

    def _resolve(self) -> None:
        """Read the effective configuration (``ssh -G``) and choose the mux options."""
        self._opts = self._base_opts()
        code, out, err = self._ssh("-G", self.target).run(retcode=None, timeout=30)
        if code != 0:
            raise _AttemptFailed("configuration error", err)
        effective: dict[str, list[str]] = {}
        for line in out.splitlines():
            key, _, value = line.partition(" ")
            effective.setdefault(key.lower(), []).append(value)
        self._effective = effective
        user_path = effective.get("controlpath", ["none"])[0]
        mux = ["-o", "ControlMaster=auto"]
        if user_path == "none":
            if self._master.control_dir is None:
                self._master.control_dir = self._private_dir()
            mux += ["-o", f"ControlPath={self._master.control_dir}/cm-%C"]
        if effective.get("controlpersist", ["no"])[0] in ("no", "false", "0"):
            mux += ["-o", f"ControlPersist={self._persist}"]
        self._opts += mux
        self._master.args = self._ssh_args()

    @staticmethod
    def _private_dir() -> str:
        """A short 0700 directory for the control socket (socket paths max ~104 bytes)."""
        base = os.environ.get("XDG_RUNTIME_DIR", "")
        if not base or len(base) > 40 or not os.access(base, os.W_OK):
            base = "/tmp"
        return tempfile.mkdtemp(prefix="jl-", dir=base)

    def _master_alive(self) -> bool:
        code, _out, _err = self._ssh("-O", "check", self.target).run(retcode=None, timeout=10)
        return bool(code == 0)

    def _connect(self) -> None:
        """Start (or join) the master with a plain ``ssh``, then build the plumbum machine."""
        if self._effective is None:
            self._resolve()
        if not self._master.owned:
            # a master at the user's own ControlPath that runs already is theirs: keep it
            self._master.owned = self._master.control_dir is not None or not self._master_alive()
        budget = 3 * self.config.connect_timeout + 5
        try:
            code, out, err = self._ssh(self.target, _PROBE).run(retcode=None, timeout=budget)
        except ProcessTimedOut:
            raise _AttemptFailed("timed out", f"no answer within {budget:g}s") from None
        if code != 0 or _PROBE_MARK not in out:
            raise _AttemptFailed(classify_ssh_error(err) if code == _SSH_FAILED else "other", err)
        self._has_timeout = f"{_PROBE_MARK}no-timeout" not in out
        c = self.config
        try:
            machine = SshMachine(
                self.target,
                port=c.port,
                keyfile=c.identity_file,
                ssh_opts=self._opts,
                scp_opts=self._opts,
                connect_timeout=c.connect_timeout + 5,
            )
        except (ProcessExecutionError, ProcessTimedOut, EOFError, OSError) as exc:
            # plumbum keeps one stderr line: ask ssh again for the whole story
            code, _out, err = self._ssh(self.target, "true").run(retcode=None, timeout=budget)
            text = err if code != 0 else f"{type(exc).__name__}: {exc}"
            raise _AttemptFailed(classify_ssh_error(text), text) from None
        self._machine = machine
        self._shell = machine["/bin/sh"]
        self._generation += 1
        self.connections_opened += 1
        self._connected_once = True

    def _fault_message(self, failure: _AttemptFailed) -> str:
        """A one-paragraph explanation naming the alias, the cause and the fix."""
        eff = self._effective or {}

        def first(key: str, default: str) -> str:
            return eff.get(key, [default])[0]

        host, port, user = first("hostname", self.target), first("port", "22"), first("user", "?")
        where = f"host {self.alias!r} (ssh target {self.target!r} -> {user}@{host} port {port})"
        command = " ".join(
            ["ssh"]
            + (["-F", self.config.ssh_config] if self.config.ssh_config else [])
            + (["-p", str(self.config.port)] if self.config.port else [])
            + [self.target]
        )
        known = " ".join(eff.get("userknownhostsfile", ["~/.ssh/known_hosts"]))
        keys = ", ".join(eff.get("identityfile", [])) or "ssh's default keys"
        hostport = host if port == "22" else f"[{host}]:{port}"
        config = f"[hosts.{self.alias}]"
        advice = {
            "authentication failed": (
                f"authentication failed: the server rejected the key(s) {keys} for user "
                f"{user!r}. Check `identity_file` / `ssh` (user@host) in {config} and that "
                "the public key is in ~/.ssh/authorized_keys on the host (BatchMode: no "
                "password or passphrase prompts; load the key into ssh-agent)"
            ),
            "unknown host key": (
                f"unknown host key: {hostport} is not in the known_hosts file(s) {known}. "
                f"Check the fingerprint with the host's admins, then add it, e.g. connect "
                f"once interactively (`{command}`) or append `ssh-keyscan -p {port} "
                f"{host}` output to {known.split()[0]}"
            ),
            "host key changed": (
                f"the host key of {hostport} CHANGED since it was recorded in {known} "
                "(host reinstalled, or someone in the middle). If the change is expected, "
                f"remove the old entry: `ssh-keygen -R '{hostport}' -f {known.split()[0]}`"
            ),
            "connection refused": (
                f"connection refused by {host} port {port}: no SSH server listens there; "
                f"check `ssh`/`port` in {config} (or the host is restarting)"
            ),
            "host name not resolved": (
                f"cannot resolve the host name {host!r}: check `ssh` in {config}, the ssh "
                "config alias, or DNS/VPN"
            ),
            "timed out": (
                f"no answer from {host} port {port} within {self.config.connect_timeout:g}s: "
                f"host down, firewall, or VPN needed (raise `connect_timeout` in {config} "
                "if it is only slow)"
            ),
            "unreachable": f"{host} is unreachable (no route / network down; VPN?)",
            "connection closed": (
                "the server closed the connection during setup (sshd refusing: MaxStartups, "
                "AllowUsers, fail2ban; or a ProxyJump hop failed)"
            ),
            "session refused": "the server refused another session on the connection",
            "configuration error": (
                f"the ssh configuration is invalid (`ssh_config`/`ssh_options` in {config})"
            ),
        }.get(failure.kind, "ssh failed")
        lines = [line.strip() for line in failure.stderr.splitlines() if line.strip("@ \t")]
        said = " | ".join(lines[-5:])[-800:] or "no message"
        return f"cannot connect to {where}: {advice}. [ssh: {said}]"
