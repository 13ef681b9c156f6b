"""What a verb acts on: its items (workflows, jobs, handles, project directories, node-link
graph files, names of workflows or jobs) resolved into the project's
:class:`~jobledger.session.Session`, the keys selected and the workflows holding them.

The verbs of :mod:`jobledger.api.verbs` start here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs

from jobledger.api.nodelink import is_graph_file, selection_of_file
from jobledger.engine.definitions import define
from jobledger.errors import ProjectError
from jobledger.session.registry import session_for
from jobledger.session.selection import Selection, select
from jobledger.session.session import Session


def session_of(
    sel: Selection, project: Any, logger: logging.Logger | None, create: bool, **kw: Any
) -> Session:
    """The session of ``project``, or of the project the selection names."""
    return session_for(project if project is not None else sel.project, create=create, logger=logger, **kw)


def _merged(first: Selection, more: list[Selection]) -> Selection:
    for other in more:
        first = attrs.evolve(
            first,
            project=first.project or other.project,
            workflows=first.workflows + other.workflows,
            keys=first.keys + other.keys,
            workflow_names=first.workflow_names + other.workflow_names,
        )
    return first


def split_items(items: tuple[Any, ...], names: bool, name: str | None = None) -> tuple[Selection, list[str]]:
    """The selection of ``items``, graph files read; with ``names``, the strings that are
    neither a graph file nor a project directory come back apart, to be resolved as names."""
    rest: list[Any] = []
    graphs: list[Selection] = []
    texts: list[str] = []
    for item in items:
        flat = list(item) if isinstance(item, (list, tuple)) and names and item else [item]
        if len(flat) > 1 and not all(isinstance(i, str) for i in flat):
            flat = [item]  # a mixed list: select() reads it (hyrun's nested lists)
        for entry in flat:
            if is_graph_file(entry):
                graphs.append(selection_of_file(entry))
            elif names and isinstance(entry, str) and not Path(entry).is_dir():
                texts.append(entry)
            else:
                rest.append(entry)
    return _merged(select(rest, name=name), graphs), texts


def _named(sel: Selection, texts: list[str], session: Session, strict: bool) -> Selection:
    """``sel`` plus what each of ``texts`` names: a workflow, the jobs of that name, or
    (as before names were read) the job whose command it is. With ``strict``, a text that
    names nothing the ledger knows raises :class:`~jobledger.errors.ProjectError`."""
    state = session.state
    workflows = list(state.workflows())
    keys: list[str] = []
    wf_names: list[str] = []
    commands: list[str] = []
    for text in texts:
        found = text in workflows
        if found and text not in wf_names:
            wf_names.append(text)  # the whole workflow
        for wf_name in workflows:
            for key in session.keys_of([wf_name]):
                record = state.record(key)
                if record is not None and record.name == text:
                    found = True
                    if key not in keys:
                        keys.append(key)  # only the job(s) of that name
        if found:
            continue
        if strict and not targets(select([text]), session, known_only=True)[0]:
            known = ", ".join(sorted(workflows)) or "none"
            raise ProjectError(
                f"no job or workflow named {text!r} in {session.project.root} (workflows: {known})"
            )
        commands.append(text)
    named = Selection(None, (), tuple(keys), tuple(wf_names))
    return _merged(sel, [named, select(commands)] if commands else [named])


def acting(
    items: tuple[Any, ...], project: Any, logger: logging.Logger | None, strict: bool
) -> tuple[Session, list[str], list[str]]:
    """Session, keys and workflow names that a verb acting on recorded jobs selects."""
    sel, texts = split_items(items, names=True)
    session = session_of(sel, project, logger, False)
    sel = _named(sel, texts, session, strict) if texts else sel
    keys, names = targets(sel, session, known_only=True)
    return session, keys, names


def targets(sel: Selection, session: Session, *, known_only: bool) -> tuple[list[str], list[str]]:
    """Keys selected and the workflows holding them (every workflow when nothing is named).

    Workflows given as objects are keyed without being recorded; with ``known_only`` only
    the keys the ledger knows are kept (a read-only verb touches nothing that never ran).
    """
    keys: list[str] = []
    names: list[str] = []
    seen: set[str] = set()

    def add(more: Any) -> None:
        for key in more:
            if key not in seen and (not known_only or session.state.has_job(key)):
                seen.add(key)
                keys.append(key)

    for wf in sel.workflows:
        definition = define(wf, project=session.project, config=session.driver.config)
        computed = [s.key for s in definition.specs]
        add(computed)
        if session.state.workflow(wf.name) is not None:
            names.append(wf.name)
            if not all(session.state.has_job(k) for k in computed):
                # keyed differently here (inputs seen from another directory...): the
                # ledger's record of the workflow is what was defined
                add(session.keys_of([wf.name]))
    for name in sel.workflow_names:
        names.append(name)
        add(session.keys_of([name]))
    add(sel.keys)
    if not sel.workflows and not sel.keys and not sel.workflow_names:
        names = list(session.state.workflows())
        add(session.keys_of(names))
    for name in session.workflows_of(keys):
        if name not in names:
            names.append(name)
    return keys, names
