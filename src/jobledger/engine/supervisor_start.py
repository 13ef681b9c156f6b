"""The supervisor's direct starts: a unit's task run without a shell, with the wrapper's
records written around it (see :mod:`jobledger.engine.supervisor`; standard library only,
since the supervisor runs without site-packages)."""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Any

INDEX_VARS = ("JOBLEDGER_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID", "SGE_TASK_ID", "HPC_ARRAY_TASK_ID")
BASH = "/bin/bash"
#: Signals the supervisor ignores (or Python does) that its children must not inherit
#: ignored: a task ignoring SIGTERM could not be stopped, a shell could not trap it.
_DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD)


def _which(name: str, search: str) -> str | None:
    """``name`` looked up on the task's own PATH ``search`` (as the shell would)."""
    if "/" in name:
        return name
    for folder in search.split(os.pathsep):
        path = os.path.join(folder or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _write_file(path: str, text: str, exclusive: bool = False) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, text.encode(errors="surrogateescape"))
    finally:
        os.close(fd)


class Unit:
    """One started unit: what its end needs."""

    __slots__ = ("cpus", "direct", "marker", "pgid", "started", "unit")

    def __init__(self, cpus: int, direct: bool, pgid: int, started: float, unit: str, marker: str) -> None:
        self.cpus, self.direct, self.pgid, self.started = cpus, direct, pgid, started
        self.unit, self.marker = unit, marker


def spawn_wrapper(script: str, env: dict[str, str]) -> int | None:
    """Start ``bash script`` (the wrapper) in a process group of its own; None when it cannot."""
    null = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    try:
        return os.posix_spawn(
            BASH, [BASH, script], env, file_actions=null, setpgroup=0, setsigdef=_DEFAULT_SIGNALS
        )
    except OSError:
        return None


