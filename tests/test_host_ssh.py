"""``SshHost`` against the test sshd (``make sshd-up``): quoting, stdin/env/exit codes,
remote timeouts, files, one multiplexed connection, reconnection, and connection faults.

Tests that count connections or kill sshd use a private sshd instance of their own, so
they disturb no other test. Timings are printed: ``pytest -rP tests/test_host_ssh.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobledger.config import HostConfig
from jobledger.errors import CommandFailed, ConnectionFailed, HostError
from jobledger.hosts.ssh import SshHost
from services import (
    SshInfo,
    count_ssh_connections,
    free_port,
    log_offset,
    require,
    second_host_info,
    sshd_available,
    sshd_kill,
    sshd_restart,
)
from services import private_sshd as services_private_sshd

pytestmark = pytest.mark.ssh

TRICKY = [
    "plain",
    "two words",
    "it's",
    'say "hi"',
    "$(touch {d}/pwned)",
    "`touch {d}/pwned2`",
    "; touch {d}/pwned3",
    "' ; touch {d}/pwned4 ; '",
    "line one\nline two",
    "*",
    "$HOME",
    "-n",
    "",
    "back\\slash",
    "tab\there",
    "!bang",
    "ünïcödé",
]


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def private_sshd() -> Iterator[SshInfo]:
    """An sshd instance of our own: exact connection counts, and we may kill it."""
    with services_private_sshd("hpc-hostssh") as info:
        yield info


def _config(info: SshInfo) -> HostConfig:
    return HostConfig(name=info.alias, ssh=info.alias, ssh_config=str(info.ssh_config))


@pytest.fixture
def host(sshd: SshInfo) -> Iterator[SshHost]:
    h = SshHost(_config(sshd))
    yield h
    h.close()


@pytest.fixture
def rdir(host: SshHost) -> Iterator[str]:
    """A fresh directory on the remote host (as the test user), removed afterwards."""
    path = host.run(["mktemp", "-d", "/tmp/jl-hostssh.XXXXXX"], check=True).stdout.strip()
    yield path
    host.run(["rm", "-rf", "--", path])


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# ---------------------------------------------------------------------------- commands
def test_arguments_arrive_verbatim_and_nothing_is_injected(host: SshHost, rdir: str) -> None:
    args = [a.replace("{d}", rdir) for a in TRICKY]
    result = host.run(["printf", "[%s]\\n", *args], check=True)
    assert result.stdout == "".join(f"[{a}]\n" for a in args)
    # the same words through env values
    result = host.run(["sh", "-c", 'printf "%s" "$V"'], env={"V": args[4] + args[8]}, check=True)
    assert result.stdout == args[4] + args[8]
    # file names with the same characters
    names = [f"{rdir}/{a.replace('/', '_') or 'empty'}" for a in args]
    for name in names:
        host.write_file(name, name.encode())
    assert host.read_files(names) == {n: n.encode() for n in names}
    pwned = [f"{rdir}/pwned{s}" for s in ("", "2", "3", "4")]
    assert host.read_files(pwned) == dict.fromkeys(pwned)


def test_stdin_env_exit_codes(host: SshHost) -> None:
    assert host.run(["cat"], stdin="in\nput 'x' $(y)").stdout == "in\nput 'x' $(y)"
    assert host.run(["cat"]).stdout == ""  # no stdin: EOF at once, never our terminal
    env = {"JL_A": "a b", "JL_B": "$(id) 'q' \"d\"\n", "JL_EMPTY": ""}
    out = host.run(["sh", "-c", 'printf "%s|%s|%s" "$JL_A" "$JL_B" "$JL_EMPTY"'], env=env)
    assert out.stdout == "a b|$(id) 'q' \"d\"\n|"
    res = host.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    assert host.run(["sh", "-c", "exit 255"]).returncode == 255  # not mistaken for ssh's 255
    with pytest.raises(CommandFailed) as excinfo:
        host.run(["sh", "-c", "echo bad >&2; exit 4"], check=True)
    assert excinfo.value.returncode == 4
    assert excinfo.value.host == host.alias
    assert "bad" in str(excinfo.value)
    assert host.run(["no-such-command-jl"]).returncode == 127
    with pytest.raises(ValueError, match="environment variable name"):
        host.run(["true"], env={"BAD NAME": "x"})


def test_noisy_login_shell_output_is_dropped(host: SshHost) -> None:
    """What .bashrc prints before the command does not reach stdout/stderr."""
    assert host.run(["echo", "x"]).stdout == "x\n"
    assert host.run(["true"]).stderr == ""


def test_timeout_kills_the_remote_process_and_its_children(host: SshHost, rdir: str) -> None:
    script = f"echo $$ > {rdir}/pid; sleep 300 & echo $! > {rdir}/child; wait"
    t = time.monotonic()
    with pytest.raises(CommandFailed) as excinfo:
        host.run(["sh", "-c", script], timeout=1)
    elapsed = time.monotonic() - t
    assert excinfo.value.returncode is None
    assert "timed out after 1s" in str(excinfo.value)
    assert elapsed < 5
    pids = host.read_files([f"{rdir}/pid", f"{rdir}/child"])
    alive = ["x"]
    deadline = time.monotonic() + 10
    while alive and time.monotonic() < deadline:
        alive = [
            p.decode().strip()
            for p in pids.values()
            if p and host.run(["kill", "-0", p.decode().strip()]).returncode == 0
        ]
        time.sleep(0.1)
    assert alive == [], f"remote processes still running after the timeout: {alive}"
    print(f"timeout=1 raised after {elapsed:.2f}s; remote shell and its child are gone")


# ------------------------------------------------------------------------------- files
def test_write_read_missing_limit_and_binary(host: SshHost, rdir: str) -> None:
    binary = bytes(range(256)) * 4 + b"\nM\nF 3\nE x\n"
    files = {
        f"{rdir}/a/b/bin.dat": binary,
        f"{rdir}/empty": b"",
        f"{rdir}/text.txt": b"hello\nworld\n",
        f"{rdir}/no-newline": b"abc",
    }
    for path, data in files.items():
        host.write_file(path, data)
    host.write_file(f"{rdir}/secret", b"s", mode=0o600)
    missing = [f"{rdir}/missing", f"{rdir}/a"]  # absent, and a directory
    got = host.read_files([*files, *missing, f"{rdir}/text.txt"])
    assert got == {**files, **dict.fromkeys(missing)}
    assert host.read_file(f"{rdir}/missing") is None
    assert host.read_files([f"{rdir}/text.txt", f"{rdir}/a/b/bin.dat"], limit=6) == {
        f"{rdir}/text.txt": b"world\n",
        f"{rdir}/a/b/bin.dat": binary[-6:],
    }
    assert host.read_files([f"{rdir}/text.txt"], limit=0) == {f"{rdir}/text.txt": b""}
    assert host.read_files([]) == {}
    modes = host.run(["stat", "-c", "%a", f"{rdir}/secret", f"{rdir}/text.txt"]).stdout.split()
    assert modes == ["600", "644"]
    host.write_file(f"{rdir}/text.txt", b"replaced")
    assert host.read_file(f"{rdir}/text.txt") == b"replaced"
    listing = host.run(["ls", "-A", rdir]).stdout.split()
    assert not [n for n in listing if n.startswith(".jobledger-tmp")]  # no temp leftovers
    with pytest.raises(HostError, match="/etc/shadow"):
        host.read_files(["/etc/shadow"])  # exists, unreadable for the test user


def test_read_files_many_in_one_command(host: SshHost, rdir: str) -> None:
    paths = [f"{rdir}/f{i:04d}" for i in range(1500)]  # > 64 KB of names: two batches
    script = 'cd "$1" && i=0; while [ $i -lt 1500 ]; do printf %04d $i > f$(printf %04d $i); i=$((i+1)); done'
    host.run(["sh", "-c", script, "sh", rdir], check=True)
    got = host.read_files(paths)
    assert got == {p: p[-4:].encode() for p in paths}


def test_makedirs_upload_download(host: SshHost, rdir: str, tmp_path: Path) -> None:
    dirs = [f"{rdir}/x/y z/1", f"{rdir}/it's/2", f"{rdir}/x/y z/1"]
    host.makedirs(dirs)
    host.makedirs([])
    assert host.run(["test", "-d", dirs[0]]).ok
    assert host.run(["test", "-d", dirs[1]]).ok
    src = tmp_path / "up.bin"
    payload = os.urandom(1 << 20)
    src.write_bytes(payload)
    src.chmod(0o640)
    remote = f"{rdir}/new dir/up 'q'.bin"
    host.upload(str(src), remote)
    assert host.run(["stat", "-c", "%a %s", remote]).stdout.split() == ["640", str(1 << 20)]
    back = tmp_path / "sub" / "down.bin"
    host.download(remote, str(back))
    assert back.read_bytes() == payload
    with pytest.raises(CommandFailed):
        host.download(f"{rdir}/absent", str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists()
    assert [p.name for p in back.parent.iterdir()] == ["down.bin"]  # no temp leftovers


def test_which_and_user(host: SshHost, sshd: SshInfo) -> None:
    assert host.user() == sshd.user
    sh = host.which("sh")
    assert sh is not None
    assert sh.endswith("/sh")
    assert host.which("timeout") is not None
    assert host.which("no-such-command-jl") is None
    assert host.which("echo") != "echo"  # a builtin is not a path
    assert host.which("/bin/sh") == "/bin/sh"
    assert host.which("; touch /tmp/jl-which-pwned") is None
    assert host.which("") is None


# ------------------------------------------------------------------ connection reuse
def test_latency(sshd: SshInfo, host: SshHost, rdir: str, tmp_path: Path) -> None:
    fresh = SshHost(_config(sshd))
    try:
        t = time.perf_counter()
        fresh.run(["true"], check=True)
        connect_ms = (time.perf_counter() - t) * 1000
    finally:
        fresh.close()
    paths = [f"{rdir}/r{i}" for i in range(10)]
    for p in paths:
        host.write_file(p, b"x" * 1000)
    src = tmp_path / "mb.bin"
    src.write_bytes(os.urandom(1 << 20))
    result = {
        "connect + first command": connect_ms,
        "command (true)": _median_ms(lambda: host.run(["true"]), 50),
        "read_files 10 x 1 KB": _median_ms(lambda: host.read_files(paths), 20),
        "write_file 1 KB": _median_ms(lambda: host.write_file(paths[0], b"y" * 1000), 20),
        "upload 1 MB": _median_ms(lambda: host.upload(str(src), f"{rdir}/mb.bin"), 5),
        "download 1 MB": _median_ms(lambda: host.download(f"{rdir}/mb.bin", str(tmp_path / "d.bin")), 5),
    }
    for key, value in result.items():
        print(f"{key:>24}: {value:8.1f} ms")
    assert host.connections_opened == 1
    assert result["command (true)"] < 100  # a new TCP+SSH handshake alone costs ~200 ms


def test_hundred_commands_use_one_connection(private_sshd: SshInfo, tmp_path: Path) -> None:
    start = log_offset(private_sshd.log)
    h = SshHost(_config(private_sshd))
    src = tmp_path / "f"
    src.write_bytes(b"data")
    try:
        t = time.perf_counter()
        for i in range(100):
            assert h.run(["echo", str(i)]).stdout == f"{i}\n"
        per_ms = (time.perf_counter() - t) * 10
        h.write_file("/tmp/jl-hostssh-count/a", b"1")
        h.read_files(["/tmp/jl-hostssh-count/a", "/tmp/jl-hostssh-count/b"])
        h.upload(str(src), "/tmp/jl-hostssh-count/f")
        h.download("/tmp/jl-hostssh-count/f", str(tmp_path / "g"))
        h.makedirs(["/tmp/jl-hostssh-count/d"])
        h.run(["rm", "-rf", "/tmp/jl-hostssh-count"], check=True)
    finally:
        h.close()
    connections = count_ssh_connections(private_sshd.log, start)
    print(
        f"100 commands + 5 file operations: {connections} connection(s), "
        f"connections_opened={h.connections_opened}, {per_ms:.1f} ms per command"
    )
    assert connections == 1
    assert h.connections_opened == 1


def test_concurrent_commands_share_the_connection(private_sshd: SshInfo) -> None:
    start = log_offset(private_sshd.log)
    h = SshHost(_config(private_sshd))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                assert h.run(["echo", f"{n}-{i}"]).stdout == f"{n}-{i}\n"
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    try:
        h.run(["true"])
        threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
    finally:
        h.close()
    assert errors == []
    assert count_ssh_connections(private_sshd.log, start) == 1


def test_close_stops_the_master_and_host_stays_usable(private_sshd: SshInfo) -> None:
    h = SshHost(_config(private_sshd))
    try:
        h.run(["true"], check=True)
        control_dir = h._master.control_dir
        assert control_dir is not None
        assert len(list(Path(control_dir).iterdir())) == 1  # the master's socket
        h.close()
        assert not Path(control_dir).exists()
        assert h.run(["echo", "again"]).stdout == "again\n"
        assert h.connections_opened == 2
    finally:
        h.close()


def _ssh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
    )


def test_users_own_control_master_is_reused_and_left_running(private_sshd: SshInfo) -> None:
    """A 2FA user's config sets ControlPath and they opened the master themselves."""
    sockets = Path(tempfile.mkdtemp(prefix="jl-u-", dir="/tmp"))
    config = sockets / "config"
    config.write_text(
        f"Host jl-2fa\n  HostName {private_sshd.host}\n  Port {private_sshd.port}\n"
        f"  User {private_sshd.user}\n  ControlMaster auto\n"
        f"  ControlPath {sockets}/user-%C\n  ControlPersist 60\n"
        f"Include {private_sshd.ssh_config}\n"
    )
    cfg = ["-F", str(config)]
    try:
        assert _ssh(*cfg, "jl-2fa", "true").returncode == 0  # the user's master
        start = log_offset(private_sshd.log)
        h = SshHost(HostConfig(name="jl-2fa", ssh="jl-2fa", ssh_config=str(config)))
        try:
            for _ in range(10):
                h.run(["true"], check=True)
            assert h._master.control_dir is None  # no socket dir of our own
        finally:
            h.close()
        assert count_ssh_connections(private_sshd.log, start) == 0
        assert _ssh(*cfg, "-O", "check", "jl-2fa").returncode == 0  # still theirs, running
        # no master running at their path: we start one there, and stop it on close
        assert _ssh(*cfg, "-O", "exit", "jl-2fa").returncode == 0
        h = SshHost(HostConfig(name="jl-2fa", ssh="jl-2fa", ssh_config=str(config)))
        try:
            h.run(["true"], check=True)
            assert _ssh(*cfg, "-O", "check", "jl-2fa").returncode == 0
        finally:
            h.close()
        assert _ssh(*cfg, "-O", "check", "jl-2fa").returncode != 0
    finally:
        _ssh(*cfg, "-O", "exit", "jl-2fa")
        shutil.rmtree(sockets, ignore_errors=True)


