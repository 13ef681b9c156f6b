"""The test sshd (infra/sshd-up.sh) driven through plumbum, as jobledger's SSH hosts will be.

Checks commands, the remote python, latency with and without OpenSSH multiplexing, that
a multiplexed machine costs one TCP connection however many commands and copies it
makes, and what plumbum raises for each connection fault (so that jobledger can turn the
texts into clear errors). Timings are printed: ``pytest -rP tests/test_infra_sshd.py``.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import pytest
from plumbum import SshMachine
from plumbum.commands.processes import ProcessExecutionError
from plumbum.machines.session import SSHCommsError

from services import (
    INFRA,
    SshInfo,
    count_ssh_connections,
    free_port,
    log_offset,
    require,
    second_host_info,
    sshd_available,
    sshd_info,
    sshd_kill,
    sshd_restart,
)

pytestmark = pytest.mark.ssh

N_COMMANDS = 10


@pytest.fixture(scope="module")
def private_sshd() -> Iterator[SshInfo]:
    """A second sshd instance of our own (own state dir and port), so that connection
    counts are exact and faults disturb no other test. Needs root, like sshd-up.sh."""
    require(None if os.geteuid() == 0 else "needs root", "a private sshd instance")
    state = Path(tempfile.mkdtemp(prefix="jl-sshd-", dir="/var/tmp"))
    env = {
        **os.environ,
        "SSHD_TEST_DIR": str(state),
        "SSHD_TEST_PORT": str(free_port()),
        "SSHD_TEST_ALIAS": "hpc-private",
        "SSHD_TEST_PYENV": "0",
    }
    down = ["bash", str(INFRA / "sshd-down.sh")]
    try:
        subprocess.run(
            ["bash", str(INFRA / "sshd-up.sh")],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        info = sshd_info(state)
        assert info is not None
        yield info
    finally:
        subprocess.run(
            down,
            env={**env, "SSHD_TEST_PURGE": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def control_dir() -> Iterator[Path]:
    """A short dir for ControlPath sockets (unix socket paths must stay < 108 bytes);
    stops any master left in it."""
    d = Path(tempfile.mkdtemp(prefix="jl-cm-", dir="/tmp"))
    yield d
    for sock in d.glob("cm-*"):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "placeholder"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=10,
        )
    shutil.rmtree(d, ignore_errors=True)


def _machine(info: SshInfo, control_dir: Path | None = None) -> SshMachine:
    opts = info.ssh_opts(control_dir)
    return SshMachine(info.alias, ssh_opts=opts, scp_opts=opts, connect_timeout=10)


def _median_ms(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up (first connection, master start)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# ----------------------------------------------------------------------------- commands
def test_true_echo_and_identity(sshd: SshInfo) -> None:
    with _machine(sshd) as m:
        assert m["true"]() == ""
        assert m["echo"]("hello", "two words") == "hello two words\n"
        assert m["id"]("-un").strip() == sshd.user
        rc, out, err = m["sh"]["-c", "echo out; echo err >&2; exit 3"].run(retcode=None)
        assert (rc, out, err) == (3, "out\n", "err\n")
        with m.session() as shell:  # a persistent remote shell
            assert shell.run("echo session")[1] == "session\n"


def test_remote_python_runs_a_cloudpickled_function(sshd: SshInfo) -> None:
    """The python in env.sh (the venv from SSHD_TEST_PYENV=1) loads what we pickle here."""
    with _machine(sshd) as m:
        assert m["python3"]("-c", "print(1 + 1)") == "2\n"
        if not sshd.pyenv_dir or not sshd.python.startswith(sshd.pyenv_dir):
            require("no python venv for the test user (make sshd-up sets SSHD_TEST_PYENV=1)", "sshd python")
        payload = base64.b64encode(cloudpickle.dumps(lambda x: x * 21)).decode()
        code = (
            "import base64, sys, cloudpickle, msgpack, attrs; "
            "print(cloudpickle.loads(base64.b64decode(sys.argv[1]))(2))"
        )
        assert m[sshd.python]("-c", code, payload) == "42\n"


def test_second_host_answers_with_its_own_hostname() -> None:
    info = second_host_info()
    require(sshd_available(info), "the second host (make netns-up)")
    assert info is not None
    with _machine(info) as m:
        assert m["hostname"]().strip() == (info.hostname or m["hostname"]().strip())
        assert info.host in m["ip"]("-brief", "addr")


# ------------------------------------------------------------------------------- latency
def test_latency_plain_vs_multiplexed(sshd: SshInfo, control_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "one-kb.bin"
    src.write_bytes(os.urandom(1024))
    remote_dir = f"/tmp/jl-scp-{os.getpid()}"
    result = {}
    for label, cdir in (("plain", None), ("multiplexed", control_dir)):
        t = time.perf_counter()
        with _machine(sshd, cdir) as m:
            result[f"{label} connect ms"] = (time.perf_counter() - t) * 1000
            m["mkdir"]("-p", remote_dir)
            result[f"{label} true ms"] = _median_ms(lambda m=m: m["true"](), N_COMMANDS)
            result[f"{label} echo ms"] = _median_ms(lambda m=m: m["echo"]("x"), N_COMMANDS)
            result[f"{label} scp 1KB ms"] = _median_ms(
                lambda m=m: m.upload(src, f"{remote_dir}/one-kb.bin"), 5
            )
            with m.session() as shell:  # one persistent remote shell: no new process
                result[f"{label} shell run ms"] = _median_ms(
                    lambda shell=shell: shell.run("true"), N_COMMANDS
                )
            m["rm"]("-rf", remote_dir)
    for key, value in result.items():
        print(f"{key:>28}: {value:8.1f}")
    assert result["multiplexed true ms"] < result["plain true ms"]
    assert result["multiplexed scp 1KB ms"] < result["plain scp 1KB ms"]


# ------------------------------------------------------------------- connection counting
def test_multiplexed_machine_uses_one_connection(
    private_sshd: SshInfo, control_dir: Path, tmp_path: Path
) -> None:
    src = tmp_path / "f.txt"
    src.write_text("x")
    start = log_offset(private_sshd.log)
    with _machine(private_sshd, control_dir) as m:
        for i in range(N_COMMANDS):
            assert m["echo"](str(i)) == f"{i}\n"
        m.upload(src, "/tmp/jl-count-test.txt")
        m["rm"]("-f", "/tmp/jl-count-test.txt")
    assert count_ssh_connections(private_sshd.log, start) == 1


def test_plain_machine_uses_one_connection_per_command(private_sshd: SshInfo) -> None:
    start = log_offset(private_sshd.log)
    with _machine(private_sshd) as m:  # its persistent shell session is one connection
        for _ in range(N_COMMANDS):
            m["true"]()
    assert count_ssh_connections(private_sshd.log, start) == N_COMMANDS + 1


# ---------------------------------------------------------------------------------- faults
def _opts_without_config(known_hosts: Path | str, key: Path | str) -> list[str]:
    """Options that use no config file: only the key and known_hosts given here count."""
    return [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        str(key),
    ]


def _connect_error(host: str, port: int, user: str, opts: list[str]) -> SSHCommsError:
    with pytest.raises(SSHCommsError) as excinfo:
        SshMachine(host, user=user, port=port, ssh_opts=opts, scp_opts=opts).close()
    err = excinfo.value
    # retcode is racy: None when the session noticed EOF before ssh's exit status
    assert err.retcode in (None, 255)
    return err


@pytest.fixture(scope="module")
def keys_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="jl-keys-"))
    for name in ("wrong", "otherhost"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
            stdin=subprocess.DEVNULL,
            check=True,
            capture_output=True,
        )
    (d / "empty_known_hosts").touch()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_fault_wrong_key(sshd: SshInfo, keys_dir: Path) -> None:
    opts = _opts_without_config(sshd.known_hosts, keys_dir / "wrong")
    err = _connect_error(sshd.host, sshd.port, sshd.user, opts)
    assert "Permission denied (publickey" in err.stderr


def test_fault_unknown_host_key(sshd: SshInfo, keys_dir: Path) -> None:
    opts = _opts_without_config(keys_dir / "empty_known_hosts", sshd.key)
    err = _connect_error(sshd.host, sshd.port, sshd.user, opts)
    assert "host key is known for" in err.stderr  # "No ED25519 host key is known for [h]:p"


def test_fault_changed_host_key(sshd: SshInfo, keys_dir: Path) -> None:
    known = keys_dir / "changed_known_hosts"
    fake = (keys_dir / "otherhost.pub").read_text().split()[:2]
    known.write_text(f"[{sshd.host}]:{sshd.port} {' '.join(fake)}\n")
    err = _connect_error(sshd.host, sshd.port, sshd.user, _opts_without_config(known, sshd.key))
    # plumbum keeps only ssh's first stderr line: the "@@@@" banner of the warning
    assert err.stderr.startswith("@@@@@@@@")
    full = subprocess.run(
        [
            "ssh",
            *_opts_without_config(known, sshd.key),
            "-p",
            str(sshd.port),
            f"{sshd.user}@{sshd.host}",
            "true",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert full.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in full.stderr
    assert "Host key verification failed." in full.stderr


def test_fault_closed_port(sshd: SshInfo) -> None:
    port = free_port()
    opts = _opts_without_config(sshd.known_hosts, sshd.key)
    refused = f"connect to host 127.0.0.1 port {port}: Connection refused"
    # plumbum raises SSHCommsError carrying ssh's stderr, or BrokenPipeError when ssh has
    # already exited before plumbum's first write to it (a race inside plumbum's session
    # start-up; SshHost treats both as a failed connection)
    with pytest.raises((SSHCommsError, BrokenPipeError)) as excinfo:
        SshMachine("127.0.0.1", user=sshd.user, port=port, ssh_opts=opts, scp_opts=opts).close()
    if isinstance(excinfo.value, SSHCommsError):
        assert refused in excinfo.value.stderr
    plain = subprocess.run(
        ["ssh", *opts, "-p", str(port), f"{sshd.user}@127.0.0.1", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert plain.returncode == 255
    assert refused in plain.stderr


def test_fault_silent_server_times_out(sshd: SshInfo) -> None:
    with socket.socket() as silent:  # accepts TCP (backlog) but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        t = time.monotonic()
        err = _connect_error("127.0.0.1", port, sshd.user, _opts_without_config(sshd.known_hosts, sshd.key))
        elapsed = time.monotonic() - t
    assert "Connection timed out during banner exchange" in err.stderr
    assert 2.5 < elapsed < 15  # ConnectTimeout=3 covers the banner exchange too


def test_fault_unresolvable_host(sshd: SshInfo) -> None:
    opts = _opts_without_config(sshd.known_hosts, sshd.key)
    err = _connect_error("no-such-host.invalid", 22, sshd.user, opts)
    assert "Could not resolve hostname no-such-host.invalid" in err.stderr


def test_fault_sshd_killed_then_restarted(private_sshd: SshInfo) -> None:
    m = _machine(private_sshd)
    try:
        assert m["true"]() == ""
        assert sshd_kill(private_sshd) is not None
        assert private_sshd.pid is None
        # a new command is a new ssh process: a plain ProcessExecutionError, full stderr
        with pytest.raises(ProcessExecutionError) as excinfo:
            m["true"]()
        assert not isinstance(excinfo.value, SSHCommsError)
        assert excinfo.value.retcode == 255
        assert "Connection refused" in excinfo.value.stderr
        # the persistent shell lost its connection (its monitor was killed)
        with pytest.raises((EOFError, BrokenPipeError, OSError)):
            m.session().run("true")
    finally:
        try:
            m.close()
        except (EOFError, OSError):
            pass
    fresh = sshd_restart(private_sshd)
    assert fresh.pid is not None
    with _machine(fresh) as m2:
        assert m2["echo"]("back") == "back\n"
