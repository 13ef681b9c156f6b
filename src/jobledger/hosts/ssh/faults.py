"""SSH connection faults: what kind of failure ssh's stderr describes, which kinds a retry
cannot fix, and the one-paragraph explanation (alias, cause, fix) users get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobledger.hosts.base import Host

if TYPE_CHECKING:
    from jobledger.config import HostConfig

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


class _AttemptFailed(Exception):
    """One connection attempt failed; ``kind`` from :func:`classify_ssh_error`."""

    def __init__(self, kind: str, stderr: str) -> None:
        self.kind = kind
        self.stderr = stderr
        super().__init__(kind)


class SshFaults(Host):
    """The fault-explaining layer of :class:`~jobledger.hosts.ssh.SshHost`."""

    alias: str
    config: HostConfig
    target: str
    _effective: dict[str, list[str]] | None

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
