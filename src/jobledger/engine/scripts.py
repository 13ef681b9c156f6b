"""The job wrapper of one attempt, with paths as seen on the host it runs on (pure)."""

from __future__ import annotations

import posixpath
import sys

from jobledger.config import HostConfig
from jobledger.engine.types import Submission
from jobledger.engine.wrapper import WrapperSpec
from jobledger.ledger.specs import MERGED


def wrapper_spec(sub: Submission, host: HostConfig, root: str, markers_dir: str | None) -> WrapperSpec:
    """The :class:`WrapperSpec` of ``sub`` on ``host``, whose run directories live under
    ``root`` (the project root locally, the remote root over SSH)."""
    spec = sub.spec
    attempt = posixpath.join(root, sub.attempt_dir)
    if not host.is_remote:
        workdir = spec.workdir or root
    elif spec.workdir:  # remote: absolute, or relative to the attempt directory
        workdir = posixpath.join(attempt, spec.workdir)
    else:
        workdir = attempt
    python = spec.interpreter or host.python or (sys.executable if not host.is_remote else "python3")
    return WrapperSpec(
        attempt_dir=attempt,
        run_dir=posixpath.join(root, spec.run_dir),
        workdir=workdir,
        tasks=tuple(spec.tasks or ()),
        is_array=bool(spec.array),
        markers_dir=markers_dir,
        marker=sub.marker,
        env={**host.env, **spec.env},
        modules=(*host.modules, *spec.modules),
        setup=tuple(spec.setup),
        stdout=spec.stdout,
        stderr=None if spec.stderr in (None, MERGED) else spec.stderr,
        merge_stderr=spec.stderr == MERGED,
        python=python,
    )