# -------------------------------------------------------------------- reconnection
def test_sshd_restart_then_next_command_reconnects(private_sshd: SshInfo) -> None:
    h = SshHost(_config(private_sshd))
    try:
        assert h.run(["echo", "before"]).stdout == "before\n"
        assert sshd_kill(private_sshd) is not None  # listener and the master's server side
        fresh = sshd_restart(private_sshd)
        assert fresh.pid is not None
        t = time.perf_counter()
        assert h.run(["echo", "after"]).stdout == "after\n"
        print(f"reconnected after an sshd restart in {(time.perf_counter() - t) * 1000:.0f} ms")
        assert h.connections_opened == 2
    finally:
        h.close()


def test_sshd_down_for_a_while_is_bridged_by_backoff(private_sshd: SshInfo) -> None:
    h = SshHost(_config(private_sshd))
    try:
        h.run(["true"], check=True)
        sshd_kill(private_sshd)
        restarter = threading.Timer(1.2, sshd_restart, args=(private_sshd,))
        restarter.start()
        t = time.perf_counter()
        try:
            assert h.run(["echo", "back"]).stdout == "back\n"
        finally:
            restarter.join(60)
        elapsed = time.perf_counter() - t
        print(f"command waited {elapsed:.2f}s for sshd to come back (backoff 0.5, 1, 2, 4 s)")
        assert elapsed >= 1.0
    finally:
        h.close()


