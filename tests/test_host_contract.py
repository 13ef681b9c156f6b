"""One contract for every :class:`~jobledger.hosts.base.Host`: the same tests run against
``LocalHost`` and ``SshHost`` (the latter needs the test sshd: ``make sshd-up``; under
``CI=true`` its absence fails the tests instead of skipping them).

Each test gets ``(host, base)``: a host and a fresh directory *on that host* to work in;
``tmp_path`` is always on this machine (the local side of uploads and downloads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobledger.config import HostConfig
from jobledger.errors import CommandFailed
from jobledger.hosts.base import Host
from jobledger.hosts.local import LocalHost
from services import require, sshd_available, sshd_info

HostAndDir = tuple[Host, str]


def _local(tmp_path: Path) -> Iterator[HostAndDir]:
    base = tmp_path / "host-side"
    base.mkdir()
    yield LocalHost(), str(base)


def _ssh() -> Iterator[HostAndDir]:
    info = sshd_info()
    require(sshd_available(info), "the test sshd (make sshd-up)")
    assert info is not None
    from jobledger.hosts.ssh import SshHost

    host = SshHost(HostConfig(name=info.alias, ssh=info.alias, ssh_config=str(info.ssh_config)))
    try:
        base = host.run(["mktemp", "-d", "/tmp/jl-contract.XXXXXX"], check=True).stdout.strip()
        try:
            yield host, base
        finally:
            host.run(["rm", "-rf", "--", base])
    finally:
        host.close()


@pytest.fixture(params=["local", pytest.param("ssh", marks=pytest.mark.ssh)])
def host_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostAndDir]:
    yield from (_local(tmp_path) if request.param == "local" else _ssh())


# ----------------------------------------------------------------------------- commands
def test_run_output_exit_code_stdin_env(host_dir: HostAndDir) -> None:
    host, _ = host_dir
    assert host.run(["echo", "a b", "it's"]).stdout == "a b it's\n"
    res = host.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.returncode, res.stdout, res.stderr, res.ok) == (3, "out\n", "err\n", False)
    assert res.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")
    env = {"JL_X": "$(no) 'way' \"here\""}
    assert host.run(["sh", "-c", 'printf %s "$JL_X"'], env=env).stdout == env["JL_X"]
    assert host.run(["no-such-command-jl"]).returncode == 127


def test_run_with_stdin(host_dir: HostAndDir) -> None:
    host, _ = host_dir
    assert host.run(["cat"], stdin="line 1\nline 2").stdout == "line 1\nline 2"
    assert host.run(["cat"]).stdout == ""


def test_check_and_timeout_raise_command_failed(host_dir: HostAndDir) -> None:
    host, _ = host_dir
    with pytest.raises(CommandFailed) as excinfo:
        host.run(["sh", "-c", "exit 5"], check=True)
    assert excinfo.value.returncode == 5
    assert excinfo.value.host == host.alias
    with pytest.raises(CommandFailed) as excinfo:
        host.run(["sleep", "30"], timeout=0.5)
    assert excinfo.value.returncode is None
    assert "timed out" in str(excinfo.value)


def test_user_and_which(host_dir: HostAndDir) -> None:
    host, _ = host_dir
    assert host.user() == host.run(["id", "-un"], check=True).stdout.strip()
    sh = host.which("sh")
    assert sh is not None
    assert sh.endswith("/sh")
    assert host.which("no-such-command-jl") is None


# -------------------------------------------------------------------------------- files
def test_write_and_read_files(host_dir: HostAndDir) -> None:
    host, base = host_dir
    binary = bytes(range(256)) * 3
    files = {f"{base}/deep/er/bin": binary, f"{base}/t.txt": b"one\ntwo\n", f"{base}/e": b""}
    for path, data in files.items():
        host.write_file(path, data)
    absent = [f"{base}/missing", f"{base}/deep"]  # nothing there, and a directory
    assert host.read_files([*files, *absent]) == {**files, **dict.fromkeys(absent)}
    assert host.read_file(f"{base}/t.txt") == b"one\ntwo\n"
    assert host.read_file(f"{base}/missing") is None
    assert host.read_files([f"{base}/t.txt", f"{base}/deep/er/bin"], limit=4) == {
        f"{base}/t.txt": b"two\n",
        f"{base}/deep/er/bin": binary[-4:],
    }
    host.write_file(f"{base}/t.txt", b"new")
    assert host.read_file(f"{base}/t.txt") == b"new"


def test_write_file_mode(host_dir: HostAndDir) -> None:
    host, base = host_dir
    host.write_file(f"{base}/private", b"x", mode=0o600)
    host.write_file(f"{base}/script", b"#!/bin/sh\necho ran\n", mode=0o755)
    out = host.run(["stat", "-c", "%a", f"{base}/private", f"{base}/script"]).stdout.split()
    assert out == ["600", "755"]
    assert host.run([f"{base}/script"]).stdout == "ran\n"


def test_makedirs(host_dir: HostAndDir) -> None:
    host, base = host_dir
    dirs = [f"{base}/a/b/c", f"{base}/with space/d", f"{base}/a"]
    host.makedirs(dirs)
    host.makedirs(dirs)  # idempotent
    host.makedirs([])
    for d in dirs:
        assert host.run(["test", "-d", d]).ok


def test_upload_and_download(host_dir: HostAndDir, tmp_path: Path) -> None:
    host, base = host_dir
    src = tmp_path / "src.bin"
    payload = os.urandom(300_000)
    src.write_bytes(payload)
    remote = f"{base}/up/loaded.bin"
    host.upload(str(src), remote)
    assert host.read_file(remote) == payload
    back = tmp_path / "back" / "down.bin"
    host.download(remote, str(back))
    assert back.read_bytes() == payload
