"""The reducer: a pure fold from events to the project state.

Every handler is a *join*: applying the same set of events in any order gives the same
state. That is what lets a reader take segment files in any order, add the bytes a
``git merge`` brought after a snapshot, or see another process's events late:

- definitions are last-writer-wins by event order ``(clock, writer, seq)``;
- an attempt's (or array element's) state only moves up the rank
  pending < submitted < running < final; among final states the earliest recorded wins;
- set-once facts (scheduler id, submission outcome) keep the earliest event;
- histories are collected and sorted when read.

The state is plain dicts and lists so that a snapshot is msgpack. Records are *sparse*:
a key is present only once something set it (read them with ``.get``). The fold is the
hot path of opening a ledger, so handlers avoid allocations they do not keep. Read the
state through :class:`~jobledger.ledger.state.ProjectState`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jobledger.errors import LedgerError
from jobledger.ledger import events as ev
from jobledger.states import JobState

State = dict[str, Any]
Order = list[Any]  # [clock, writer, seq]

RANK: dict[str, int] = {s.value: s.rank for s in JobState}
_STATE_NAMES = {s.value: s.value for s in JobState}  # one string object per state name
FINAL_RANK = 3
_OUTCOME_RANK = {"transient": 0, "submit_failed": 1, "submitted": 2}


class EventMismatch(LedgerError):
    """An event does not fit the state (missing fields, wrong types)."""


def empty_state() -> State:
    """The state of an empty ledger."""
    return {"workflows": {}, "jobs": {}, "writers": {}, "problems": [], "max_clock": 0}


def _job(state: State, key: str) -> dict[str, Any]:
    jobs = state["jobs"]
    job: dict[str, Any] | None = jobs.get(key)
    if job is None:
        job = jobs[key] = {"key": key, "attempts": {}}
    return job


def _attempt(state: State, data: dict[str, Any]) -> dict[str, Any]:
    job = _job(state, data["key"])
    attempts = job["attempts"]
    number = data.get("attempt", 1)
    att: dict[str, Any] | None = attempts.get(number)
    if att is None:
        if not isinstance(number, int):
            raise EventMismatch(f"attempt must be a whole number, not {number!r}")
        att = attempts[number] = {"state": "pending"}
    return att


def _before(current: Order | None, clock: int, writer: str, seq: int) -> bool:
    """True when ``(clock, writer, seq)`` sorts before ``current`` (or there is none)."""
    if current is None:
        return True
    c0: int = current[0]
    if clock != c0:
        return clock < c0
    return bool((writer, seq) < (current[1], current[2]))


def join_state(
    target: dict[str, Any], clock: int, writer: str, seq: int, when: float, data: dict[str, Any]
) -> None:
    """Move ``target`` (an attempt or element) to the event's state if it ranks higher."""
    rank = RANK.get(data["state"])
    if rank is None:
        raise EventMismatch(f"unknown state {data['state']!r}")
    at = data.get("at", when)
    cur_rank = RANK[target["state"]]
    if rank > cur_rank or (rank == cur_rank and _before(target.get("sorder"), clock, writer, seq)):
        target["state"] = _STATE_NAMES[data["state"]]
        target["sorder"] = (clock, writer, seq)
        target["reason"] = data.get("reason") or ""
        if rank >= FINAL_RANK:
            target["exit_code"] = data.get("exit_code")
            target["signal"] = data.get("signal")
            target["ended_at"] = at
    if rank == 2:  # running: the earliest sighting is when it started
        current = target.get("started_at")
        if current is None or at < current:
            target["started_at"] = at


# ---------------------------------------------------------------------- handlers
Handler = Callable[[State, int, str, int, float, dict[str, Any]], None]


