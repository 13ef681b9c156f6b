"""Canonical encoding and hashing of definitions (pure, stable across processes).

A job key must be identical across processes, machines and Python versions, so nothing
here uses :func:`hash` or pickle bytes. Values are turned into a tagged tree of plain
types, packed with msgpack (deterministic for these types) and hashed with BLAKE2b.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import hashlib
import inspect
import pathlib
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgpack

from jobledger.errors import HashingError

KEY_BYTES = 16


def digest(data: bytes) -> str:
    """Hex BLAKE2b digest (32 hex characters) of ``data``."""
    return hashlib.blake2b(data, digest_size=KEY_BYTES).hexdigest()


def canonical(value: Any, where: str = "value") -> Any:
    """Return a tree of plain msgpack-safe values that identifies ``value`` stably.

    ``where`` names the value in error messages (``"closure variable 'x' of f"``).
    Raises :class:`HashingError` for values that have no canonical form.
    """
    return _Encoder().encode(value, where)


def canonical_hash(value: Any, where: str = "value") -> str:
    """Stable hex digest of ``value``'s canonical form."""
    return digest(pack(canonical(value, where)))


def pack(tree: Any) -> bytes:
    """Deterministic msgpack bytes of an already canonical tree."""
    packer = getattr(_PACKERS, "packer", None)
    if packer is None:  # one per thread (a packer's buffer is not to be shared)
        packer = _PACKERS.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(tree)  # type: ignore[no-any-return]


_PACKERS = threading.local()
"""This thread's msgpack packer: ``msgpack.packb`` makes (and frees) one per call, which
costs as much as packing a job's definition."""


def callable_identity(func: Callable[..., Any]) -> Any:
    """Canonical description of a Python callable: where it lives and what it computes.

    Module, qualified name, source text (or bytecode when no source exists), defaults,
    the values it closes over and the encodable globals it refers to. Two closures made
    in one loop with different captured values get different identities.
    """
    return _Encoder().encode(func, f"callable {getattr(func, '__qualname__', func)!r}")


