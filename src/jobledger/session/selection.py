"""What a verb's arguments name: the normalisation every face shares."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from jobledger.errors import ModelError, ProjectError
from jobledger.model.job import Job
from jobledger.model.task import Task
from jobledger.model.workflow import Workflow
from jobledger.project import Project


def project_for(project: str | os.PathLike[str] | Project | None, *, create: bool) -> Project:
    """The project to use: given, found upward from the cwd, or (``create``) made here."""
    if isinstance(project, Project):
        return project
    if project is not None:
        path = Path(project)
        found = Project.find(path)
        if found is not None:
            return found
        if create:
            return Project.init(path)
        raise ProjectError(f"{path} is not inside a jobledger project (run `jobledger init {path}`)")
    found = Project.find()
    if found is not None:
        return found
    if not create:
        return Project.open()
    made = Project.init(Path.cwd())
    print(f"jobledger: created a new project in {made.root}", file=sys.stderr)
    return made


@attrs.frozen
class Selection:
    """What a verb's arguments name: workflows to define, existing keys, a project."""

    project: Project | None
    workflows: tuple[Workflow, ...]
    keys: tuple[str, ...]
    workflow_names: tuple[str, ...]


def _as_job(item: Any) -> Job:
    if isinstance(item, Job):
        return item
    if isinstance(item, Task):
        return Job(tasks=[item])
    if isinstance(item, str):
        return Job(command=item)
    if isinstance(item, dict):
        return Job(**item)
    to_job = getattr(item, "to_job", None)
    if callable(to_job):
        job = to_job()
        if isinstance(job, Job):
            return job
    raise ModelError(f"cannot make a job of {item!r}")


def default_workflow_name(jobs: Sequence[Job]) -> str:
    """A stable name for jobs given without a workflow: from the terminal jobs' names."""
    wf = Workflow(jobs, name="_")
    names = sorted(j.name for j in wf.terminal_nodes())
    if len(names) == 1:
        return names[0]
    text = "+".join(names)
    if len(text) <= 60:
        return text
    return f"{names[0]}+{len(names) - 1}-{hashlib.blake2b(text.encode(), digest_size=3).hexdigest()}"


def select(items: Iterable[Any], *, name: str | None = None) -> Selection:
    """Normalise the inputs every hyrun-style verb accepts.

    Workflows, Jobs, Tasks, lists of them (a list of Tasks inside a list is one job of
    several tasks, as in hyrun), results (anything with ``key`` and ``project``), and
    project paths. Loose jobs become one workflow named by ``name`` or after them.
    """
    workflows: list[Workflow] = []
    loose: list[Job] = []
    keys: list[str] = []
    wf_names: list[str] = []
    project: Project | None = None

    def visit(item: Any, depth: int) -> None:
        nonlocal project
        if isinstance(item, Workflow):
            workflows.append(item)
        elif isinstance(item, Project):
            project = item
        elif isinstance(item, os.PathLike) or (
            isinstance(item, str) and depth == 0 and _is_project_path(item)
        ):
            project = project_for(os.fspath(item), create=False)
        elif getattr(item, "_jobledger_selection", None) is not None:
            sel: Selection = item._jobledger_selection()
            project = project or sel.project
            workflows.extend(sel.workflows)
            keys.extend(sel.keys)
            wf_names.extend(sel.workflow_names)
        elif isinstance(item, (list, tuple)):
            if depth >= 1 and item and all(isinstance(t, (Task, str)) for t in item):
                loose.append(Job(tasks=[t if isinstance(t, Task) else Task(t) for t in item]))
            else:
                for sub in item:
                    visit(sub, depth + 1)
        else:
            loose.append(_as_job(item))

    for entry in items:
        visit(entry, 0)
    if loose:
        workflows.append(Workflow(loose, name=name or default_workflow_name(loose)))
    return Selection(project, tuple(workflows), tuple(keys), tuple(wf_names))


def _is_project_path(text: str) -> bool:
    path = Path(text)
    return path.is_dir() and (path / ".jobledger").is_dir()