class DirectStarter:
    """Claims, spawns and records units started without a shell, for one supervisor
    whose claims name it as ``keeper`` (``"pid start-ticks"``) in session ``sid``."""

    def __init__(self, host: str, sid: str, keeper: str) -> None:
        self.host, self.sid, self.keeper = host, sid, keeper
        self.found: dict[tuple[str, str], str] = {}  # (command, PATH) -> path found before

    def start(self, d: dict[str, Any], env: dict[str, str], now: float, cpus: int) -> Unit | None:
        """Claim the unit and spawn its task; None when it is not ours to run (claimed
        elsewhere, or stopped before it started: then its exit record is written)."""
        unit, marker = str(d["unit"]), str(d.get("marker") or "")
        if d.get("mkdir"):
            try:
                os.makedirs(unit, exist_ok=True)
            except OSError:
                pass
        try:
            claim = os.open(os.path.join(unit, "claim"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError:
            return None  # claimed by another process first (or its directory is gone)
        try:
            try:
                pid, problem, stop = self.spawn_task(d, env, unit)
            except Exception as exc:  # the claim is ours: say why, never leave it empty
                pid, problem, stop = 0, (1, "", f"cannot start the task: {exc}"), ""
            pgid = pid if pid else "-"
            os.write(claim, f"{pid} {self.host} {now:.6f} {pgid} {self.sid} {self.keeper}\n".encode())
        finally:
            os.close(claim)
        if pid:
            return Unit(cpus, True, pid, now, unit, marker)
        code, state, reason = problem
        self.finish(unit, marker, code, None, now, state or stop, reason)
        return None

    def spawn_task(
        self, d: dict[str, Any], env: dict[str, str], unit: str
    ) -> tuple[int, tuple[int, str, str], str]:
        """``(pid, (code, stop, reason) when it did not start, stop asked for)``."""
        stop = _read_stop(unit)
        if stop is not None:
            return 0, (1, stop[0], f"{stop[1] or 'cancelled on request'}; it never started"), stop[0]
        out_path = str(d.get("stdout") or os.path.join(unit, "stdout"))
        err_path = d.get("stderr")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        try:
            out = os.open(out_path, flags, 0o644)
        except OSError as exc:
            return 0, (1, "", f"cannot open stdout {out_path}: {exc.strerror}"), ""
        err = out
        try:
            if err_path != "":
                err_path = str(err_path or os.path.join(unit, "stderr"))
                try:
                    err = os.open(err_path, flags, 0o644)
                except OSError as exc:
                    return 0, (1, "", f"cannot open stderr {err_path}: {exc.strerror}"), ""
            env.update(d.get("env") or {})
            try:
                # every time: the directory under that name may have been made anew
                os.chdir(str(d["cwd"]))
            except OSError:
                return 0, (1, "", "cannot change to the working directory"), ""
            argv = [str(a) for a in d["argv"]]
            search = env.get("PATH", os.defpath)
            path = self.found.get((argv[0], search))
            if path is None or not os.access(path, os.X_OK):
                path = _which(argv[0], search)
            if path is None:
                os.write(err, f"jobledger: {argv[0]}: command not found\n".encode(errors="surrogateescape"))
                return 0, (127, "", "command not found (exit 127)"), ""
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, out, 1)]
            actions.append((os.POSIX_SPAWN_DUP2, err, 2))
            try:
                try:
                    pid = os.posix_spawn(
                        path, argv, env, file_actions=actions, setpgroup=0, setsigdef=_DEFAULT_SIGNALS
                    )
                except OSError as exc:
                    if exc.errno != errno.ENOEXEC:
                        raise
                    # a script without a #! line: bash runs it itself, as it would in the wrapper
                    pid = os.posix_spawn(
                        BASH, [BASH, path, *argv[1:]], env, file_actions=actions, setpgroup=0,
                        setsigdef=_DEFAULT_SIGNALS,
                    )  # fmt: skip
                if "/" not in argv[0] and os.path.isabs(path):
                    self.found[argv[0], search] = path
                return pid, (0, "", ""), ""
            except OSError as exc:
                self.found.pop((argv[0], search), None)
                os.write(err, f"jobledger: {argv[0]}: {exc.strerror}\n".encode(errors="surrogateescape"))
                code = 126 if isinstance(exc, PermissionError) else 127
                return 0, (code, "", f"{argv[0]}: {exc.strerror} (exit {code})"), ""
        finally:
            os.close(out)
            if err != out:
                os.close(err)

    def end(self, run: Unit, status: int, mark: bool = True) -> None:
        """Write the record of a unit whose task ended with ``status`` (and, with
        ``mark``, touch its marker)."""
        ended = time.time()
        marker = run.marker if mark else ""
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            stop = _read_stop(run.unit)
            reason = (stop[1] if stop and stop[1] else "") or f"task killed by signal {sig}"
            state = stop[0] if stop else ""
            self.finish(run.unit, marker, 128 + sig, sig, run.started, state, reason, ended)
        else:
            self.finish(run.unit, marker, os.WEXITSTATUS(status), None, run.started, "", "", ended)

    def finish(
        self,
        unit: str,
        marker: str,
        code: int,
        sig: int | None,
        started: float,
        stop: str,
        reason: str,
        ended: float | None = None,
    ) -> None:
        """Write the unit's exit record (one write, ending with ``end``) and its marker."""
        ended = time.time() if ended is None else ended
        reason = " ".join(reason.split())
        record = (
            f"exit_code={code}\nsignal={'' if sig is None else sig}\nstarted={started:.6f}\n"
            f"ended={ended:.6f}\nstop={stop}\nreason={reason}\nend\n"
        )
        try:
            _write_file(os.path.join(unit, "exit"), record)
        except OSError:
            return  # its directory is gone: nobody reads it
        if marker:
            touch(marker)


def touch(marker: str) -> None:
    """Create a completion marker (where its folder exists)."""
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError:
        pass


def _read_stop(unit: str) -> tuple[str, str] | None:
    try:
        with open(os.path.join(unit, "cancel"), encoding="utf-8", errors="replace") as fh:
            lines = [*fh.read().splitlines(), "", ""]
    except OSError:
        return None
    return lines[0].strip() or "cancelled", lines[1].strip()