def test_sshd_down_for_good_raises_connection_failed(private_sshd: SshInfo) -> None:
    h = SshHost(_config(private_sshd), retry_delays=(0.2, 0.2))
    try:
        h.run(["true"], check=True)
        sshd_kill(private_sshd)
        with pytest.raises(ConnectionFailed) as excinfo:
            h.run(["true"])
        message = str(excinfo.value)
        assert private_sshd.alias in message
        assert "connection refused" in message
    finally:
        h.close()
        sshd_restart(private_sshd)


def test_connection_lost_while_running_is_not_retried(private_sshd: SshInfo) -> None:
    h = SshHost(_config(private_sshd))
    try:
        h.run(["true"], check=True)
        killer = threading.Timer(1.0, sshd_kill, args=(private_sshd,))
        killer.start()
        marker = "/tmp/jl-hostssh-ran-once"
        h_cmd = ["sh", "-c", f"echo x >> {marker}; sleep 30"]
        try:
            with pytest.raises(ConnectionFailed, match="lost while running"):
                h.run(h_cmd, timeout=20)
        finally:
            killer.join(30)
        sshd_restart(private_sshd)
        assert h.read_file(marker) == b"x\n"  # ran exactly once
        h.run(["rm", "-f", marker])
    finally:
        h.close()


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def test_hung_host_gives_command_failed_not_a_hung_caller(private_sshd: SshInfo) -> None:
    h = SshHost(
        HostConfig(
            name=private_sshd.alias,
            ssh=private_sshd.alias,
            ssh_config=str(private_sshd.ssh_config),
            connect_timeout=1,
        )
    )
    frozen: list[int] = []
    try:
        h.run(["true"], check=True)
        assert private_sshd.pid is not None
        frozen = _descendants(private_sshd.pid)  # the connection's server side
        assert frozen
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        t = time.monotonic()
        with pytest.raises(CommandFailed, match="no answer from") as excinfo:
            h.run(["echo", "x"], timeout=1)
        elapsed = time.monotonic() - t
        print(f"frozen server: CommandFailed after {elapsed:.1f}s: {excinfo.value}")
        assert excinfo.value.returncode is None
        assert elapsed < 20
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        frozen = []
        assert h.run(["echo", "y"]).stdout == "y\n"  # a new connection
        assert h.connections_opened == 2
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        h.close()


