"""The reducer: a pure fold from events to the project state.

Every handler is a *join*: applying the same set of events in any order gives the same
state. That is what lets a reader take segment files in any order, add the bytes a
``git merge`` brought after a snapshot, or see another process's events late:

- definitions are last-writer-wins by event order ``(clock, writer, seq)``;
- an attempt's (or array element's) state only moves up the rank
  pending < submitted < running < final; among final states the earliest recorded wins;
- set-once facts (scheduler id, submission outcome) keep the earliest event;
- histories are collected and sorted when read.

The state is plain dicts and lists so that a snapshot is one msgpack blob. Read it
through :class:`~jobledger.ledger.state.ProjectState`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.states import JobState

State = dict[str, Any]
Order = list[Any]  # [clock, writer, seq]

_RANK = {s.value: s.rank for s in JobState}
_FINAL = 3


class EventMismatch(LedgerError):
    """An event does not fit the state (missing fields, wrong types)."""


def empty_state() -> State:
    """The state of an empty ledger."""
    return {"workflows": {}, "jobs": {}, "writers": {}, "problems": [], "max_clock": 0}


def new_job(key: str) -> dict[str, Any]:
    """A job record before its definition is known."""
    return {"key": key, "name": key[:8], "def_order": None, "attempts": {}, "reused_in": []}


def new_attempt() -> dict[str, Any]:
    """An attempt record with nothing known yet."""
    return {
        "state": "pending",
        "sorder": None,
        "exit_code": None,
        "signal": None,
        "reason": "",
        "intent": None,
        "outcome": None,
        "scheduler_id": None,
        "host": None,
        "run_dir": None,
        "submitted_at": None,
        "started_at": None,
        "ended_at": None,
        "history": [],
        "elements": {},
        "result": None,
        "cancel": None,
        "retry": None,
        "error": None,
        "resources": None,
    }


def _job(state: State, key: str) -> dict[str, Any]:
    job: dict[str, Any] | None = state["jobs"].get(key)
    if job is None:
        job = state["jobs"][key] = new_job(key)
    return job


def _attempt(job: dict[str, Any], number: int) -> dict[str, Any]:
    attempts = job["attempts"]
    att: dict[str, Any] | None = attempts.get(number)
    if att is None:
        att = attempts[number] = new_attempt()
    return att


def _earlier(a: Order | None, b: Order) -> bool:
    return a is None or b < a


# ---------------------------------------------------------------------- handlers
def _on_segment(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    state["writers"][order[1]] = {
        "host": data.get("host"),
        "pid": data.get("pid"),
        "created": data.get("created", when),
    }


def _on_workflow(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    name = data["name"]
    current = state["workflows"].get(name)
    newer = current is None or current["order"] < order
    if newer:
        state["workflows"][name] = {
            "order": order,
            "jobs": [j["key"] for j in data["jobs"]],
            "root": data.get("root"),
            "defined": when,
            "source": data.get("source"),
            "digest": data.get("digest"),
        }
    for spec in data["jobs"]:
        job = _job(state, spec["key"])
        if job["def_order"] is None or job["def_order"] < order:
            for field, value in spec.items():
                job[field] = value
            job["def_order"] = order


def _state_join(target: dict[str, Any], order: Order, when: float, data: dict[str, Any]) -> None:
    """Move ``target`` (attempt or element) to the event's state if it ranks higher."""
    new = data["state"]
    rank = _RANK.get(new)
    if rank is None:
        raise EventMismatch(f"unknown state {new!r}")
    cur_rank = _RANK[target["state"]]
    if rank > cur_rank or (rank == cur_rank and _earlier(target["sorder"], order)):
        if rank == cur_rank and rank < _FINAL and target["sorder"] is not None:
            # same non-final state seen again: keep the first sighting's details
            pass
        target["state"] = new
        target["sorder"] = order
        if rank >= _FINAL:
            target["exit_code"] = data.get("exit_code")
            target["signal"] = data.get("signal")
            target["ended_at"] = data.get("at", when)
        if data.get("reason") is not None:
            target["reason"] = data.get("reason")
    if new == "running":
        started = data.get("at", when)
        if target.get("started_at") is None or started < target["started_at"]:
            target["started_at"] = started


