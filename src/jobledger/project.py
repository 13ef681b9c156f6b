"""The project directory: where the ledger, run directories and configuration live.

Layout::

    <root>/
      jobledger.toml        optional configuration (hosts, defaults, types)
      .jobledger/
        ledger/*.seg        the event log (commit it)
        project-id          this project's id, in every segment header (commit it)
        cache/              snapshot, locks, completion markers, driver logs (git-ignored)
        .gitignore
      jobs/<name>-<key8>/   run directories: scripts, stdout, stderr, exit codes, results
      jobs/.gitignore       what a run writes for itself (its facts are in the ledger)
      jobs/.gitattributes   stdout/stderr of one job run in two clones merge as a union

Git policy (docs/git.md): what is committed is the ledger, the logs and the results; what
differs between two clones that ran the same job (scripts naming this clone's paths,
claims, exit records, Python call pickles) is git-ignored, so ``git clone`` reuses every
finished job and ``git merge`` of two clones never conflicts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from jobledger.errors import ProjectError
from jobledger.ledger.headers import ensure_project_id
from jobledger.ledger.segment import write_failure
from jobledger.ledger.store import Ledger
from jobledger.model.names import control_char, describe_char, safe_name

META = ".jobledger"
ENV_VAR = "JOBLEDGER_PROJECT"
GITIGNORE = "# jobledger: caches and locks are rebuilt; everything else is history\ncache/\n"
JOBS_GITIGNORE = """\
# jobledger: what each run writes for itself. The ledger holds what these say (state,
# exit code, times, Python results' metadata); they name this clone's paths or its
# timing, so two clones that ran the same job would conflict on them. See docs/git.md.
job.sh
claim
exit
cancel
error.json
result.json
jl_runner.py
task-*.pkl
*.tmp
"""
JOBS_GITATTRIBUTES = """\
# jobledger: the logs of one job run in two clones merge as the union of their lines
# (no conflict); a re-run with force=True settles them. See docs/git.md.
stdout merge=union
stderr merge=union
"""


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], what: str = "") -> Iterator[None]:
    """Turn an :class:`OSError` raised inside into a :class:`ProjectError` naming the path.

    For writes into the project (run directories, scripts, pickles, caches): a full disk,
    a read-only file system or a permission problem becomes one clear error, e.g.
    ``cannot write run directory jobs/a-1234abcd/job.sh: the disk is full``.
    """
    try:
        yield
    except OSError as exc:
        where = exc.filename or path
        label = f"{what} " if what else ""
        raise ProjectError(f"cannot write {label}{where}: {write_failure(exc)}") from exc


class Project:
    """A jobledger project rooted at ``root`` (a ``str`` or path-like)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = _project_path(_project_path(root).resolve())
        self._ledger: Ledger | None = None

    # ------------------------------------------------------------------ locate
    @classmethod
    def init(cls, directory: str | os.PathLike[str] | None = None) -> Project:
        """Create (or reuse) a project in ``directory`` (default: the current one)."""
        root = _project_path(directory or Path.cwd())
        if root.exists() and not root.is_dir():
            raise ProjectError(f"cannot create a project in {root}: not a directory")
        meta = root / META
        with writing(root, "project directory"):
            for sub in (meta / "ledger", meta / "cache", root / "jobs"):
                sub.mkdir(parents=True, exist_ok=True)
            ignore = meta / ".gitignore"
            if not ignore.exists():
                ignore.write_text(GITIGNORE)
            for name, text in ((".gitignore", JOBS_GITIGNORE), (".gitattributes", JOBS_GITATTRIBUTES)):
                path = root / "jobs" / name
                if not path.exists():
                    path.write_text(text)
            keep_ledger = meta / "ledger" / ".gitkeep"
            if not keep_ledger.exists():
                keep_ledger.touch()
        ensure_project_id(meta / "ledger")  # committed: the same in every clone
        return cls(root)

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Project | None:
        """The nearest project at or above ``start`` (or ``$JOBLEDGER_PROJECT``), if any."""
        env = os.environ.get(ENV_VAR)
        if env and start is None:
            root = _project_path(env, f"{ENV_VAR}=")
            if not (root / META).is_dir():
                raise ProjectError(f"{ENV_VAR}={env} is not a jobledger project (no {META}/)")
            return cls(root)
        here = _project_path(start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / META / "ledger").is_dir():
                return cls(candidate)
        return None

    @classmethod
    def open(cls, start: str | os.PathLike[str] | None = None) -> Project:
        """Like :meth:`find`, but raise :class:`ProjectError` when there is no project."""
        project = cls.find(start)
        if project is None:
            where = _project_path(start or Path.cwd()).resolve()
            raise ProjectError(
                f"no jobledger project in {where} or any parent directory "
                f"(run `jobledger init`, or set {ENV_VAR})"
            )
        return project

    # ------------------------------------------------------------------ paths
    @property
    def meta_dir(self) -> Path:
        """``<root>/.jobledger``."""
        return self.root / META

    @property
    def ledger_dir(self) -> Path:
        """Committed segment files."""
        return self.meta_dir / "ledger"

    @property
    def cache_dir(self) -> Path:
        """Git-ignored caches (snapshot, locks, markers)."""
        return self.meta_dir / "cache"

    @property
    def jobs_dir(self) -> Path:
        """Run directories."""
        return self.root / "jobs"

    @property
    def markers_dir(self) -> Path:
        """The one folder job wrappers touch when they end (watched with watchdog)."""
        path = self.cache_dir / "done"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def config_path(self) -> Path:
        """``<root>/jobledger.toml``."""
        return self.root / "jobledger.toml"

    def run_dir_name(self, job_name: str, key: str) -> str:
        """Run directory relative to the root: ``jobs/<name>-<key8>``."""
        return f"jobs/{safe_name(job_name)}-{key[:8]}"

    def path(self, relative: str) -> Path:
        """Absolute path of a project-relative path."""
        return self.root / relative

    # ------------------------------------------------------------------ ledger
    @property
    def ledger(self) -> Ledger:
        """This process's ledger handle (opened on first use)."""
        if self._ledger is None:
            self._ledger = Ledger(self.ledger_dir, self.cache_dir).open()
        return self._ledger

    def close(self) -> None:
        """Flush and close the ledger."""
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Project) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)


def _project_path(value: str | os.PathLike[str], label: str = "") -> Path:
    """``value`` as a project path; refuses what cannot be written into run scripts and
    one-line records (control characters such as a newline or ``\\x1f``, NUL bytes)."""
    try:
        text = os.fspath(value)
    except TypeError:
        raise ProjectError(
            f"a project directory is a str or os.PathLike, not {type(value).__name__} {value!r}"
        ) from None
    if not isinstance(text, str):
        raise ProjectError(f"a project directory must be a text path, not bytes {text!r}")
    absolute = os.path.abspath(text)
    bad = control_char(absolute)
    if bad is not None:
        raise ProjectError(
            f"project path {label}{absolute!r} contains {describe_char(bad)}; jobledger cannot "
            "use a directory whose path holds control characters (rename or move it)"
        )
    return Path(text)
