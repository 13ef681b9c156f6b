"""What a job left behind, as users read it: :class:`Result`."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import RemoteError, RemoteTraceback
from jobledger.ledger.specs import MERGED, JobSpec
from jobledger.ledger.state import AttemptInfo, JobInfo
from jobledger.states import JobState

_MISSING = object()


def tail_text(path: Path, lines: int | None = 20, max_bytes: int = 1 << 20) -> str:
    """Last ``lines`` lines of a text file (all when ``None``), ``''`` when missing."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return ""
    text = data.decode(errors="replace")
    if lines is None:
        return text
    parts = text.splitlines()
    return "\n".join(parts[-lines:]) if lines > 0 else ""


@attrs.frozen(eq=False)
class Result:
    """State, exit code, output files and return value of one job (or array element)."""

    name: str
    key: str
    state: JobState
    exit_code: int | None
    signal: int | None
    reason: str
    host: str
    scheduler_id: str | None
    attempts: int
    reused: bool
    run_dir: Path
    unit_dir: Path
    stdout_path: Path
    stderr_path: Path
    index: int | None = None
    error: dict[str, Any] | None = None
    value_digest: str | None = None
    elements: tuple[Result, ...] = ()
    attempt_info: AttemptInfo | None = None
    project_root: Path | None = None

    def _jobledger_selection(self) -> Any:
        """Lets every verb take a Result (``jobledger.fetch(result)``)."""
        from jobledger.project import Project
        from jobledger.session.selection import Selection

        project = Project(self.project_root) if self.project_root else None
        return Selection(project, (), (self.key,), ())

    @property
    def ok(self) -> bool:
        """True when the job completed."""
        return self.state is JobState.COMPLETED

    @property
    def returncode(self) -> int | None:
        """Alias of :attr:`exit_code` (hyrun/hpc-runner spelling)."""
        return self.exit_code

    @property
    def stdout(self) -> str:
        """Last 20 lines of stdout."""
        return tail_text(self.stdout_path)

    @property
    def stderr(self) -> str:
        """Last 20 lines of stderr."""
        return tail_text(self.stderr_path)

    def read_stdout(self, tail: int | None = None) -> str:
        """stdout, or its last ``tail`` lines."""
        return tail_text(self.stdout_path, tail)

    def read_stderr(self, tail: int | None = None) -> str:
        """stderr, or its last ``tail`` lines."""
        return tail_text(self.stderr_path, tail)

    @property
    def has_value(self) -> bool:
        """True when a Python callable returned a stored value."""
        return (self.unit_dir / "result.pkl").exists()

    @property
    def value(self) -> Any:
        """The Python call's return value (``None`` for a job that returned nothing).

        A call that raised re-raises its exception here — its own type when it can be
        unpickled here, else a :class:`~jobledger.errors.RemoteError` — chained to a
        :class:`~jobledger.errors.RemoteTraceback` holding the job's traceback, which
        names the user's file and line (as :mod:`concurrent.futures` does). Array jobs
        give the list of their elements' values, in index order.
        """
        if self.elements:
            return [e.value for e in self.elements]
        if self.error is not None:
            raise_remote(self.name, self.error, self.unit_dir / "exception.pkl")
        path = self.unit_dir / "result.pkl"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return _loads(data)

    @property
    def output(self) -> Any:
        """The return value if any, else the stdout tail (hyrun's Output.output_file)."""
        return self.value if self.has_value else self.stdout

    def __repr__(self) -> str:
        extra = f", exit_code={self.exit_code}" if self.exit_code is not None else ""
        return f"Result({self.name!r}, {self.state.value}{extra})"


def _loads(data: bytes) -> Any:
    try:
        import cloudpickle

        return cloudpickle.loads(data)
    except ImportError:  # pragma: no cover
        return pickle.loads(data)  # noqa: S301 - our own result file


def raise_remote(name: str, error: dict[str, Any], pickled: Path) -> None:
    """Raise the exception a job's Python call raised (see :attr:`Result.value`)."""
    text = str(error.get("traceback") or "")
    exc: BaseException | None = None
    try:
        loaded = _loads(pickled.read_bytes())
        exc = loaded if isinstance(loaded, BaseException) else None
    except Exception:
        exc = None
    if exc is None:
        exc = RemoteError(name, str(error.get("type") or "Exception"), str(error.get("message") or ""), text)
    raise exc from RemoteTraceback(text)


