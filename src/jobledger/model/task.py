"""One unit of work inside a job: a shell line, an argv list or a Python call."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from jobledger.errors import ModelError
from jobledger.model.hashing import callable_identity, canonical
from jobledger.model.names import check_argv, check_env, check_path, check_text

_UNSAFE = re.compile(r"[^\w@%+=:,./ -]", re.ASCII)
"""What :func:`shlex.quote` quotes, less the space (:func:`_joined` counts the spaces)."""


def _joined(argv: tuple[str, ...]) -> str:
    """``shlex.join(argv)``; argv of plain words (the common case) joined directly."""
    line = " ".join(argv)
    if line.count(" ") == len(argv) - 1 and all(argv) and _UNSAFE.search(line) is None:
        return line  # no item is empty or holds a space or a character quote() quotes
    return shlex.join(argv)


@attrs.frozen(init=False, eq=False)
class Task:
    """A shell line, an argv list, or a Python callable with arguments.

    >>> Task("python train.py --lr 0.1")            # shell line, run by bash
    >>> Task(["python", "train.py", "--lr", "0.1"])  # argv, no shell involved
    >>> Task(train, args=(0.1,), kwargs={"epochs": 3})  # a Python call

    ``pass_index=True`` calls ``func(index, *args)`` in each element of an array job.
    """

    shell: str | None
    argv: tuple[str, ...] | None
    func: Callable[..., Any] | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    env: dict[str, str]
    cwd: str | None
    pass_index: bool

    def __init__(
        self,
        command: str | Sequence[str] | Callable[..., Any],
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        pass_index: bool = False,
    ) -> None:
        shell: str | None = None
        argv: tuple[str, ...] | None = None
        func: Callable[..., Any] | None = None
        if isinstance(command, str):
            if not command.strip():
                raise ModelError("a task's shell command is empty")
            shell = check_text(command, "shell command")
        elif type(command) is list or type(command) is tuple:  # argv (before the slower checks)
            argv = check_argv(command)
            if not argv:
                raise ModelError("a task's argv list is empty")
        elif callable(command):
            func = command
        elif isinstance(command, Sequence) and not isinstance(command, bytes):
            argv = check_argv(command)
            if not argv:
                raise ModelError("a task's argv list is empty")
        else:
            raise ModelError(
                f"a task is a shell line, an argv list or a callable, not {type(command).__name__}"
            )
        if func is None and (args or kwargs):
            raise ModelError("args/kwargs are only for Python-callable tasks")
        self.__attrs_init__(  # positional, in field order (keywords cost more here)
            shell,
            argv,
            func,
            tuple(args),  # args
            dict(kwargs) if kwargs else {},  # kwargs
            check_env(env) if env is not None else {},  # env
            check_path(cwd, "cwd") if cwd is not None else None,  # cwd
            bool(pass_index),  # pass_index
        )

    @classmethod
    def call(cls, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Task:
        """A task calling ``func(*args, **kwargs)``."""
        return cls(func, args=args, kwargs=kwargs)

    @property
    def is_python(self) -> bool:
        """True for a Python-callable task."""
        return self.func is not None

    @property
    def label(self) -> str:
        """One-line human description."""
        if self.shell is not None:
            return self.shell
        if self.argv is not None:
            return _joined(self.argv)
        func = self.func
        return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}(...)"

    def identity(self) -> Any:
        """Canonical description used in the job key."""
        if self.shell is not None:
            what: Any = ["shell", self.shell]
        elif self.argv is not None:
            what = ["argv", self.argv]  # packs as the same array as a list
        else:
            assert self.func is not None
            name = getattr(self.func, "__qualname__", repr(self.func))
            what = [
                "call",
                callable_identity(self.func),
                canonical(self.args, f"arguments of {name!r}"),
                canonical(self.kwargs, f"keyword arguments of {name!r}"),
            ]
        return [what, sorted(self.env.items()) if self.env else [], self.cwd, self.pass_index]
