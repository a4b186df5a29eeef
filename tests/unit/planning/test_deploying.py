"""Deploy state as desired state (§6.6, §6.9)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.planning.deploying import deploy_need
from reconciler.plans import Action

NOW = "2026-01-01T12:00:00Z"
ELEVEN_MINUTES_AGO = 1767268740000 - 60_000 * 10  # 11:49
FIVE_MINUTES_AGO = 1767268500000  # 11:55


@pytest.mark.parametrize(
    ("source", "wanted", "action"),
    [
        ({"model_state": "REGISTERED"}, True, Action.DEPLOY),
        ({"model_state": "UNDEPLOYED"}, True, Action.DEPLOY),
        ({}, True, Action.DEPLOY),
        ({"model_state": "DEPLOYED"}, True, None),
        ({"model_state": "DEPLOY_FAILED"}, True, Action.REDEPLOY),
        ({"model_state": "PARTIALLY_DEPLOYED"}, True, Action.REDEPLOY),
        ({"model_state": "DEPLOYING", "last_updated_time": FIVE_MINUTES_AGO}, True, None),
        (
            {"model_state": "DEPLOYING", "last_updated_time": ELEVEN_MINUTES_AGO},
            True,
            Action.REDEPLOY,
        ),
        ({"model_state": "DEPLOYING"}, True, None),  # no time: never guess it is stuck
        ({"model_state": "DEPLOYED"}, False, Action.UNDEPLOY),
        ({"model_state": "PARTIALLY_DEPLOYED"}, False, Action.UNDEPLOY),
        ({"model_state": "DEPLOYING"}, False, Action.UNDEPLOY),
        ({"model_state": "DEPLOY_FAILED"}, False, None),
        ({"model_state": "UNDEPLOYED"}, False, None),
    ],
)
def test_deploy_need(source: dict[str, Any], wanted: bool, action: Action | None) -> None:
    assert deploy_need(source, wanted=wanted, now=NOW).action is action


def test_without_a_clock_a_deploy_is_never_stuck() -> None:
    source = {"model_state": "DEPLOYING", "last_updated_time": 0}
    assert deploy_need(source, wanted=True, now="").action is None
