"""The ``cmdline`` decorator: commands run as jobledger jobs, answered like ``subprocess``."""

from __future__ import annotations

import functools
import inspect
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jobledger.api.hamilton.decorators import _drive_generator
from jobledger.api.hamilton.info import JobInfo
from jobledger.api.hamilton.submission import submit_job
from jobledger.api.verbs import WaitTimeout
from jobledger.errors import ModelError
from jobledger.model.job import Job
from jobledger.model.names import check_argv


class JobProcess:
    """A ``subprocess.Popen`` look-alike for a non-blocking ``cmdline`` job."""

    def __init__(self, info: JobInfo, args: Any) -> None:
        self.info = info
        self.args = args
        self.pid = int(info)

    @property
    def returncode(self) -> int | None:
        """Exit code once ended, else ``None``."""
        result = self.info.result
        return result.exit_code if result.state.is_final else None

    def poll(self) -> int | None:
        """The exit code if the job ended, else ``None``."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the job ended; its exit code."""
        try:
            return self.info.wait(timeout).exit_code
        except WaitTimeout:
            raise subprocess.TimeoutExpired(self.args, timeout or 0) from None

    def communicate(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Wait; the job's whole stdout and stderr."""
        self.wait(timeout)
        result = self.info.result
        return _read_bytes(result.stdout_path), _read_bytes(result.stderr_path)

    def kill(self) -> None:
        """Cancel the job."""
        self.info.cancel()

    terminate = kill


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return b""


def cmdline(func: Callable[..., Any] | None = None, *, host: str = "local", project: Any = None) -> Any:
    """Decorator: the generator yields ``{"cmd": ..., "cwd": ..., "block": True}`` and gets
    a ``subprocess.CompletedProcess`` (``block``, the default) or a Popen-like
    :class:`JobProcess`.

    The command (an argv list, or a string for the shell) runs as a jobledger job on
    ``host`` (recorded in the ledger; an identical command that completed before is
    reused unless ``"force": True``). Use as ``@cmdline`` or ``@cmdline(host="slurm")``.
    """

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isgeneratorfunction(target):
            return target  # Hamilton-HPC-Orchestra calls non-generators directly

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _drive_generator(
                target, args, kwargs, lambda cfg: run_cmdline(cfg, target.__name__, host, project)
            )

        wrapper.__annotations__ = {**getattr(target, "__annotations__", {})}
        wrapper.__annotations__["return"] = inspect.signature(target).return_annotation
        return wrapper

    return decorate(func) if func is not None else decorate


def run_cmdline(
    config: Mapping[str, Any], default_name: str = "cmd", host: str = "local", project: Any = None
) -> Any:
    """Run the command a ``cmdline`` generator yielded (see :func:`cmdline`)."""
    cfg = dict(config)
    cmd = cfg.get("cmd")
    if not isinstance(cmd, (str, list, tuple)) or not cmd:
        raise ModelError(f"cmd must be a list of strings or a string, got {type(cmd).__name__}")
    block = bool(cfg.get("block", True))
    extra = cfg.get("kwargs") or {}
    if isinstance(cmd, str) or extra.get("shell"):
        command: Any = cmd if isinstance(cmd, str) else shlex.join(check_argv(cmd, "cmd"))
    else:
        command = list(check_argv(cmd, "cmd"))
    first = cmd.split()[0] if isinstance(cmd, str) else str(cmd[0])
    name = cfg.get("job_name") or f"{default_name}-{Path(first).name}"
    job = Job(command, name=str(name), host=host, workdir=cfg.get("cwd"))
    info = submit_job(job, block=block, project=project, force=bool(cfg.get("force", False)))
    if not block:
        return JobProcess(info, cmd)
    result = info.result
    text = bool(extra.get("text", False) or extra.get("universal_newlines", False))
    out, err = _read_bytes(result.stdout_path), _read_bytes(result.stderr_path)
    return subprocess.CompletedProcess(
        cmd,
        result.exit_code if result.exit_code is not None else -1,
        out.decode(errors="replace") if text else out,
        err.decode(errors="replace") if text else err,
    )
