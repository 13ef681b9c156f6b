"""``jobledger graph``: DOT equal to a golden file, valid SVG, Mermaid, a sane layout.

The known DAG runs for real on the local backend (two host aliases, both local) and ends
the same way every time: an array with one failing element, a failing job, a job that
succeeds on its second attempt, downstream jobs that never run, an ``afterany`` and an
``afternotok`` edge, and edges between the two hosts. Regenerate the golden file with
``JOBLEDGER_UPDATE_GOLDEN=1 pytest tests/test_view_graph.py``.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import jobledger as jl
from conftest import run_cli
from jobledger.project import Project
from jobledger.view.graph import Edge, Graph, Node, build_graph, layout, to_dot, to_mermaid, to_svg
from jobledger.view.graph.groups import collapsed, group_graph

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "views" / "graph.dot"
SVG = "{http://www.w3.org/2000/svg}"


def known_dag(root: Path) -> jl.Workflow:
    """Nine jobs whose final states do not depend on timing."""
    counter = root / "flaky.count"
    prep = jl.Job(name="prep", command="echo prep")
    scan = jl.Job(name="scan", command='[ "$JOBLEDGER_ARRAY_INDEX" != 2 ]', array=4, after=[prep])
    far = jl.Job(name="far", command="echo far", after=[prep], host="other")
    fail = jl.Job(name="fail", command="echo broken >&2; exit 4", after=[prep])
    flaky = jl.Job(
        name="flaky",
        command=f"n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; [ $n -ge 2 ]",
        after=[prep],
        retries=2,
        retry_on={"failed"},
    )
    merge = jl.Job(name="merge", command="echo merge", after=[scan, far])
    cleanup = jl.Job(name="cleanup", command="echo cleanup", after=[jl.Dependency(fail, "afterany"), merge])
    rescue = jl.Job(name="rescue", command="echo rescue", after=[jl.Dependency(fail, "afternotok")])
    final = jl.Job(name="final", command="echo final", after=[cleanup, flaky, prep])
    return jl.Workflow([final, rescue], name="known")


@pytest.fixture
def ran(project: Project) -> Project:
    (project.root / "jobledger.toml").write_text('[hosts.other]\nscheduler = "local"\n')
    jl.run(known_dag(project.root), wait=True, check=False, timeout=60)
    return project


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(project.root, *args, timeout=60)


def test_dot_equals_golden_file(ran: Project) -> None:
    out = _cli(ran, "graph", "--format", "dot", "--workflow", "known")
    assert out.returncode == 0, out.stderr
    if os.environ.get("JOBLEDGER_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(out.stdout)
    assert out.stdout == GOLDEN.read_text()
    # what the golden file must show, spelled out
    dot = out.stdout
    assert '"scan" [label="scan\\n[4] 3 completed, 1 failed"' in dot and 'peripheries="2"' in dot
    assert '"flaky" [label="flaky\\ncompleted · attempt 2"' in dot
    assert '"prep" -> "far" [style="dashed", color="#ef6c00"' in dot  # cross-host, marked
    assert '"fail" -> "cleanup" [style="dashed", label="any"]' in dot
    assert "subgraph cluster_0" in dot and 'label="host other"' in dot


def test_svg_is_valid_xml_and_complete(ran: Project, tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    out = _cli(ran, "graph", "-o", str(target))  # format from the suffix
    assert out.returncode == 0, out.stderr
    root = ET.parse(target).getroot()
    assert root.tag == f"{SVG}svg"
    nodes = {g.get("data-name"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert sorted(nodes) == sorted(
        ["prep", "scan", "far", "fail", "flaky", "merge", "cleanup", "rescue", "final"]
    )
    states = {name: g.get("data-state") for name, g in nodes.items()}
    assert states["scan"] == "failed" and states["merge"] == "dependency_failed"
    assert states["rescue"] == "completed" and states["flaky"] == "completed"
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in (p.get("class") or "").split()]
    assert len(edges) == 12
    cross = sorted(
        (p.get("data-from"), p.get("data-to")) for p in edges if "cross-host" in (p.get("class") or "")
    )
    assert cross == [("far", "merge"), ("prep", "far")]
    texts = "".join(root.itertext())
    assert "[4] 3 completed, 1 failed" in texts and "@other" in texts
    keep = os.environ.get("JOBLEDGER_SCREENSHOT_DIR")
    if keep:  # docs/img/graph.svg is made this way
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(keep) / "graph.svg")


def test_mermaid(ran: Project) -> None:
    out = _cli(ran, "graph", "--format", "mermaid")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(1 for ln in lines if ":::" in ln) == 9
    assert any(ln.strip().startswith("classDef failed fill:") for ln in lines)
    assert any('-. "local → other" .->' in ln for ln in lines)
    assert any(ln.strip().startswith("linkStyle ") for ln in lines)


def test_cli_errors(ran: Project) -> None:
    bad = _cli(ran, "graph", "--workflow", "nope")
    assert bad.returncode == 2 and "no workflow named 'nope'" in bad.stderr
    bad = _cli(ran, "graph", "--format", "png")
    assert bad.returncode == 2


def test_layout_of_a_larger_random_dag_is_deterministic_and_does_not_overlap(project: Project) -> None:
    rng = random.Random(7)
    jobs: list[jl.Job] = []
    for i in range(60):
        ups = rng.sample(jobs, k=min(len(jobs), rng.choice([0, 1, 1, 2, 3]))) if jobs else []
        jobs.append(
            jl.Job(name=f"j{i:02d}", command=f"echo {i}", after=ups, array=3 if i % 11 == 0 else None)
        )
    jl.init(jl.Workflow(jobs, name="random"))
    state = project.ledger.state
    graph = build_graph(state, ["random"])
    assert len(graph.nodes) == 60 and {n.state for n in graph.nodes} == {"pending"}
    assert to_svg(graph) == to_svg(build_graph(state, ["random"]))
    assert to_dot(graph) == to_dot(build_graph(state)) and to_mermaid(graph).count(":::") == 60
    slots, _chains, width, height = layout(graph)
    boxes = [(s.x, s.y, s.x + s.width, s.y + s.height) for s in slots if s.node is not None]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= width and 0 <= a[1] and a[3] <= height
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    x = {s.ident: s.x for s in slots}
    for edge in graph.edges:  # every dependency points to the right
        assert x[edge.source] < x[edge.target]
    ET.fromstring(to_svg(graph).split("?>", 1)[1])


def test_empty_project_draws_an_empty_graph(project: Project) -> None:
    graph = build_graph(project.ledger.state)
    assert graph.nodes == () and "no jobs" in to_svg(graph)
    ET.fromstring(to_svg(graph).split("?>", 1)[1])
    assert to_dot(graph).startswith('digraph "(no workflow)" {')


# ------------------------------------------------------------------ groups of jobs
def _job(name: str, state: str = "completed", host: str = "local") -> Node:
    return Node(key=f"k-{name}", ident=name, name=name, state=state, host=host, attempts=1,
                exit_code=None, array_total=0, array_counts=(), reused=False)  # fmt: skip


def test_jobs_sharing_a_name_pattern_are_one_node_with_counts_and_one_edge() -> None:
    sims = [_job("sim-1"), _job("sim-2", "failed"), _job("sim-10")]
    posts = [_job("post-1"), _job("post-2", "dependency_failed"), _job("post-10")]
    merge = _job("merge", "dependency_failed")
    edges = [Edge(f"k-sim-{i}", f"k-post-{i}", "afterok", "local", "local") for i in (1, 2, 10)]
    edges += [Edge("k-sim-1", "k-sim-2", "afterok", "local", "local")]  # inside one group
    edges += [Edge(f"k-post-{i}", "k-merge", "afterany", "local", "local") for i in (1, 2, 10)]
    graph = Graph("g", (*sims, *posts, merge), tuple(edges))

    grouped = group_graph(graph)
    assert [(n.ident, n.state, n.array_total, n.array_counts) for n in grouped.nodes] == [
        ("sim-*", "failed", 3, (("completed", 2), ("failed", 1))),
        ("post-*", "dependency_failed", 3, (("completed", 2), ("dependency_failed", 1))),
        ("merge", "dependency_failed", 0, ()),
    ]
    assert grouped.nodes[0].name == "sim-* (3 jobs)"
    assert [(e.source, e.target, e.kind) for e in grouped.edges] == [
        ("group:sim-*", "group:post-*", "afterok"),
        ("group:post-*", "k-merge", "afterany"),
    ]
    assert collapsed(graph) is graph  # small graphs stay whole unless asked
    assert collapsed(graph, full=False).nodes == grouped.nodes
    svg = to_svg(grouped)
    assert svg.count('class="node"') == 3 and "sim-* (3 jobs)" in svg
