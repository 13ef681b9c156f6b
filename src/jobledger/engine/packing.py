"""Packing: which submissions to one batch host go to the scheduler together, as one array.

Pure. Among the attempts submitted to a host in one batch, those whose batch scripts would
differ only in what runs — same resources, same native dependencies, same raw scheduler
arguments, none of them an array itself — form *packs* of at most ``limit`` jobs. A pack is
one array submission (``sbatch --array``, ``qsub -t`` ...), one element per job; each job
keeps its own key, run directory, claim, exit record and intent, and its intent names its
:class:`~jobledger.engine.types.Slot` (the pack's tag and its element) before the array is
submitted. A job alone in its shape is submitted as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import attrs

from jobledger.engine.types import Slot, Submission
from jobledger.model.names import safe_name

#: Prefix of a pack's tag; the rest is 16 hex digits.
TAG_PREFIX = "jl:pack:"
#: Longest common-name prefix kept in a pack's scheduler-visible name.
NAME_PREFIX_LIMIT = 24


def shape(sub: Submission) -> Hashable | None:
    """What must be equal for two submissions to share an array (``None``: never packed,
    an array job already)."""
    spec = sub.spec
    if spec.array:
        return None
    args = tuple(sorted((k, tuple(v)) for k, v in spec.scheduler_args.items()))
    deps = tuple(sorted((d.scheduler_id, d.kind) for d in sub.native_deps))
    return (spec.host, sub.resources, deps, args)


def pack_name(names: Sequence[str], digest: str) -> str:
    """The array's scheduler-visible name: the members' common name prefix (letters, digits,
    ``_.-``; a letter first, as Grid Engine wants) and 8 hex digits of the pack's tag."""
    prefix = _common_prefix([safe_name(n) for n in names])[:NAME_PREFIX_LIMIT].rstrip("-_.")
    if not prefix or not (prefix[0].isalpha() or prefix[0] == "_"):
        prefix = f"jl{prefix}"
    return f"{prefix}-pack-{digest[:8]}"


def _common_prefix(texts: Sequence[str]) -> str:
    if not texts:
        return ""
    low, high = min(texts), max(texts)  # the common prefix of all is theirs
    length = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        length += 1
    return low[:length]


def assign(subs: Sequence[Submission], limit: int, nonce: str) -> list[Submission]:
    """``subs`` in the same order, each packable one with its :attr:`Submission.pack` set.

    Submissions of one shape are cut, in their order, into packs of at most ``limit``; a
    pack of one is no pack. ``nonce`` (unique per call: a writer and a time) makes each
    pack's tag unique even when the same jobs are packed again after a failed submission.
    """
    if limit < 2:
        return list(subs)
    groups: dict[Hashable, list[int]] = {}
    for position, sub in enumerate(subs):
        found = shape(sub)
        if found is not None:
            groups.setdefault(found, []).append(position)
    out = list(subs)
    for positions in groups.values():
        for start in range(0, len(positions), limit):
            chunk = positions[start : start + limit]
            if len(chunk) < 2:
                continue
            members = [subs[p] for p in chunk]
            text = "\n".join([nonce, *(f"{s.key}:{s.attempt}" for s in members)])
            digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            tag = TAG_PREFIX + digest
            name = pack_name([s.spec.name for s in members], digest)
            for index, position in enumerate(chunk):
                out[position] = attrs.evolve(subs[position], pack=Slot(tag, name, index, len(chunk)))
    return out


def packs(subs: Sequence[Submission]) -> list[list[Submission]]:
    """``subs`` in submission groups, in order: the members of each pack together (where
    its first member was), every other submission alone."""
    groups: list[list[Submission]] = []
    where: dict[str, int] = {}
    for sub in subs:
        if sub.pack is None:
            groups.append([sub])
            continue
        at = where.get(sub.pack.tag)
        if at is None:
            where[sub.pack.tag] = len(groups)
            groups.append([sub])
        else:
            groups[at].append(sub)
    return groups