def _paths(spec: JobSpec | None, unit: Path) -> tuple[Path, Path]:
    workdir = Path(spec.workdir) if spec is not None and spec.workdir else unit
    out = workdir / spec.stdout if spec is not None and spec.stdout else unit / "stdout"
    stderr = spec.stderr if spec is not None else None
    if stderr == MERGED:
        err = out
    elif stderr:
        err = workdir / stderr
    else:
        err = unit / "stderr"
    return out, err


def build_result(root: Path, info: JobInfo, reused: bool = False) -> Result:
    """Assemble the :class:`Result` of a job from the ledger and its run directory."""
    cur = info.current
    spec = info.spec
    run_dir = root / (spec.run_dir if spec is not None else f"jobs/{info.name}-{info.key[:8]}")
    att_dir = root / cur.run_dir if cur and cur.run_dir else run_dir

    def paths(unit: Path) -> tuple[Path, Path]:
        return _paths(spec, unit)

    def python_error(att: AttemptInfo | None, index: int | None) -> tuple[dict[str, Any] | None, str | None]:
        if att is None:
            return None, None
        slot = att.result.get("" if index is None else str(index)) or {}
        return slot.get("error"), slot.get("value")

    elements = []
    if cur is not None and cur.elements:
        for el in cur.elements:
            unit = att_dir / str(el.index)
            out, err = paths(unit)
            error, digest = python_error(cur, el.index)
            elements.append(
                Result(
                    name=f"{info.name}[{el.index}]",
                    key=info.key,
                    state=el.state,
                    exit_code=el.exit_code,
                    signal=el.signal,
                    reason=el.reason,
                    host=cur.host or info.host,
                    scheduler_id=cur.scheduler_id,
                    attempts=len(info.attempts),
                    reused=reused,
                    run_dir=run_dir,
                    unit_dir=unit,
                    stdout_path=out,
                    stderr_path=err,
                    index=el.index,
                    error=error,
                    value_digest=digest,
                )
            )
    out, err = paths(att_dir)
    error, digest = python_error(cur, None)
    return Result(
        name=info.name,
        key=info.key,
        state=info.state,
        exit_code=cur.exit_code if cur else None,
        signal=cur.signal if cur else None,
        reason=cur.reason if cur else "",
        host=(cur.host if cur and cur.host else info.host),
        scheduler_id=cur.scheduler_id if cur else None,
        attempts=len([a for a in info.attempts if a.submitted_at or a.state.is_final]),
        reused=reused,
        run_dir=run_dir,
        unit_dir=att_dir,
        stdout_path=out,
        stderr_path=err,
        error=error,
        value_digest=digest,
        elements=tuple(elements),
        attempt_info=cur,
        project_root=root,
    )


class LazyResults(dict):  # type: ignore[type-arg]
    """``{job name: Result}`` assembled on first use.

    A wait over 100,000 jobs (a no-op re-run) returns their results; most callers never
    read them, and building them decodes every job record. This dict fills itself from
    ``build`` the first time anything reads or changes it, then is a plain dict. (The
    one reader that looks at a dict's storage without asking it is :mod:`json`'s C
    encoder: give it ``dict(results)``.)
    """

    def __init__(self, build: Callable[[], dict[str, Result]]) -> None:
        super().__init__()
        self._build: Callable[[], dict[str, Result]] | None = build

    def _fill(self) -> None:
        build, self._build = self._build, None
        if build is not None:
            dict.update(self, build())

    __hash__ = None

    def __reduce__(self) -> Any:
        self._fill()
        return (dict, (dict(self.items()),))


def _filling(name: str) -> Any:
    method = getattr(dict, name)

    def call(self: LazyResults, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return method(self, *args, **kwargs)

    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


for _name in (
    "__getitem__", "__iter__", "__len__", "__contains__", "__repr__", "__eq__", "__ne__",
    "keys", "items", "values", "get", "copy", "pop", "popitem", "setdefault", "update", "clear",
    "__setitem__", "__delitem__", "__or__", "__ror__", "__ior__", "__reversed__",
):  # fmt: skip
    setattr(LazyResults, _name, _filling(_name))
