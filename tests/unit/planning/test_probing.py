"""`probe_need`: what a recorded probe outcome asks of a model, as a table."""

from __future__ import annotations

import pytest

from reconciler.cluster.snapshots import ProbeResult, StateRecord
from reconciler.manifests.models import Probe
from reconciler.planning.probing import probe_need
from reconciler.plans import Action
from reconciler.resources import Kind, ResourceKey

AT = "2026-11-22T08:30:00+00:00"


def _record(outcome: str | None, failures: int = 0, *, status: str = "managed") -> StateRecord:
    probe = None if outcome is None else ProbeResult(outcome, AT, failures, "boom")  # type: ignore[arg-type]
    return StateRecord(
        key=ResourceKey(Kind.MODEL, "m"), status=status, id="m-1", spec_hash="", applied={},  # type: ignore[arg-type]
        probe=probe,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("record", "probe", "state", "action", "reason"),
    [
        (_record("failed", 1), Probe(), "DEPLOYED", Action.PROBE, f"its last probe failed (once, at {AT}): boom"),
        (_record("failed", 3), Probe(), "DEPLOYED", Action.PROBE, f"its last probe failed (3 times in a row, at {AT}): boom"),
        (_record("pending"), Probe(), "DEPLOYED", Action.PROBE, f"its last probe never finished (since {AT})"),
        (_record("failed", 2), Probe(redeploy_after=2), "DEPLOYED", Action.REDEPLOY, "probe failed 2 times in a row (lifecycle.probe.redeploy_after: 2): redeploy"),
        (_record("failed", 1), Probe(redeploy_after=2), "DEPLOYED", Action.PROBE, None),
        (_record("passed"), Probe(), "DEPLOYED", None, None),
        (_record(None), Probe(), "DEPLOYED", None, None),
        (None, Probe(), "DEPLOYED", None, None),
        (_record("failed", 1), None, "DEPLOYED", None, None),
        (_record("failed", 1), Probe(), "UNDEPLOYED", None, None),
        (_record("failed", 1, status="intent"), Probe(), "DEPLOYED", None, None),
    ],
    ids=[
        "failed-once", "failed-thrice", "pending", "redeploy-at-limit", "below-limit",
        "passed", "never-probed", "no-record", "probe-removed", "not-deployed", "intent",
    ],
)  # fmt: skip
def test_probe_need(record, probe, state, action, reason) -> None:
    need = probe_need(record, probe, source={"model_state": state})
    assert need.action is action
    if reason is not None:
        assert need.reason == reason


@pytest.mark.parametrize(
    "data",
    [None, {}, {"outcome": "maybe"}, "failed", {"outcome": "failed", "failures": -1}],
)
def test_stored_probe_objects_that_are_not_ours_are_read_safely(data) -> None:
    result = ProbeResult.from_dict(data)
    assert result is None or (result.outcome, result.failures) == ("failed", 0)
