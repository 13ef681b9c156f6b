"""The connection of an SSH host: the OpenSSH multiplexing master (started or joined,
stopped when we own it), ``ssh -G`` options and the plumbum machine on top of it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import threading
from typing import Any

import attrs
from plumbum import ProcessTimedOut, local
from plumbum.commands.processes import CommandNotFound, ProcessExecutionError
from plumbum.machines.ssh_machine import SshMachine

from jobledger.errors import HostError
from jobledger.hosts.ssh.faults import _SSH_FAILED, SshFaults, _AttemptFailed, classify_ssh_error
from jobledger.hosts.ssh.scripts import _PROBE, _PROBE_MARK


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


class SshConnection(SshFaults):
    """The connection layer of :class:`~jobledger.hosts.ssh.SshHost`: one multiplexed
    connection, opened on demand and dropped when it is lost or hangs."""

    connections_opened: int
    _persist: int
    _lock: threading.RLock
    _machine: SshMachine | None
    _shell: Any
    _generation: int
    _connected_once: bool
    _opts: list[str]
    _has_timeout: bool
    _master: _Master

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