# ------------------------------------------------------------------------------ faults
@pytest.fixture(scope="module")
def keys_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="jl-hostssh-keys-"))
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "wrong")],
        stdin=subprocess.DEVNULL,
        check=True,
        capture_output=True,
    )
    (d / "empty_known_hosts").touch()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _direct(
    sshd: SshInfo,
    name: str,
    *,
    known_hosts: Path | None = None,
    key: Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    connect_timeout: float = 3.0,
) -> SshHost:
    """A host without any ssh config file: only what is given here counts."""
    return SshHost(
        HostConfig(
            name=name,
            ssh=f"{sshd.user}@{host}",
            port=port or sshd.port,
            identity_file=str(key or sshd.key),
            ssh_config="/dev/null",
            ssh_options=(
                f"UserKnownHostsFile={known_hosts or sshd.known_hosts}",
                "GlobalKnownHostsFile=/dev/null",
                "IdentitiesOnly=yes",
            ),
            connect_timeout=connect_timeout,
        )
    )


def _fault(h: SshHost) -> tuple[str, float]:
    t = time.monotonic()
    try:
        with pytest.raises(ConnectionFailed) as excinfo:
            h.run(["true"])
    finally:
        h.close()
    elapsed = time.monotonic() - t
    err = excinfo.value
    assert err.host == h.alias
    assert f"host {h.alias!r}" in str(err)
    print(f"{h.alias}: {elapsed:.2f}s: {err}")
    return str(err), elapsed


