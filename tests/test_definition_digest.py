"""A definition's digest is the hash of its stored specs, whichever way they were built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import msgpack
import pytest

import jobledger as jl
from jobledger.config import load_config
from jobledger.engine.definition_digest import definition_digest
from jobledger.engine.definitions import define
from jobledger.engine.payloads import content_digest
from jobledger.ledger.event_codec import decode_spec, encode


def _whole(name: str, specs: list[Any] | tuple[Any, ...]) -> str:
    """The digest as the whole packed array: ``[name, [encode(spec) ...]]``."""
    return content_digest(msgpack.packb([name, [encode(s) for s in specs]], use_bin_type=True))


def _varied(tmp: Path) -> jl.Workflow:
    (tmp / "in.txt").write_text("data")
    a = jl.Job(name="a", command="echo 'a $(x)'", cpus=2, memory="1G", env={"X": "1"})
    b = jl.Job(
        name="b", command=["python", "-c", "print(1)"], after=[a], modules=["gcc"], setup=["ulimit -c 0"]
    )
    c = jl.Job(
        name="c",
        tasks=["echo one", ["echo", "two"], print],
        after=[(a, "afterany"), b],
        inputs=[str(tmp / "in.txt")],
        outputs=["out.txt"],
        retries=2,
        memory=lambda attempt: f"{attempt}G",
        stderr=None,
        workdir=str(tmp),
        slurm_args=["--exclusive"],
    )
    d = jl.Job(
        name="d", command="true", array=range(3), max_concurrent=2, host="local", waitfor="any", after=[c]
    )
    return jl.Workflow([a, b, c, d], name="varied")


def test_the_streamed_digest_is_the_digest_of_the_whole_array(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project = jl.Project.init(tmp_path)
    definition = define(_varied(tmp_path), project=project, config=load_config(project.root))
    assert definition.digest == _whole("varied", definition.specs)
    # specs holding every field (made by attrs.evolve) and specs read back from the ledger
    evolved = [attrs.evolve(s, workdir=s.workdir) for s in definition.specs]
    assert definition_digest("varied", evolved) == definition.digest
    decoded = [decode_spec(encode(s)) for s in definition.specs]
    assert definition_digest("varied", decoded) == definition.digest
    moved = [attrs.evolve(s, workdir="/elsewhere") for s in definition.specs]
    assert definition_digest("varied", moved) == _whole("varied", moved) != definition.digest
