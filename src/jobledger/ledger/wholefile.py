"""Whole-file damage: deleted, truncated, duplicated and foreign segments.

Byte damage is found record by record (:mod:`.codec`). Damage to whole files is found by
comparing the segments' headers (:mod:`.headers`) with the files present:

``missing``     a header claims bytes of a writer no file carries (a deleted segment);
``truncated``   the files of a writer hold fewer whole-record bytes than a header claims;
``duplicated``  two files carry one writer id (``cp a.seg b.seg``): its events count once;
``foreign``     a segment names another project id: it is not read.

:class:`SeqSet` is how readers count a duplicated writer's events once: the sequence
numbers already folded, per writer, as a few ranges.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from jobledger.ledger.headers import SegmentHeader


@attrs.frozen
class SegmentFile:
    """One segment file as a reader knows it."""

    name: str
    writer: str
    header: SegmentHeader | None
    extent: int  # bytes of whole records read from the start


@attrs.frozen
class Problem:
    """One whole-file problem: ``kind``, the files it concerns and what is wrong."""

    kind: str
    files: tuple[str, ...]
    reason: str
    writer: str = ""
    claimed: int = 0

    def __str__(self) -> str:
        return f"{self.kind} segment: {self.reason}"


def foreign(header: SegmentHeader | None, project_id: str | None) -> bool:
    """True when ``header`` names a project other than ``project_id``."""
    return bool(header is not None and header.project and project_id and header.project != project_id)


def problems(files: Sequence[SegmentFile], project_id: str | None) -> list[Problem]:
    """Every whole-file problem among ``files`` (foreign ones are judged, then ignored)."""
    out: list[Problem] = []
    own: list[SegmentFile] = []
    for f in files:
        if foreign(f.header, project_id):
            assert f.header is not None
            out.append(
                Problem(
                    "foreign",
                    (f.name,),
                    f"{f.name} was written by another project (project id {f.header.project}, "
                    f"this project's is {project_id}); its events are not read",
                )
            )
        else:
            own.append(f)
    by_writer: dict[str, list[SegmentFile]] = {}
    for f in own:
        by_writer.setdefault(f.writer, []).append(f)
    for writer, group in sorted(by_writer.items()):
        if len(group) > 1:
            names = tuple(sorted(g.name for g in group))
            out.append(
                Problem(
                    "duplicated",
                    names,
                    f"{' and '.join(names)} carry the same writer {writer} (a copied file); "
                    "its events are counted once",
                )
            )
    claims: dict[str, list[tuple[int, str]]] = {}
    for f in own:
        if f.header is None:
            continue
        for writer, (size, _digest) in f.header.seen.items():
            if writer != f.writer:
                claims.setdefault(writer, []).append((size, f.name))
    for writer, seen_by in sorted(claims.items()):
        size, claimer = max(seen_by)
        if writer not in by_writer:
            out.append(
                Problem(
                    "missing",
                    (f"{writer}.seg",),
                    f"{writer}.seg is missing (deleted?): {claimer} had read {size} bytes of it",
                    writer,
                    size,
                )
            )
            continue
        best = max(by_writer[writer], key=lambda g: g.extent)
        if best.extent < size:
            out.append(
                Problem(
                    "truncated",
                    (best.name,),
                    f"{best.name} holds {best.extent} bytes of whole records, "
                    f"but {claimer} had read {size} bytes of it",
                    writer,
                    size,
                )
            )
    return out


class SeqSet:
    """A set of sequence numbers kept as sorted, disjoint ``[lo, hi]`` ranges."""

    def __init__(self, ranges: Sequence[Sequence[int]] = ()) -> None:
        self.los: list[int] = [int(r[0]) for r in ranges]
        self.his: list[int] = [int(r[1]) for r in ranges]

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = bisect.bisect_right(self.los, seq) - 1
        return i >= 0 and seq <= self.his[i]

    def covers(self, lo: int, hi: int) -> bool:
        """True when every number of ``[lo, hi]`` is in the set."""
        i = bisect.bisect_right(self.los, lo) - 1
        return i >= 0 and hi <= self.his[i]

    def disjoint(self, lo: int, hi: int) -> bool:
        """True when no number of ``[lo, hi]`` is in the set."""
        i = bisect.bisect_right(self.los, hi) - 1
        return i < 0 or self.his[i] < lo

    def add(self, lo: int, hi: int | None = None) -> None:
        """Add ``[lo, hi]`` (one number when ``hi`` is None)."""
        hi = lo if hi is None else hi
        if self.his and self.his[-1] + 1 == lo:  # the usual case: the next record
            self.his[-1] = hi
            return
        i = bisect.bisect_right(self.los, lo) - 1
        if i >= 0 and self.his[i] >= lo - 1:  # touches the range on the left: extend it
            lo = self.los[i]
            hi = max(hi, self.his[i])
            del self.los[i], self.his[i]
        else:
            i += 1
        while i < len(self.los) and self.los[i] <= hi + 1:  # swallow ranges it reaches
            hi = max(hi, self.his[i])
            del self.los[i], self.his[i]
        self.los.insert(i, lo)
        self.his.insert(i, hi)

    def ranges(self) -> list[list[int]]:
        """The ranges, for a snapshot."""
        return [[lo, hi] for lo, hi in zip(self.los, self.his, strict=True)]