def test_direct_config_works(sshd: SshInfo) -> None:
    h = _direct(sshd, "direct-ok")
    try:
        assert h.run(["id", "-un"]).stdout.strip() == sshd.user
    finally:
        h.close()


def test_fault_wrong_key(sshd: SshInfo, keys_dir: Path) -> None:
    message, elapsed = _fault(_direct(sshd, "jl-wrong-key", key=keys_dir / "wrong"))
    assert "authentication failed" in message
    assert str(keys_dir / "wrong") in message
    assert "Permission denied" in message
    assert elapsed < 5  # not retried: a first connection fails fast


def test_fault_unknown_host_key(sshd: SshInfo, keys_dir: Path) -> None:
    kh = keys_dir / "empty_known_hosts"
    message, elapsed = _fault(_direct(sshd, "jl-unknown-hostkey", known_hosts=kh))
    assert "unknown host key" in message
    assert str(kh) in message
    assert elapsed < 5


def test_fault_changed_host_key(sshd: SshInfo, keys_dir: Path) -> None:
    kh = keys_dir / "changed_known_hosts"
    fake = (keys_dir / "wrong.pub").read_text().split()[:2]
    kh.write_text(f"[{sshd.host}]:{sshd.port} {' '.join(fake)}\n")
    message, _ = _fault(_direct(sshd, "jl-changed-hostkey", known_hosts=kh))
    assert "CHANGED" in message
    assert f"ssh-keygen -R '[{sshd.host}]:{sshd.port}' -f {kh}" in message