def _on_segment(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    state["writers"][writer] = {
        "host": data.get("host"),
        "pid": data.get("pid"),
        "created": data.get("created", when),
    }


def _on_workflow(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    name = data["name"]
    current = state["workflows"].get(name)
    if current is None or (clock, writer, seq) > tuple(current["order"]):
        state["workflows"][name] = {
            "order": [clock, writer, seq],
            "jobs": [j["key"] for j in data["jobs"]],
            "root": data.get("root"),
            "defined": when,
            "source": data.get("source"),
            "digest": data.get("digest"),
        }
    for spec in data["jobs"]:
        job = _job(state, spec["key"])
        current_def = job.get("def_order")
        if current_def is None or (clock, writer, seq) >= tuple(current_def):
            job.update(spec)
            job["def_order"] = [clock, writer, seq]


def _on_state(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    att = _attempt(state, data)
    index = data.get("index")
    target: dict[str, Any] = att
    if index is not None:
        elements = att.get("elements")
        if elements is None:
            elements = att["elements"] = {}
        element = elements.get(index)
        if element is None:
            element = elements[index] = {"state": "pending"}
        target = element
    join_state(target, clock, writer, seq, when, data)
    entry = (clock, _STATE_NAMES.get(data["state"], data["state"]), data.get("at", when), index)
    history = att.get("history")
    if history is None:
        att["history"] = [entry]
    else:
        history.append(entry)


def _on_intent(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    att = _attempt(state, data)
    action = data.get("action", "submit")
    if action == "submit":
        if _before(att.get("intent"), clock, writer, seq):
            att["intent"] = (clock, writer, seq)
            if "host" in data:
                att["host"] = data["host"]
            if "run_dir" in data:
                att["run_dir"] = data["run_dir"]
            if "resources" in data:
                att["resources"] = data["resources"]
            if "workflow" in data:
                att["workflow"] = data["workflow"]
            if data.get("index_offset"):
                att["index_offset"] = data["index_offset"]
            if data.get("native_deps"):
                att["native_deps"] = data["native_deps"]
    elif action == "cancel" and _before(att.get("cancel"), clock, writer, seq):
        att["cancel"] = (clock, writer, seq)


def _outcome_join(att: dict[str, Any], clock: int, writer: str, seq: int, kind: str) -> bool:
    """Keep the strongest outcome (submitted > refused > transient failure), earliest first."""
    current = att.get("outcome")
    if current is not None:
        cur_rank, new_rank = _OUTCOME_RANK[current[3]], _OUTCOME_RANK[kind]
        if new_rank < cur_rank or (new_rank == cur_rank and not _before(current, clock, writer, seq)):
            return False
    att["outcome"] = (clock, writer, seq, kind)
    return True


def _on_submitted(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    att = _attempt(state, data)
    at = data.get("at", when)
    if "outcome" not in att or _outcome_join(att, clock, writer, seq, "submitted"):
        att["outcome"] = (clock, writer, seq, "submitted")
        att["scheduler_id"] = data.get("scheduler_id")
        if "host" in data:
            att["host"] = data["host"]
        if data.get("run_dir"):
            att["run_dir"] = data["run_dir"]
        if "index_offset" in data:
            att["index_offset"] = data["index_offset"]
        att["submitted_at"] = at
    current_rank = RANK[att["state"]]
    if current_rank < 1 or (current_rank == 1 and _before(att.get("sorder"), clock, writer, seq)):
        att["state"] = "submitted"
        att["sorder"] = (clock, writer, seq)
        att["reason"] = ""
    history = att.get("history")
    if history is None:
        att["history"] = [(clock, "submitted", at, None)]
    else:
        history.append((clock, "submitted", at, None))


def _on_submit_failed(
    state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]
) -> None:
    att = _attempt(state, data)
    transient = bool(data.get("transient"))
    if _outcome_join(att, clock, writer, seq, "transient" if transient else "submit_failed"):
        att["error"] = data.get("error")
    if not transient:
        join_state(att, clock, writer, seq, when, {"state": "failed", "reason": data.get("error", "")})
        att.setdefault("history", []).append((clock, "failed", when, None))


def _on_result(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    att = _attempt(state, data)
    index = data.get("index")
    results = att.get("result")
    if results is None:
        results = att["result"] = {}
    slot = "" if index is None else str(index)
    existing = results.get(slot)
    if existing is None or _before(existing["order"], clock, writer, seq):
        results[slot] = {
            "order": [clock, writer, seq],
            **{k: v for k, v in data.items() if k != "key"},
        }


def _on_reused(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    job = _job(state, data["key"])
    workflow = data.get("workflow")
    reused = job.get("reused_in")
    if reused is None:
        job["reused_in"] = [workflow]
    elif workflow not in reused:
        reused.append(workflow)
        reused.sort(key=str)


def _on_cancel(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    att = _attempt(state, data)
    if _before(att.get("cancel"), clock, writer, seq):
        att["cancel"] = (clock, writer, seq)


def _on_retry(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    if not isinstance(data.get("attempt"), int):
        raise EventMismatch("a retry names the attempt it creates")
    att = _attempt(state, data)
    current = att.get("retry")
    if current is None or _before(current["order"], clock, writer, seq):
        att["retry"] = {
            "order": [clock, writer, seq],
            "reason": data.get("reason", ""),
            "manual": bool(data.get("manual")),
            "not_before": data.get("not_before"),
        }
        if data.get("resources") is not None:
            att["resources"] = data["resources"]


def _on_note(state: State, clock: int, writer: str, seq: int, when: float, data: dict[str, Any]) -> None:
    kind = data.get("kind")
    if kind == "staged":
        per_host = state.setdefault("staged", {}).setdefault(data["host"], {})
        current = per_host.get(data["path"])
        if current is None or (clock, writer, seq) > tuple(current[1]):
            per_host[data["path"]] = [data["digest"], (clock, writer, seq)]
        return
    if kind == "fetched" and "key" in data:
        att = _attempt(state, data)
        fetched = att.get("fetched")
        if fetched is None:
            fetched = att["fetched"] = {}
        fetched.update(data.get("files") or {})


HANDLERS: dict[str, Handler] = {
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
    what it needs.
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
        handler(state, clock, writer, seq, when, data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise EventMismatch(f"{etype} event does not fit: {exc!r}") from None


def apply_many(state: State, events: list[list[Any]], writer: str, problems_prefix: str = "") -> int:
    """Fold a record's events (the fast path for reading); returns how many applied.

    Events that do not fit are listed in ``state["problems"]`` and otherwise skipped.
    """
    handlers = HANDLERS
    max_clock = state["max_clock"]
    applied = 0
    for raw in events:
        try:
            etype, clock, seq, when, data = raw
            max_clock = max(max_clock, clock)
            handler = handlers.get(etype)
            if handler is not None:
                handler(state, clock, writer, seq, when, data)
            applied += 1
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, LedgerError) as exc:
            state["problems"].append(f"{problems_prefix}writer {writer}: event does not fit: {exc!r:.200}")
    state["max_clock"] = max(state["max_clock"], max_clock)
    return applied


def fold(events: Iterable[tuple[list[Any], str]], state: State | None = None) -> State:
    """Apply ``(raw event, writer)`` pairs to ``state`` (a fresh one by default)."""
    target = empty_state() if state is None else state
    for raw, writer in events:
        try:
            apply(target, raw, writer)
        except EventMismatch as exc:
            target["problems"].append(f"writer {writer}: {exc}")
    return target
