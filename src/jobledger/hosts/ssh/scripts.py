"""The shell scripts an SSH host runs remotely, and the framing of their output.

Every command runs under a wrapper that prints a start marker before ``exec``-ing it;
:func:`_split_marker` drops what came before (noisy start-up files) and tells whether
the command started. The scripts are fixed text: data only ever travels as arguments
(``$1``...) or on stdin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def _split_marker(data: bytes) -> tuple[bytes, bool]:
    """Drop everything up to and including the start marker line; (rest, found)."""
    mark = _STARTED.encode() + b"\n"
    at = data.find(mark)
    if at < 0:
        return data, False
    return data[at + len(mark) :], True


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
