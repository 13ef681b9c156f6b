"""The pure planner, without any I/O: models folded from typed events, commands asserted.

Each test builds a :class:`~jobledger.ledger.reducer.Model` the way the ledger does (typed
events through :func:`jobledger.ledger.reducer.apply`), calls
:func:`jobledger.engine.planner.plan` and checks the commands it returns: readiness,
dependency failure, retries, cancellation, reconciliation, native dependencies,
throttling and arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from jobledger.engine.planner import (
    CancelActive,
    CancelPending,
    Command,
    HostView,
    NeverRuns,
    Plan,
    Reconcile,
    Retry,
    Submit,
    plan,
)
from jobledger.ledger import events as ev
from jobledger.ledger.reducer import Model, apply
from jobledger.ledger.specs import JobSpec, TaskSpec

NOW = 1_000_000.0


def spec(key: str, *after: str | tuple[str, str], **fields: Any) -> JobSpec:
    """A submittable shell job ``key`` (also its name) depending on ``after`` (keys, or
    ``(key, kind)`` pairs; ``afterok`` by default)."""
    edges = [[a, "afterok"] if isinstance(a, str) else list(a) for a in after]
    fields.setdefault("tasks", [TaskSpec("shell", shell=f"echo {key}")])
    return JobSpec(key=key, name=key, run_dir=f"jobs/{key}", after=edges, **fields)


class Ledger:
    """Typed events folded into a model, each with the next logical clock."""

    def __init__(self, *specs: JobSpec, name: str = "wf") -> None:
        self.model = Model()
        self.clock = 0
        if specs:
            self.add(ev.WorkflowDefined(name=name, jobs=list(specs), digest=name))

    def add(self, *events: Any, writer: str = "w1") -> Ledger:
        for event in events:
            self.clock += 1
            apply(self.model, event, (self.clock, writer, self.clock), NOW - 1000 + self.clock)
        return self

    # shorthands for an attempt's life
    def submitted(self, key: str, attempt: int = 1, host: str = "local", sid: str = "local") -> Ledger:
        return self.add(
            ev.Intent(key=key, attempt=attempt, host=host),
            ev.Submitted(key=key, attempt=attempt, host=host, scheduler_id=sid),
        )

    def running(self, key: str, attempt: int = 1, host: str = "local", sid: str = "local") -> Ledger:
        self.submitted(key, attempt, host, sid)
        return self.add(ev.StateChanged(key=key, state="running", attempt=attempt))

    def ended(self, key: str, state: str = "completed", attempt: int = 1, **kw: Any) -> Ledger:
        if (
            attempt not in self.model.jobs[key].attempts
            or self.model.jobs[key].attempts[attempt].intent is None
        ):
            self.submitted(key, attempt, kw.pop("host", "local"), kw.pop("sid", "local"))
        return self.add(ev.StateChanged(key=key, state=state, attempt=attempt, **kw))

    def plan(self, *keys: str, now: float = NOW, hosts: Mapping[str, HostView] | None = None) -> Plan:
        order = keys or tuple(self.model.jobs)
        return plan(self.model, order, now, hosts or {})


def kinds(commands: Sequence[Command]) -> list[tuple[str, str, int]]:
    """``(command class, key, attempt)`` of each command."""
    return [(type(c).__name__, c.key, c.attempt) for c in commands]


# ---------------------------------------------------------------------- readiness
def test_jobs_without_upstreams_are_submitted_to_their_host() -> None:
    led = Ledger(spec("a"), spec("b", host="cluster", resources={"cpus": 2}))
    p = led.plan()
    assert p.commands == (
        Submit("a", 1, "local", {}),
        Submit("b", 1, "cluster", {"cpus": 2}),
    )
    assert p.wake_at is None and p.unsubmittable == ()


def test_a_downstream_waits_while_its_upstream_is_pending_or_active() -> None:
    led = Ledger(spec("a"), spec("b", "a"))
    assert kinds(led.plan().commands) == [("Submit", "a", 1)]  # b waits for a, submitted in this plan
    led.running("a")
    assert led.plan().commands == ()
    led.ended("a")
    assert led.plan().commands == (Submit("b", 1, "local", {}),)


@pytest.mark.parametrize(
    ("kind", "upstream_state", "expected"),
    [
        ("afterok", "completed", "Submit"),
        ("afterok", "failed", "NeverRuns"),
        ("afterok", "cancelled", "NeverRuns"),
        ("afterany", "completed", "Submit"),
        ("afterany", "failed", "Submit"),
        ("afterany", "timeout", "Submit"),
        ("afternotok", "completed", "NeverRuns"),
        ("afternotok", "failed", "Submit"),
        ("afternotok", "out_of_memory", "Submit"),
    ],
)
def test_dependency_kinds(kind: str, upstream_state: str, expected: str) -> None:
    led = Ledger(spec("up"), spec("down", ("up", kind)))
    led.ended("up", upstream_state)
    (command,) = led.plan("up", "down").commands
    assert (type(command).__name__, command.key) == (expected, "down")


def test_never_runs_names_the_upstream_that_decided_it() -> None:
    led = Ledger(spec("fetch"), spec("train", "fetch"))
    led.ended("fetch", "failed", exit_code=3)
    (command,) = led.plan().commands
    assert isinstance(command, NeverRuns) and command.attempt == 1
    assert "fetch" in command.reason


def test_dependency_failure_cascades_down_a_chain_in_one_plan() -> None:
    led = Ledger(
        spec("a"),
        spec("b", "a"),
        spec("c", "b"),
        spec("d", ("c", "afterany")),
        spec("e", ("c", "afternotok")),
        spec("f", "d"),
    )
    led.ended("a", "failed")
    assert kinds(led.plan().commands) == [
        ("NeverRuns", "b", 1),
        ("NeverRuns", "c", 1),
        ("Submit", "d", 1),  # afterany: c ended (dependency_failed is an end)
        ("Submit", "e", 1),  # afternotok: c did not complete
    ]  # f waits for d, submitted in this plan


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("completed", "running"), "Submit"),
        (("running", "running"), None),
        (("failed", "running"), None),
        (("failed", "completed"), "Submit"),
        (("failed", "cancelled"), "NeverRuns"),
    ],
)
def test_waitfor_any(states: tuple[str, str], expected: str | None) -> None:
    led = Ledger(spec("u1"), spec("u2"), spec("down", "u1", "u2", waitfor="any"))
    for key, state in zip(("u1", "u2"), states, strict=True):
        if state == "running":
            led.running(key)
        else:
            led.ended(key, state)
    got = [type(c).__name__ for c in led.plan("down").commands]
    assert got == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("completed", "completed"), "Submit"),
        (("completed", "running"), None),
        (("failed", "running"), "NeverRuns"),  # decided: one afterok edge can never hold
    ],
)
def test_waitfor_all(states: tuple[str, str], expected: str | None) -> None:
    led = Ledger(spec("u1"), spec("u2"), spec("down", "u1", "u2"))
    for key, state in zip(("u1", "u2"), states, strict=True):
        if state == "running":
            led.running(key)
        else:
            led.ended(key, state)
    got = [type(c).__name__ for c in led.plan("down").commands]
    assert got == ([] if expected is None else [expected])


def test_an_upstream_outside_the_plan_is_read_from_the_model() -> None:
    """A job of another workflow (a ``JobRef``), decided long ago, is seen as it stands."""
    led = Ledger(spec("upstream"), name="first")
    led.ended("upstream")
    led.add(ev.WorkflowDefined(name="second", jobs=[spec("down", "upstream")], digest="second"))
    assert led.plan("down").commands == (Submit("down", 1, "local", {}),)


def test_jobs_without_a_definition_or_too_old_to_submit() -> None:
    led = Ledger(spec("old", tasks=None), spec("new"))
    led.add(ev.StateChanged(key="ghost", state="failed"))  # known only by an event
    p = led.plan("ghost", "old", "new")
    assert p.commands == (Submit("new", 1, "local", {}),)
    assert p.unsubmittable == ("old",)


def test_finished_and_active_jobs_get_no_command() -> None:
    led = Ledger(spec("done"), spec("busy"), spec("queued"))
    led.ended("done")
    led.running("busy")
    led.submitted("queued", host="cluster", sid="42")
    assert led.plan().commands == ()


# ---------------------------------------------------------------------- retries
def _policy(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"retries": 2, "retry_on": ["failed", "timeout"]}
    base.update(kw)
    return base


def test_a_failed_attempt_is_retried_and_submitted_in_the_same_plan() -> None:
    led = Ledger(spec("flaky", **_policy()))
    led.ended("flaky", "failed", exit_code=1)
    p = led.plan()
    assert p.commands == (
        Retry("flaky", 2, "attempt 1 ended failed", None, {}),
        Submit("flaky", 2, "local", {}),
    )


def test_retry_only_on_the_states_of_the_policy_and_within_attempts() -> None:
    led = Ledger(
        spec("oom", **_policy()),
        spec("last", **_policy()),
        spec("dep", "oom", **_policy(retry_on=["failed", "dependency_failed"])),
    )
    led.ended("oom", "out_of_memory")  # not in retry_on
    for attempt in (1, 2, 3):  # 1 + 2 retries, all used
        if attempt > 1:
            led.add(ev.RetryDecided(key="last", attempt=attempt, reason="r"))
        led.ended("last", "failed", attempt=attempt)
    assert kinds(led.plan().commands) == [("NeverRuns", "dep", 1)]
    led.add(ev.StateChanged(key="dep", state="dependency_failed"))  # even when its policy names it
    assert led.plan().commands == ()


def test_backoff_holds_the_retry_until_its_time_and_says_when_to_wake() -> None:
    led = Ledger(spec("slow", **_policy(backoff=[10.0, 3.0, 60.0])))
    led.ended("slow", "failed")
    p = led.plan()
    assert p.commands == (Retry("slow", 2, "attempt 1 ended failed", NOW + 10.0, {}),)
    assert p.wake_at == NOW + 10.0
    # recorded: still held back, nothing decided twice
    led.add(ev.RetryDecided(key="slow", attempt=2, reason="attempt 1 ended failed", not_before=NOW + 10.0))
    p = led.plan(now=NOW + 5)
    assert p.commands == () and p.wake_at == NOW + 10.0
    assert led.plan(now=NOW + 10.5).commands == (Submit("slow", 2, "local", {}),)
    # attempt 2 fails too: the delay grows by the factor (10 * 3)
    led.ended("slow", "timeout", attempt=2)
    p = led.plan(now=NOW + 20)
    assert p.commands == (Retry("slow", 3, "attempt 2 ended timeout", NOW + 50.0, {}),)
    assert p.wake_at == NOW + 50.0


def test_backoff_is_capped_by_its_maximum() -> None:
    s = spec("s", **_policy(retries=9, backoff=[10.0, 3.0, 60.0]))
    assert [s.retry_delay(n) for n in (1, 2, 3, 4)] == [10.0, 30.0, 60.0, 60.0]
    assert spec("t", **_policy()).retry_delay(1) == 0.0


def test_wake_at_is_the_earliest_of_several_backoffs() -> None:
    led = Ledger(spec("a", **_policy(backoff=[30.0])), spec("b", **_policy(backoff=[5.0])))
    led.ended("a", "failed").ended("b", "failed")
    assert led.plan().wake_at == NOW + 5.0


def test_escalated_resources_per_attempt() -> None:
    first = {"memory": 1024, "time": 60}
    escalated = [{"memory": 2048, "time": 120}, {"memory": 4096, "time": 180}]
    led = Ledger(spec("grow", resources=first, escalated=escalated, **_policy(retries=3)))
    assert led.plan().commands == (Submit("grow", 1, "local", first),)
    led.ended("grow", "failed")
    assert led.plan().commands == (
        Retry("grow", 2, "attempt 1 ended failed", None, escalated[0]),
        Submit("grow", 2, "local", escalated[0]),
    )
    led.add(ev.RetryDecided(key="grow", attempt=2, resources=escalated[0])).ended(
        "grow", "timeout", attempt=2
    )
    assert [c.resources for c in led.plan().commands] == [escalated[1], escalated[1]]
    led.add(ev.RetryDecided(key="grow", attempt=3, resources=escalated[1])).ended("grow", "failed", attempt=3)
    # more attempts than escalation steps: the last step again
    assert [c.resources for c in led.plan().commands] == [escalated[1], escalated[1]]


def test_a_downstream_waits_for_a_retried_upstream_instead_of_failing() -> None:
    led = Ledger(spec("up", **_policy()), spec("down", "up"))
    led.ended("up", "failed")
    assert kinds(led.plan().commands) == [("Retry", "up", 2), ("Submit", "up", 2)]


def test_a_downstream_planned_alone_waits_for_an_upstream_with_a_retry_to_come() -> None:
    """The upstream belongs to another workflow (or is not looked at in this plan): its
    failed attempt is not its last word while its policy retries it."""
    led = Ledger(spec("up", **_policy()), name="producer")
    led.add(ev.WorkflowDefined(name="consumer", jobs=[spec("down", "up")], digest="consumer"))
    led.ended("up", "failed")
    assert led.plan("down").commands == ()
    # its policy spent: now it is decided
    for attempt in (2, 3):
        led.add(ev.RetryDecided(key="up", attempt=attempt)).ended("up", "failed", attempt=attempt)
    assert kinds(led.plan("down").commands) == [("NeverRuns", "down", 1)]


def test_a_refused_submission_counts_as_a_failure_for_the_policy() -> None:
    led = Ledger(spec("bad", **_policy()))
    led.add(
        ev.Intent(key="bad", attempt=1, host="local"),
        ev.SubmitFailed(key="bad", attempt=1, error="sbatch: invalid partition"),
    )
    assert kinds(led.plan().commands) == [("Retry", "bad", 2), ("Submit", "bad", 2)]


# ---------------------------------------------------------------------- cancellation
def test_cancel_of_a_pending_job_ends_it_and_its_dependents() -> None:
    led = Ledger(spec("a", **_policy(retry_on=["cancelled"])), spec("b", "a"), spec("c", ("a", "afterany")))
    led.add(ev.CancelRequested(key="a", reason="cancelled by alice"))
    p = led.plan()
    assert p.commands[0] == CancelPending("a", 1, "cancelled by alice")
    assert kinds(p.commands) == [("CancelPending", "a", 1), ("NeverRuns", "b", 1), ("Submit", "c", 1)]
    assert "a" in p.commands[1].reason.split("upstream ")[1]  # type: ignore[union-attr]


def test_cancel_of_an_active_job_is_carried_out_once() -> None:
    led = Ledger(spec("a"))
    led.running("a", host="cluster", sid="77")
    led.add(ev.CancelRequested(key="a"))
    assert led.plan().commands == (CancelActive("a", 1, "cluster"),)
    led.add(ev.Intent(key="a", attempt=1, action="cancel"))  # someone is doing it
    assert led.plan().commands == ()


@pytest.mark.parametrize("ended", ["cancelled", "failed", "timeout"])
def test_no_retry_after_a_standing_cancel_whatever_the_policy(ended: str) -> None:
    led = Ledger(spec("a", **_policy(retries=5, retry_on=["cancelled", "failed", "timeout"])), spec("b", "a"))
    led.running("a")
    led.add(ev.CancelRequested(key="a"))
    led.ended("a", ended)
    assert kinds(led.plan().commands) == [("NeverRuns", "b", 1)]


def test_a_manual_retry_lifts_a_cancel_and_a_later_cancel_stands_again() -> None:
    led = Ledger(spec("a", **_policy(retry_on=["cancelled"])))
    led.add(ev.CancelRequested(key="a"))
    led.add(ev.StateChanged(key="a", state="cancelled", reason="cancelled before it started"))
    assert led.plan().commands == ()
    led.add(ev.RetryDecided(key="a", attempt=2, reason="retried by hand", manual=True))
    assert led.plan().commands == (Submit("a", 2, "local", {}),)
    led.add(ev.CancelRequested(key="a", attempt=2, reason="cancelled again"))
    assert led.plan().commands == (CancelPending("a", 2, "cancelled again"),)


def test_an_automatic_retry_does_not_lift_a_cancel() -> None:
    led = Ledger(spec("a", **_policy(retry_on=["failed"])))
    led.ended("a", "failed")
    led.add(ev.CancelRequested(key="a"))
    led.add(ev.RetryDecided(key="a", attempt=2, reason="attempt 1 ended failed"))  # a driver raced
    assert kinds(led.plan().commands) == [("CancelPending", "a", 2)]


# ---------------------------------------------------------------------- reconcile
def test_an_intent_without_outcome_is_looked_up_before_anything_else() -> None:
    led = Ledger(spec("a", host="cluster"), spec("b", "a", host="cluster"))
    led.add(ev.Intent(key="a", attempt=1, host="cluster"))
    assert led.plan().commands == (Reconcile("a", 1, "cluster"),)
    led.add(ev.SubmitFailed(key="a", attempt=1, error="timed out", transient=True))
    assert led.plan().commands == (Reconcile("a", 1, "cluster"),)  # it may have got through
    led.add(ev.Submitted(key="a", attempt=1, host="cluster", scheduler_id="9", reconciled=True))
    assert led.plan().commands == ()


def test_reconcile_goes_to_the_host_of_the_intent() -> None:
    led = Ledger(spec("a", host="cluster"))
    led.add(ev.Intent(key="a", attempt=1, host="other"))
    assert led.plan().commands == (Reconcile("a", 1, "other"),)


# ---------------------------------------------------------------------- native dependencies
BATCH = HostView("cluster", native_kinds=frozenset({"afterok", "afterany", "afternotok"}))


def _native_case(**up: Any) -> Ledger:
    return Ledger(spec("up", host="cluster", **up), spec("down", "up", host="cluster"))


def test_native_dependency_on_an_upstream_the_scheduler_holds() -> None:
    led = _native_case()
    led.submitted("up", host="cluster", sid="101")
    hosts = {"cluster": BATCH}
    assert led.plan(hosts=hosts).commands == (Submit("down", 1, "cluster", {}, (("101", "afterok"),)),)
    live = {"cluster": HostView("cluster", BATCH.native_kinds, live_ids=frozenset({"101"}))}
    assert led.plan(hosts=live).commands == (Submit("down", 1, "cluster", {}, (("101", "afterok"),)),)


@pytest.mark.parametrize(
    "why",
    ["forgotten", "retryable", "other-host", "kind", "no-id", "local"],
)
def test_native_dependency_held_back(why: str) -> None:
    led = _native_case(**(_policy() if why == "retryable" else {}))
    host = "elsewhere" if why == "other-host" else "cluster"
    led.submitted("up", host=host, sid="" if why == "no-id" else "101")
    view = BATCH
    if why == "forgotten":  # SLURM takes a dependency on a job it forgot as satisfied
        view = HostView("cluster", BATCH.native_kinds, live_ids=frozenset({"99"}))
    if why == "kind":
        view = HostView("cluster", frozenset({"afterany"}))
    hosts = {} if why == "local" else {"cluster": view}
    assert led.plan("up", "down", hosts=hosts).commands == ()


def test_native_dependencies_only_on_the_undecided_upstreams() -> None:
    led = Ledger(
        spec("done", host="cluster"),
        spec("busy", host="cluster"),
        spec("down", "done", ("busy", "afterany"), host="cluster"),
    )
    led.ended("done", host="cluster", sid="1")
    led.running("busy", host="cluster", sid="2")
    assert led.plan(hosts={"cluster": BATCH}).commands == (
        Submit("down", 1, "cluster", {}, (("2", "afterany"),)),
    )


def test_an_upstream_submitted_in_the_same_plan_is_waited_for() -> None:
    led = _native_case()
    assert kinds(led.plan(hosts={"cluster": BATCH}).commands) == [("Submit", "up", 1)]


# ---------------------------------------------------------------------- throttling
def test_max_in_flight_counts_active_and_newly_submitted_jobs() -> None:
    led = Ledger(*(spec(f"j{i}", host="cluster") for i in range(5)), spec("l", host="local"))
    hosts = {"cluster": HostView("cluster", max_in_flight=3, active=1)}
    p = led.plan(hosts=hosts)
    assert kinds(p.commands) == [("Submit", "j0", 1), ("Submit", "j1", 1), ("Submit", "l", 1)]
    full = {"cluster": HostView("cluster", max_in_flight=3, active=3)}
    assert kinds(led.plan(hosts=full).commands) == [("Submit", "l", 1)]


def test_a_throttled_host_gets_nothing_until_its_time() -> None:
    led = Ledger(spec("a", host="cluster"), spec("b"))
    hosts = {"cluster": HostView("cluster", throttled_until=NOW + 30)}
    assert kinds(led.plan(hosts=hosts).commands) == [("Submit", "b", 1)]
    assert kinds(led.plan(hosts=hosts, now=NOW + 31).commands) == [("Submit", "a", 1), ("Submit", "b", 1)]


def test_throttling_still_decides_what_can_never_run() -> None:
    led = Ledger(spec("a"), spec("b", "a", host="cluster"))
    led.ended("a", "failed")
    hosts = {"cluster": HostView("cluster", throttled_until=NOW + 30, max_in_flight=0)}
    assert kinds(led.plan(hosts=hosts).commands) == [("NeverRuns", "b", 1)]


# ---------------------------------------------------------------------- arrays
def _array(led: Ledger, key: str, states: Mapping[int, str], attempt: int = 1) -> None:
    for index, state in states.items():
        led.add(ev.StateChanged(key=key, state=state, attempt=attempt, index=index))


def test_an_array_is_active_until_every_element_ended() -> None:
    led = Ledger(spec("arr", array=[0, 1, 2]), spec("merge", "arr"))
    led.submitted("arr")
    _array(led, "arr", {0: "completed", 1: "running"})
    assert led.plan().commands == ()
    _array(led, "arr", {1: "completed"})
    assert led.plan().commands == ()  # element 2 has not ended
    _array(led, "arr", {2: "completed"})
    assert led.plan().commands == (Submit("merge", 1, "local", {}),)


def test_one_failed_element_fails_the_array_and_its_afterok_dependents() -> None:
    led = Ledger(spec("arr", array=[0, 1, 2]), spec("merge", "arr"), spec("report", ("arr", "afterany")))
    led.submitted("arr")
    _array(led, "arr", {0: "completed", 1: "out_of_memory", 2: "completed"})
    assert kinds(led.plan().commands) == [("NeverRuns", "merge", 1), ("Submit", "report", 1)]
    job = led.model.jobs["arr"]
    from jobledger.ledger.state import job_phase

    assert job_phase(job)[2].value == "out_of_memory"


def test_an_array_is_retried_as_a_whole_with_escalated_resources() -> None:
    led = Ledger(
        spec("arr", array=[0, 1], resources={"memory": 100}, escalated=[{"memory": 200}], **_policy()),
        spec("merge", "arr"),
    )
    led.submitted("arr")
    _array(led, "arr", {0: "completed", 1: "failed"})
    assert led.plan().commands == (
        Retry("arr", 2, "attempt 1 ended failed", None, {"memory": 200}),
        Submit("arr", 2, "local", {"memory": 200}),
    )


def test_an_array_cancelled_as_a_whole_is_final_whatever_its_elements_said() -> None:
    led = Ledger(spec("arr", array=[0, 1, 2]), spec("merge", "arr"))
    led.submitted("arr")
    _array(led, "arr", {0: "completed", 1: "running"})
    led.add(ev.StateChanged(key="arr", state="cancelled"))
    assert kinds(led.plan().commands) == [("NeverRuns", "merge", 1)]