class _Encoder:
    """One encoding pass; tracks functions being encoded to cut recursion."""

    def __init__(self) -> None:
        self._active: set[int] = set()

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str, bytes)):
            return value
        if isinstance(value, int):
            return value if -(2**63) <= value < 2**64 else ["int", str(value)]
        if isinstance(value, float):
            return ["float", repr(value)]
        if isinstance(value, complex):
            return ["complex", repr(value)]
        if isinstance(value, (list, tuple)):
            return ["seq", [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]]
        if isinstance(value, Mapping):
            if all(type(k) is str for k in value):
                return ["smap", [[k, self.encode(value[k], f"{where}[{k!r}]")] for k in sorted(value)]]
            items = [
                (pack(self.encode(k, f"key of {where}")), self.encode(v, f"{where}[{k!r}]"))
                for k, v in value.items()
            ]
            items.sort(key=lambda kv: kv[0])
            return ["map", items]
        if isinstance(value, (set, frozenset)):
            return ["set", sorted(pack(self.encode(v, f"element of {where}")) for v in value)]
        if isinstance(value, enum.Enum):
            return ["enum", _qualname(type(value)), self.encode(value.value, where)]
        if isinstance(value, pathlib.PurePath):
            return ["path", str(value)]
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return ["time", value.isoformat()]
        if isinstance(value, _dt.timedelta):
            return ["delta", value.total_seconds()]
        if isinstance(value, range):
            return ["range", value.start, value.stop, value.step]
        if isinstance(value, type):
            return ["type", _qualname(value)]
        if isinstance(value, types.ModuleType):
            return ["module", value.__name__]
        if attrs.has(type(value)):
            fields = {a.name: getattr(value, a.name) for a in attrs.fields(type(value))}
            return ["obj", _qualname(type(value)), self.encode(fields, where)]
        if dataclasses.is_dataclass(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return ["obj", _qualname(type(value)), self.encode(fields, where)]
        numpy_form = _numpy_form(value)
        if numpy_form is not None:
            return numpy_form
        if isinstance(value, functools.partial):
            return [
                "partial",
                self.encode(value.func, where),
                self.encode(value.args, f"arguments of {where}"),
                self.encode(value.keywords, f"keywords of {where}"),
            ]
        if isinstance(value, types.MethodType):
            return [
                "method",
                self.encode(value.__func__, where),
                self.encode(value.__self__, where),
            ]
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            return self._function(value, where)
        raise HashingError(
            f"cannot encode {where} canonically: value of type {_qualname(type(value))} "
            "has no stable form (use plain data, attrs/dataclass objects or numpy arrays)"
        )

    def _function(self, func: Any, where: str) -> Any:
        name = getattr(func, "__qualname__", getattr(func, "__name__", "?"))
        globals_ = getattr(func, "__globals__", None) or {}
        module = _module_name(getattr(func, "__module__", None) or "", globals_.get("__file__"))
        if isinstance(func, types.BuiltinFunctionType) or not hasattr(func, "__code__"):
            return ["builtin", module, name]
        if id(func) in self._active:
            return ["recursive", module, name]
        self._active.add(id(func))
        try:
            code = func.__code__
            closure = {}
            if func.__closure__:
                for var, cell in zip(code.co_freevars, func.__closure__, strict=True):
                    try:
                        contents = cell.cell_contents
                    except ValueError:  # empty cell (not yet assigned)
                        contents = None
                    closure[var] = self.encode(contents, f"closure variable {var!r} of function {name!r}")
            referenced = {}
            for global_name in sorted(_global_names(code)):
                if global_name in func.__globals__:
                    referenced[global_name] = self._global_value(
                        func.__globals__[global_name], global_name, name
                    )
            return [
                "function",
                module,
                name,
                _source_or_code(func),
                self.encode(func.__defaults__ or (), f"defaults of {name!r}"),
                self.encode(func.__kwdefaults__ or {}, f"keyword defaults of {name!r}"),
                ["map", sorted(closure.items())],
                ["map", sorted(referenced.items())],
            ]
        finally:
            self._active.discard(id(func))

    def _global_value(self, value: Any, var: str, func_name: str) -> Any:
        """Globals are part of what a function computes; unencodable ones count by type."""
        if isinstance(value, types.ModuleType):
            return ["module", value.__name__]
        try:
            return self.encode(value, f"global {var!r} of function {func_name!r}")
        except HashingError:
            return ["opaque", _qualname(type(value))]


def _qualname(cls: type) -> str:
    module = sys.modules.get(cls.__module__)
    return f"{_module_name(cls.__module__, getattr(module, '__file__', None))}.{cls.__qualname__}"


def _module_name(name: str, file: Any) -> str:
    """A module's name as the same text whether its file runs as the script (``__main__``)
    or is imported by another one: the script's file name without ``.py``."""
    if name == "__main__" and isinstance(file, str) and file.endswith(".py"):
        return pathlib.PurePath(file).stem
    return name


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _source_or_code(func: Any) -> Any:
    try:
        return ["source", textwrap.dedent(inspect.getsource(func))]
    except (OSError, TypeError):
        return ["code", _code_form(func.__code__)]


def _code_form(code: types.CodeType) -> Any:
    consts = [
        _code_form(c) if isinstance(c, types.CodeType) else canonical(c, "constant") for c in code.co_consts
    ]
    return [code.co_code, consts, list(code.co_names), list(code.co_varnames)]


def _numpy_form(value: Any) -> Any:
    module = type(value).__module__
    if not module.startswith("numpy"):
        return None
    if hasattr(value, "dtype") and hasattr(value, "tobytes") and hasattr(value, "shape"):
        import numpy as np

        array = np.ascontiguousarray(value)
        if array.dtype.hasobject:
            raise HashingError("cannot encode a numpy array of Python objects canonically")
        return ["ndarray", str(array.dtype), list(array.shape), array.tobytes()]
    if hasattr(value, "item"):
        return canonical(value.item(), "numpy scalar")
    return None
