"""Backoff sequences, per-resource holds, and removing held-back changes from a plan."""

from __future__ import annotations

import pytest

from reconciler.plans import Action, Change, ClusterIdentity, Plan
from reconciler.resources import Kind, ResourceKey
from reconciler.watching.backoffs import CycleBackoff, Delays, ResourceBackoff, hold_back

MODEL = ResourceKey(Kind.MODEL, "chat")
OTHER = ResourceKey(Kind.MODEL, "embed")
CONNECTOR = ResourceKey(Kind.CONNECTOR, "openai")
GROUP = ResourceKey(Kind.MODEL_GROUP, "team")


@pytest.mark.parametrize(
    ("delays", "failures", "expected"),
    [
        (Delays(1, 60), 1, 1),
        (Delays(1, 60), 2, 2),
        (Delays(1, 60), 5, 16),
        (Delays(1, 60), 7, 60),
        (Delays(1, 60), 10_000, 60),
        (Delays(0.5, 10, factor=3), 3, 4.5),
        (Delays(2, 60), 0, 2),
    ],
)
def test_delays_grow_and_stop_at_the_maximum(
    delays: Delays, failures: int, expected: float
) -> None:
    assert delays.after(failures) == expected


def test_cycle_backoff_resets_after_a_good_cycle() -> None:
    backoff = CycleBackoff(Delays(1, 100))
    assert [backoff.failed() for _ in range(3)] == [1, 2, 4]
    backoff.reset()
    assert backoff.failed() == 1


def test_a_failing_resource_is_held_back_longer_each_time() -> None:
    backoff = ResourceBackoff(Delays(10, 1000))
    first = backoff.failed(MODEL, now=0)
    assert (first.failures, first.until) == (1, 10)
    assert backoff.held(now=5) == {MODEL: first}
    assert backoff.held(now=10) == {}
    second = backoff.failed(MODEL, now=12)
    assert (second.failures, second.until) == (2, 32)
    assert backoff.status(now=22) == {MODEL: (2, 10.0)}


def test_success_and_leaving_the_plan_forget_failures() -> None:
    backoff = ResourceBackoff(Delays(10, 1000))
    backoff.failed(MODEL, now=0)
    backoff.failed(OTHER, now=0)
    backoff.succeeded(MODEL)
    assert set(backoff.held(now=1)) == {OTHER}
    backoff.forget_except({MODEL})
    assert backoff.held(now=1) == {}
    assert backoff.failed(OTHER, now=2).failures == 1


def plan_of(*changes: Change) -> Plan:
    return Plan(
        changes=changes, cluster=ClusterIdentity(url="http://x", version="3.1.0"), token="t"
    )


PLAN = plan_of(
    Change(GROUP, Action.NOOP),
    Change(CONNECTOR, Action.UPDATE),
    Change(MODEL, Action.REDEPLOY, depends_on=(CONNECTOR, GROUP)),
    Change(OTHER, Action.DEPLOY, depends_on=(GROUP,)),
    Change(ResourceKey(Kind.MODEL, "after-chat"), Action.UPDATE, depends_on=(MODEL,)),
)


@pytest.mark.parametrize(
    ("held", "kept", "dropped"),
    [
        (
            (),
            [
                "ModelGroup/team",
                "Connector/openai",
                "Model/chat",
                "Model/embed",
                "Model/after-chat",
            ],
            [],
        ),
        (
            (MODEL,),
            ["ModelGroup/team", "Connector/openai", "Model/embed"],
            ["Model/chat", "Model/after-chat"],
        ),
        (
            (CONNECTOR,),
            ["ModelGroup/team", "Model/embed"],
            ["Connector/openai", "Model/chat", "Model/after-chat"],
        ),
        (
            (OTHER,),
            ["ModelGroup/team", "Connector/openai", "Model/chat", "Model/after-chat"],
            ["Model/embed"],
        ),
        # A no-op is never held back: nothing would run anyway.
        (
            (GROUP,),
            [
                "ModelGroup/team",
                "Connector/openai",
                "Model/chat",
                "Model/embed",
                "Model/after-chat",
            ],
            [],
        ),
    ],
)
def test_hold_back_removes_the_change_and_everything_that_depends_on_it(
    held: tuple[ResourceKey, ...], kept: list[str], dropped: list[str]
) -> None:
    filtered, removed = hold_back(PLAN, held)
    assert [str(c.key) for c in filtered.changes] == kept
    assert [str(c.key) for c in removed] == dropped
    assert filtered.token == PLAN.token  # still checked against the same snapshot