def test_fault_closed_port(sshd: SshInfo) -> None:
    port = free_port()
    message, elapsed = _fault(_direct(sshd, "jl-closed-port", port=port))
    assert f"connection refused by 127.0.0.1 port {port}" in message
    assert elapsed < 5


def test_fault_unresolvable_host(sshd: SshInfo) -> None:
    message, _ = _fault(_direct(sshd, "jl-no-dns", host="no-such-host.invalid", port=22))
    assert "cannot resolve the host name 'no-such-host.invalid'" in message


def test_fault_silent_server_times_out(sshd: SshInfo) -> None:
    with socket.socket() as silent:  # accepts TCP but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        h = _direct(sshd, "jl-silent", port=port, connect_timeout=2)
        message, elapsed = _fault(h)
    assert "no answer from 127.0.0.1" in message
    assert "within 2s" in message
    assert 1.5 < elapsed < 15


def test_fault_bad_ssh_config(sshd: SshInfo, tmp_path: Path) -> None:
    h = SshHost(HostConfig(name="jl-bad-config", ssh="x", ssh_config=str(tmp_path / "nope")))
    message, _ = _fault(h)
    assert "ssh configuration is invalid" in message


# ------------------------------------------------------------------------ second host
def test_second_host(tmp_path: Path) -> None:
    info = second_host_info()
    require(sshd_available(info), "the second host (make netns-up)")
    assert info is not None
    h = SshHost(_config(info))
    try:
        name = h.run(["hostname"], check=True).stdout.strip()
        assert name == (info.hostname or name)
    finally:
        h.close()


def test_second_host_through_proxyjump(sshd: SshInfo, tmp_path: Path) -> None:
    info = second_host_info()
    require(sshd_available(info), "the second host (make netns-up)")
    assert info is not None
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jl-jump\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key}\n"
        f"Host jl-behind\n  HostName {info.host}\n  Port {info.port}\n  User {info.user}\n"
        f"  IdentityFile {info.key}\n  ProxyJump jl-jump\n"
        f"Host *\n  IdentitiesOnly yes\n  GlobalKnownHostsFile /dev/null\n"
        f"  UserKnownHostsFile {sshd.known_hosts} {info.known_hosts}\n"
    )
    start = log_offset(sshd.log)
    h = SshHost(HostConfig(name="behind", ssh="jl-behind", ssh_config=str(config)))
    try:
        name = h.run(["hostname"], check=True).stdout.strip()
        assert name == (info.hostname or name)
        for _ in range(5):
            h.run(["true"], check=True)
    finally:
        h.close()
    assert count_ssh_connections(sshd.log, start) >= 1  # the hop logged in on the jump host
