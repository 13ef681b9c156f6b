"""Helpers for tests that need real services: SLURM, Grid Engine, the test sshd, Chromium.

The services are brought up by ``make services-up`` (scripts in ``infra/``); these helpers
only find them and say, in one line, why one is unusable. ``require(reason, what)`` turns
that reason into ``pytest.skip`` on a developer's machine and into ``pytest.fail`` under
``CI=true``: tests needing infrastructure must run in CI, never skip silently.

    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")

The test sshd's files come from ``<state dir>/env.sh`` written by ``infra/sshd-up.sh``
(default state dir ``/var/tmp/jobledger-sshd``, or ``$SSHD_TEST_DIR``); when the
``SSH_TEST_*`` variables of that file are in the environment they win. The second host
(``infra/netns-up.sh``) is read from ``/var/tmp/jobledger-sshd-hpc2`` (``$SSHD_TEST2_DIR``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
DEFAULT_SSHD_DIR = Path("/var/tmp/jobledger-sshd")
DEFAULT_SECOND_HOST_DIR = Path("/var/tmp/jobledger-sshd-hpc2")
ACCEPTED = b"Accepted publickey"


def _run(argv: list[str], timeout: float = 15) -> tuple[int, str, str]:
    """Run argv without stdin; (exit code, stdout, stderr); 127 if missing, 124 on timeout."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        return 127, "", str(e)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:g}s"
    return p.returncode, p.stdout, p.stderr


def _first_line(*texts: str) -> str:
    for t in texts:
        for line in t.splitlines():
            if line.strip():
                return line.strip()
    return "(no output)"


# --------------------------------------------------------------------------------- CI / skip
def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require(reason: str | None, what: str) -> None:
    """Skip (or, under ``CI=true``, fail) the calling test when ``reason`` is not None."""
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"{what} is required under CI=true but unusable: {reason}", pytrace=False)
    pytest.skip(f"{what}: {reason}")


# ------------------------------------------------------------------------------- schedulers
_USABLE_SLURM_STATES = {"idle", "mixed", "allocated", "completing"}


def slurm_available() -> str | None:
    """None when SLURM accepts jobs here, else a one-line reason.

    Under ``CI=true`` a controller that is down is asked again for up to 30 s: one test
    restarts slurmctld on purpose (test_engine_slurm.py), and a test on the other worker
    must not take those seconds for a missing cluster."""
    if shutil.which("scontrol") is None:
        return "scontrol not on PATH (make slurm-up)"
    deadline = time.monotonic() + (30.0 if in_ci() else 0.0)
    while True:
        rc, out, err = _run(["scontrol", "ping"], timeout=15)
        if rc == 0 and " is UP" in out:
            break
        if time.monotonic() >= deadline:
            return f"scontrol ping: {_first_line(err, out)}"
        time.sleep(1.0)
    rc, out, err = _run(["sinfo", "--noheader", "--format=%T"], timeout=15)
    states = set(out.split())
    if rc != 0 or not states & _USABLE_SLURM_STATES:
        return f"no usable SLURM node (sinfo: {_first_line(err, out)})"
    return None


def slurm_accounting() -> bool:
    """True when ``sacct`` answers (slurmdbd running), i.e. final states are queryable."""
    if slurm_available() is not None or shutil.which("sacct") is None:
        return False
    rc, _out, err = _run(
        [
            "sacct",
            "--noheader",
            "--allocations",
            "--parsable2",
            "--format=JobID",
            "--starttime=now-1hours",
        ],
        timeout=15,
    )
    return rc == 0 and "disabled" not in err


def sge_available() -> str | None:
    """None when Grid Engine has a queue instance able to run jobs, else a one-line reason."""
    if shutil.which("qstat") is None:
        return "qstat not on PATH (make sge-up)"
    rc, out, err = _run(["qstat", "-f"], timeout=30)
    if rc != 0:
        return f"qstat -f: {_first_line(err, out)}"
    seen = []
    for line in out.splitlines():
        fields = line.split()
        if not fields or "@" not in fields[0]:
            continue
        # queuename qtype resv/used/tot load_avg arch [states]
        states = fields[5] if len(fields) > 5 else ""
        if not states:
            return None
        seen.append(f"{fields[0]} {states}")
    if not seen:
        return "no queue instance in qstat -f"
    return "no queue instance without a state flag: " + ", ".join(seen)


