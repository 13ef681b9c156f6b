"""Defining and running workflows for a :class:`~jobledger.session.session.Session`:
each definition recorded (when it changed) with its payloads, and for a run the verdict of
what it reuses, the driver lock taken and the first step made."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobledger.engine.definitions import (
    Definition,
    define,
    keep_recorded_places,
    record,
    replaced,
    write_payloads,
)
from jobledger.engine.runs import NEW, RERUN, decide
from jobledger.model.workflow import Workflow

if TYPE_CHECKING:
    from jobledger.session.session import Session


def define_workflow(
    session: Session, workflow: Workflow, *, host: str | None, source: str | None
) -> Definition:
    """:meth:`Session.define <jobledger.session.session.Session.define>`."""
    definition = _define(session, workflow, host, source)
    with session.driver.mutex:
        session.ledger.refresh()
        definition = keep_recorded_places(session.ledger.model, definition)
        write_payloads(session.project, definition, list(definition.jobs), only_missing=True)
        _record(session, definition)
    return definition


def run_workflows(
    session: Session,
    workflows: Sequence[Workflow],
    *,
    host: str | None,
    force: bool,
    rerun: bool,
    wait_for_lock: bool | float,
    source: str | None,
) -> list[tuple[Definition, dict[str, str]]]:
    """:meth:`Session.run <jobledger.session.session.Session.run>`."""
    session.steering.raise_background_error()
    host = host or session.defaults.host
    force = force or session.defaults.force
    done = []
    for workflow in workflows:
        definition = _define(session, workflow, host, source)
        session.steering.take(workflow.name, wait_for_lock)
        with session.driver.mutex:
            session.ledger.refresh()
            model = session.ledger.model
            definition = keep_recorded_places(model, definition)
            verdicts, events = decide(
                model, definition, force=force, rerun=rerun, run_id=secrets.token_hex(6)
            )
            runs = [k for k, v in verdicts.items() if v in (NEW, RERUN)]
            write_payloads(session.project, definition, runs, only_missing=False)
            chosen = set(runs)
            others = [k for k in definition.jobs if k not in chosen]
            write_payloads(session.project, definition, others, only_missing=True)
            _record(session, definition)
            for event in events:
                session.ledger.append(event)
            session.ledger.flush(durable=True)
        if workflow.name not in session.ran:
            session.ran.append(workflow.name)
        reused = sum(1 for v in verdicts.values() if v == "reused")
        if reused:
            session.log.info("%s: reused %d finished job(s)", workflow.name, reused)
        done.append((definition, verdicts))
    try:
        session.step()
    except BaseException:
        session.steering.release_all()  # nothing is left driving after a failure
        raise
    session.start_background()
    return done


def _define(session: Session, workflow: Workflow, host: str | None, source: str | None) -> Definition:
    return define(
        workflow, project=session.project, config=session.driver.config, host=host, source=source or _script()
    )


def _record(session: Session, definition: Definition) -> None:
    """Record ``definition`` unless it is already the only current one (see ``replaced``)."""
    replaces = replaced(session.ledger.model, definition)
    if replaces is not None:
        record(session.ledger, definition, replaces, str(session.project.root))


def _script() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else None