def _on_state(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    index = data.get("index")
    if index is None:
        _state_join(att, order, when, data)
    else:
        elements = att["elements"]
        element = elements.get(index)
        if element is None:
            element = elements[index] = {
                "state": "pending",
                "sorder": None,
                "exit_code": None,
                "signal": None,
                "reason": "",
                "started_at": None,
                "ended_at": None,
            }
        _state_join(element, order, when, data)
    att["history"].append([*order, data["state"], data.get("at", when), index])


def _on_intent(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    action = data.get("action", "submit")
    if action == "submit":
        if _earlier(att["intent"], order):
            att["intent"] = order
            att["host"] = data.get("host", att["host"])
            att["run_dir"] = data.get("run_dir", att["run_dir"])
            att["resources"] = data.get("resources")
    elif action == "cancel" and _earlier(att["cancel"], order):
        att["cancel"] = order


_OUTCOME_RANK = {"transient": 0, "submit_failed": 1, "submitted": 2}


def _outcome_join(att: dict[str, Any], order: Order, kind: str) -> bool:
    """Keep the strongest outcome (submitted > refused > transient failure), earliest first."""
    current = att["outcome"]
    if current is not None:
        cur_rank, new_rank = _OUTCOME_RANK[current[1]], _OUTCOME_RANK[kind]
        if new_rank < cur_rank or (new_rank == cur_rank and not order < current[0]):
            return False
    att["outcome"] = [order, kind]
    return True


def _on_submitted(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    if _outcome_join(att, order, "submitted"):
        att["scheduler_id"] = data.get("scheduler_id")
        att["host"] = data.get("host", att["host"])
        if data.get("run_dir"):
            att["run_dir"] = data["run_dir"]
        att["submitted_at"] = data.get("at", when)
    _state_join(att, order, when, {"state": "submitted"})
    att["history"].append([*order, "submitted", data.get("at", when), None])


def _on_submit_failed(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    transient = bool(data.get("transient"))
    if _outcome_join(att, order, "transient" if transient else "submit_failed"):
        att["error"] = data.get("error")
    if not transient:
        _state_join(att, order, when, {"state": "failed", "reason": data.get("error", "")})
        att["history"].append([*order, "failed", when, None])


def _on_result(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    index = data.get("index")
    results = att["result"] if isinstance(att["result"], dict) else {}
    slot = "" if index is None else str(index)
    existing = results.get(slot)
    if existing is None or order < existing["order"]:
        results[slot] = {"order": order, **{k: v for k, v in data.items() if k not in ("key",)}}
    att["result"] = results


def _on_reused(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    job = _job(state, data["key"])
    workflow = data.get("workflow")
    if workflow not in job["reused_in"]:
        job["reused_in"].append(workflow)
        job["reused_in"].sort(key=str)


def _on_cancel(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data.get("attempt", 1)))
    if _earlier(att["cancel"], order):
        att["cancel"] = order


def _on_retry(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    att = _attempt(_job(state, data["key"]), int(data["attempt"]))
    if att["retry"] is None or order < att["retry"]["order"]:
        att["retry"] = {
            "order": order,
            "reason": data.get("reason", ""),
            "manual": bool(data.get("manual")),
            "not_before": data.get("not_before"),
        }
        if data.get("resources") is not None:
            att["resources"] = data["resources"]


def _on_note(state: State, order: Order, when: float, data: dict[str, Any]) -> None:
    return None


HANDLERS: dict[str, Callable[[State, Order, float, dict[str, Any]], None]] = {
    ev.SEGMENT: _on_segment,
    ev.WORKFLOW: _on_workflow,
    ev.INTENT: _on_intent,
    ev.SUBMITTED: _on_submitted,
    ev.SUBMIT_FAILED: _on_submit_failed,
    ev.STATE: _on_state,
    ev.RESULT: _on_result,
    ev.REUSED: _on_reused,
    ev.CANCEL: _on_cancel,
    ev.RETRY: _on_retry,
    ev.NOTE: _on_note,
}


def apply(state: State, raw: list[Any], writer: str) -> None:
    """Fold one on-disk event ``[type, clock, seq, time, data]`` into ``state``.

    Unknown types are skipped. Raises :class:`EventMismatch` when a known event lacks
    what it needs; the state is then unchanged for that event's main effect.
    """
    try:
        etype, clock, seq, when, data = raw
    except (TypeError, ValueError):
        raise EventMismatch(f"malformed event {raw!r:.200}") from None
    state["max_clock"] = max(state["max_clock"], clock)
    handler = HANDLERS.get(etype)
    if handler is None:
        return
    try:
        handler(state, [clock, writer, seq], when, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EventMismatch(f"{etype} event does not fit: {exc!r}") from None


def fold(events: Iterable[tuple[list[Any], str]], state: State | None = None) -> State:
    """Apply ``(raw event, writer)`` pairs to ``state`` (a fresh one by default).

    Events that do not fit are listed in ``state["problems"]`` and otherwise skipped.
    """
    target = empty_state() if state is None else state
    for raw, writer in events:
        try:
            apply(target, raw, writer)
        except EventMismatch as exc:
            target["problems"].append(f"writer {writer}: {exc}")
    return target