# ----------------------------------------------------------------------------------- sshd
@dataclass(frozen=True)
class SshInfo:
    """One test sshd, as described by the env.sh that ``infra/sshd-up.sh`` writes."""

    state_dir: Path
    host: str
    port: int
    user: str
    alias: str
    key: Path
    known_hosts: Path
    ssh_config: Path
    log: Path
    pid_file: Path
    python: str  # a python the test user can run, with cloudpickle etc. when made so
    netns: str = ""
    hostname: str = ""
    pyenv_dir: str = ""

    @property
    def pid(self) -> int | None:
        """PID of the running listener (re-read each time: restarts change it)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def ssh_opts(
        self, control_dir: Path | None = None, connect_timeout: int = 5, persist: int = 60
    ) -> list[str]:
        """Options for ``ssh``/``scp`` (plumbum ``ssh_opts``/``scp_opts``), target = alias.

        With ``control_dir``, OpenSSH multiplexing: one TCP connection for all commands.
        Command-line ``-o`` beat the config file (first value wins).
        """
        opts = [
            "-F",
            str(self.ssh_config),
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={connect_timeout}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
        ]
        if control_dir is not None:
            opts += [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={control_dir}/cm-%C",
                "-o",
                f"ControlPersist={persist}",
            ]
        return opts


def _parse_env_sh(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        if words and words[0] == "export":
            words = words[1:]
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                values[key] = value
    return values


def _info_from(values: dict[str, str]) -> SshInfo | None:
    try:
        state_dir = Path(values["SSH_TEST_DIR"])
        return SshInfo(
            state_dir=state_dir,
            host=values["SSH_TEST_HOST"],
            port=int(values["SSH_TEST_PORT"]),
            user=values["SSH_TEST_USER"],
            alias=values["SSH_TEST_ALIAS"],
            key=Path(values["SSH_TEST_KEY"]),
            known_hosts=Path(values["SSH_TEST_KNOWN_HOSTS"]),
            ssh_config=Path(values["SSH_TEST_CONFIG"]),
            log=Path(values.get("SSH_TEST_LOG", str(state_dir / "sshd.log"))),
            pid_file=Path(values.get("SSH_TEST_PIDFILE", str(state_dir / "sshd.pid"))),
            python=values.get("SSH_TEST_PYTHON") or "python3",
            netns=values.get("SSH_TEST_NETNS", ""),
            hostname=values.get("SSH_TEST_HOSTNAME", ""),
            pyenv_dir=values.get("SSH_TEST_PYENV_DIR", ""),
        )
    except (KeyError, ValueError):
        return None


def sshd_info(state_dir: Path | str | None = None) -> SshInfo | None:
    """The test sshd's coordinates, or None when it was never set up.

    Without ``state_dir``: the ``SSH_TEST_*`` environment (if ``SSH_TEST_CONFIG`` is set),
    else ``$SSHD_TEST_DIR/env.sh``, else ``/var/tmp/jobledger-sshd/env.sh``.
    """
    if state_dir is None:
        if os.environ.get("SSH_TEST_CONFIG"):
            return _info_from({k: v for k, v in os.environ.items() if k.startswith("SSH_TEST_")})
        state_dir = os.environ.get("SSHD_TEST_DIR") or DEFAULT_SSHD_DIR
    env_sh = Path(state_dir) / "env.sh"
    try:
        return _info_from(_parse_env_sh(env_sh))
    except OSError:
        return None


def second_host_info() -> SshInfo | None:
    """The sshd inside the ``hpc2`` network namespace (``make netns-up``), or None."""
    return sshd_info(os.environ.get("SSHD_TEST2_DIR") or DEFAULT_SECOND_HOST_DIR)


def sshd_available(info: SshInfo | None, probe: bool = True) -> str | None:
    """None when ``info``'s sshd runs (and, with ``probe``, accepts a login), else why not."""
    if info is None:
        return "no test sshd set up (no env.sh from infra/sshd-up.sh; make sshd-up)"
    if info.pid is None:
        return f"test sshd not running (no live pid in {info.pid_file}; make sshd-up)"
    if not os.access(info.key, os.R_OK):
        return f"cannot read the client key {info.key} (run the tests as root)"
    if probe:
        rc, out, err = _run(["ssh", *info.ssh_opts(), info.alias, "true"], timeout=20)
        if rc != 0:
            return f"ssh {info.alias} true failed ({rc}): {_first_line(err, out)}"
    return None


