"""Input files of a sweep: :class:`FileResource` and how each linkage reaches a run folder."""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import attrs

from jobledger.api.multirun.layout import LINKAGES, SHARED_DIR, FileLinkage
from jobledger.errors import ModelError


def _linkage(value: str) -> FileLinkage:
    if value not in LINKAGES:
        raise ModelError(f"unknown file linkage {value!r}; use 'copy', 'shared' or 'link'")
    return cast("FileLinkage", value)


@attrs.frozen
class FileResource:
    """A file (or folder) to make available in every run folder.

    ``linkage``: ``"copy"`` copies it into each run folder, ``"shared"`` (the default)
    copies it once to ``<output_path>/shared/`` and symlinks each run to that copy,
    ``"link"`` symlinks each run to the original path. ``rename`` is its name (or
    relative path) inside the run folder.
    """

    path: Path = attrs.field(converter=Path)
    linkage: FileLinkage = attrs.field(default="shared", converter=_linkage)
    rename: str | Path | None = None

    @property
    def name(self) -> Path:
        """Its file name (or relative path) in the run folder."""
        name = Path(self.rename) if self.rename is not None else Path(self.path.name)
        if name.is_absolute() or ".." in name.parts or not name.parts:
            raise ModelError(f"input {self.path}: {name} is not a relative path inside the run folder")
        return name


def _resource(item: FileResource | str | os.PathLike[str]) -> FileResource:
    if isinstance(item, FileResource):
        resource = item
    elif isinstance(item, (str, os.PathLike)):
        resource = FileResource(Path(item))
    else:
        raise ModelError(f"an input file is a path or a FileResource, not {type(item).__name__}")
    path = resource.path.expanduser().absolute()
    if not path.exists():
        raise ModelError(f"input file {resource.path} does not exist")
    return attrs.evolve(resource, path=path)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    _remove(dst)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _symlink(target: Path | str, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    _remove(link)
    link.symlink_to(target)


def _same_file(a: Path, b: Path) -> bool:
    if not b.exists() or a.is_dir() != b.is_dir():
        return False
    if a.is_dir():
        cmp = filecmp.dircmp(a, b)
        return not (cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files)
    return filecmp.cmp(a, b, shallow=False)


def _place_shared(resources: Sequence[FileResource], output: Path) -> None:
    for res in resources:
        if res.linkage == "shared":
            copy = output / SHARED_DIR / res.name
            if not _same_file(res.path, copy):
                _copy(res.path, copy)


def _place_inputs(resources: Sequence[FileResource], output: Path, run_dir: Path) -> None:
    for res in resources:
        dest = run_dir / res.name
        if res.linkage == "copy":
            _copy(res.path, dest)
        elif res.linkage == "shared":
            shared = output / SHARED_DIR / res.name
            _symlink(os.path.relpath(shared, dest.parent), dest)
        else:
            _symlink(res.path, dest)


def _check_names(resources: Sequence[FileResource]) -> None:
    seen: dict[Path, FileResource] = {}
    for res in resources:
        other = seen.get(res.name)
        if other is not None:
            raise ModelError(f"input files {other.path} and {res.path} both become {res.name}")
        seen[res.name] = res
