"""Job arrays: which indices, and how many may run at once."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable
from typing import Any

import attrs

from jobledger.errors import ModelError

_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")

MAX_ARRAY_SIZE = 1_000_000
"""Most elements one array job may have (SLURM's own ``MaxArraySize`` default is 1,001)."""


def _too_big(count: int, what: object) -> ModelError:
    return ModelError(
        f"array {what!r} has {count:,} elements; at most {MAX_ARRAY_SIZE:,} are allowed "
        "(split the work into several arrays or give each element more to do)"
    )


@attrs.frozen
class ArraySpec:
    """Indices of an array job and its throttle (``%max_concurrent`` in SLURM)."""

    indices: tuple[int, ...]
    max_concurrent: int | None = None

    def __attrs_post_init__(self) -> None:
        if not self.indices:
            raise ModelError("an array needs at least one index")
        if len(self.indices) > MAX_ARRAY_SIZE:
            raise _too_big(len(self.indices), compress_indices(self.indices))
        if any(i < 0 for i in self.indices):
            raise ModelError(f"array indices must be >= 0, got {min(self.indices)}")
        if len(set(self.indices)) != len(self.indices):
            raise ModelError("array indices must be distinct")
        if self.max_concurrent is not None and (
            isinstance(self.max_concurrent, bool) or not isinstance(self.max_concurrent, int)
        ):
            raise ModelError(f"array max_concurrent must be a whole number, got {self.max_concurrent!r}")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ModelError(f"array max_concurrent must be >= 1, got {self.max_concurrent}")

    @classmethod
    def parse(cls, value: Any, max_concurrent: int | None = None) -> ArraySpec:
        """Build from an int ``n`` (``0..n-1``), a range, an iterable of ints, or a string
        such as ``"0-9"``, ``"1-100:2"``, ``"1,3,5-7"`` with an optional ``"%4"`` throttle."""
        if isinstance(value, ArraySpec):
            if max_concurrent is not None:
                return attrs.evolve(value, max_concurrent=max_concurrent)
            return value
        if isinstance(value, bool):
            raise ModelError(f"invalid array {value!r}")
        if isinstance(value, int):
            if value < 1:
                raise ModelError(f"array size must be >= 1, got {value}")
            if value > MAX_ARRAY_SIZE:
                raise _too_big(value, value)
            return cls(tuple(range(value)), max_concurrent)
        if isinstance(value, str):
            return cls._parse_text(value, max_concurrent)
        if isinstance(value, range) and len(value) > MAX_ARRAY_SIZE:
            raise _too_big(len(value), value)
        if isinstance(value, Iterable):
            indices = []
            for item in value:
                try:
                    if isinstance(item, bool):
                        raise TypeError
                    indices.append(operator.index(item))
                except TypeError:
                    raise ModelError(f"array indices must be integers, got {item!r}") from None
                if len(indices) > MAX_ARRAY_SIZE:
                    raise _too_big(len(indices), "list")
            return cls(tuple(sorted(indices)), max_concurrent)
        raise ModelError(f"invalid array {value!r}: use a count, a range, a list or '1-10%2'")

    @classmethod
    def _parse_text(cls, text: str, max_concurrent: int | None) -> ArraySpec:
        body = text.strip()
        if "%" in body:
            body, _, throttle = body.partition("%")
            if not throttle.isdigit():
                raise ModelError(f"invalid array throttle in {text!r}")
            max_concurrent = max_concurrent or int(throttle)
        indices: list[int] = []
        for part in body.split(","):
            m = _RANGE_RE.match(part.strip())
            if not m:
                raise ModelError(f"invalid array specification {text!r} (part {part!r})")
            start = int(m.group(1))
            stop = int(m.group(2)) if m.group(2) else start
            step = int(m.group(3)) if m.group(3) else 1
            if stop < start or step < 1:
                raise ModelError(f"invalid array range {part!r} in {text!r}")
            span = range(start, stop + 1, step)
            if len(indices) + len(span) > MAX_ARRAY_SIZE:
                raise _too_big(len(indices) + len(span), text)
            indices.extend(span)
        return cls(tuple(sorted(set(indices))), max_concurrent)

    def __len__(self) -> int:
        return len(self.indices)

    def compact(self) -> str:
        """SLURM-style text: ``'0-9%2'``, ``'1-99:2'``, ``'1,4,7-9'``."""
        text = compress_indices(self.indices)
        if self.max_concurrent:
            text += f"%{self.max_concurrent}"
        return text

    def as_range(self) -> tuple[int, int, int] | None:
        """``(start, end, step)`` when the indices form one arithmetic run, else ``None``."""
        idx = self.indices
        if len(idx) == 1:
            return idx[0], idx[0], 1
        step = idx[1] - idx[0]
        if all(b - a == step for a, b in itertools.pairwise(idx)):
            return idx[0], idx[-1], step
        return None


def compress_indices(indices: Iterable[int]) -> str:
    """``[1,2,3,5,7,9]`` -> ``'1-3,5-9:2'`` (a SLURM ``--array`` body)."""
    idx = sorted(indices)
    parts: list[str] = []
    i = 0
    while i < len(idx):
        j = i
        if i + 1 < len(idx):
            step = idx[i + 1] - idx[i]
            while j + 1 < len(idx) and idx[j + 1] - idx[j] == step:
                j += 1
            if j - i >= 2 or (j - i == 1 and step == 1):
                parts.append(f"{idx[i]}-{idx[j]}" + (f":{step}" if step != 1 else ""))
                i = j + 1
                continue
        parts.append(str(idx[i]))
        i += 1
    return ",".join(parts)