def _alive(pid: int) -> bool:
    """A live process, not a zombie (PID 1 here may reap slowly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(entry.name))
    return kids


def sshd_kill(
    info: SshInfo, sessions: bool = True, sig: int = signal.SIGTERM, timeout: float = 5.0
) -> int | None:
    """Stop the listener by its PID (and, with ``sessions``, each open connection's monitor,
    which kills multiplexed masters' server side too). Returns the PID, or None if not running.
    """
    pid = info.pid
    if pid is None:
        return None
    kids = _children(pid) if sessions else []
    for target in (pid, *kids):
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (_alive(pid) or any(_alive(k) for k in kids)):
        time.sleep(0.02)
    for target in (pid, *kids):
        if _alive(target):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return pid


def sshd_restart(info: SshInfo, timeout: float = 60.0) -> SshInfo:
    """Kill ``info``'s sshd (if running) and start it again with ``infra/sshd-up.sh`` and the
    same knobs; returns the fresh info. Needs root. The log is appended to, so offsets from
    ``log_offset`` stay valid.
    """
    sshd_kill(info)
    env = {
        **os.environ,
        "SSHD_TEST_DIR": str(info.state_dir),
        "SSHD_TEST_ADDR": info.host,
        "SSHD_TEST_PORT": str(info.port),
        "SSHD_TEST_USER": info.user,
        "SSHD_TEST_ALIAS": info.alias,
        "SSHD_TEST_NETNS": info.netns,
        "SSHD_TEST_HOSTNAME": info.hostname,
        "SSHD_TEST_PYENV": "0",
    }
    if info.pyenv_dir:
        env["SSHD_TEST_PYENV_DIR"] = info.pyenv_dir
    p = subprocess.run(
        ["bash", str(INFRA / "sshd-up.sh")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if p.returncode != 0:
        raise RuntimeError(f"sshd-up.sh failed ({p.returncode}): {p.stderr.strip()}")
    fresh = sshd_info(info.state_dir)
    assert fresh is not None
    return fresh


# --------------------------------------------------------------------------- sshd log
def log_offset(log_path: Path | str) -> int:
    """Current size of the sshd log: pass it to ``count_ssh_connections`` later."""
    try:
        return Path(log_path).stat().st_size
    except OSError:
        return 0


def count_ssh_connections(log_path: Path | str, since_offset: int = 0) -> int:
    """Connections accepted (``Accepted publickey`` lines, LogLevel VERBOSE) since the offset.

    One line per TCP connection: a multiplexed master counts once however many commands
    ride on it. Counts every client of that sshd, so use a private sshd (or no parallel
    ssh tests) when the number must be exact.
    """
    path = Path(log_path)
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(since_offset if since_offset <= size else 0)  # rotated: from the start
            data = f.read()
    except OSError:
        return 0
    return sum(1 for line in data.splitlines() if ACCEPTED in line)


# -------------------------------------------------------------------------------- browser
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")


def chromium_path() -> str | None:
    """Path of a Chromium/Chrome binary ($JOBLEDGER_CHROMIUM first), or None.

    As root it needs ``--no-sandbox``; use ``--headless`` (Debian's ``chromium`` package).
    """
    override = os.environ.get("JOBLEDGER_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_available() -> str | None:
    """None when a Chromium binary is found, else a one-line reason."""
    if chromium_path() is None:
        return "no chromium on PATH (make ci-deps installs Debian's chromium)"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_sshd(alias: str) -> Iterator[SshInfo]:
    """An sshd instance of the test's own (same user and keys as the shared one): exact
    connection counts in its log, and the test may kill it. Purged afterwards."""
    require(None if os.geteuid() == 0 else "needs root", "a private sshd instance")
    require(sshd_available(sshd_info(), probe=False), "the test sshd (make sshd-up)")
    import tempfile

    state = Path(tempfile.mkdtemp(prefix=f"jl-{alias}-", dir="/var/tmp"))
    env = {**os.environ, "SSHD_TEST_DIR": str(state), "SSHD_TEST_PORT": str(free_port()),
           "SSHD_TEST_ALIAS": alias, "SSHD_TEST_PYENV": "0"}  # fmt: skip
    try:
        subprocess.run(["bash", str(INFRA / "sshd-up.sh")], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
        info = sshd_info(state)
        assert info is not None
        yield info
    finally:
        subprocess.run(["bash", str(INFRA / "sshd-down.sh")], env={**env, "SSHD_TEST_PURGE": "1"},
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)  # fmt: skip
