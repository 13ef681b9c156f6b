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

The package is split by concept, each layer a base class of the next:

* :mod:`~jobledger.hosts.ssh.scripts`: the remote shell scripts (wrapper, probe,
  ``read_files``/``write_file``/``which``) and the start-marker framing.
* :mod:`~jobledger.hosts.ssh.faults`: classifying ssh failures and explaining them.
* :mod:`~jobledger.hosts.ssh.connection`: the multiplexing master and plumbum machine.
* :mod:`~jobledger.hosts.ssh.commands`: one remote command, retried while it has not
  started.
* :mod:`~jobledger.hosts.ssh.host`: :class:`SshHost`, the :class:`~jobledger.hosts.base.Host`
  itself (commands, files, closing).
"""

from __future__ import annotations

from jobledger.hosts.ssh.faults import classify_ssh_error
from jobledger.hosts.ssh.host import SshHost

__all__ = ["SshHost", "classify_ssh_error"]
