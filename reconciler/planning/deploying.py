"""What a model's deploy state asks for: deploy, redeploy, undeploy, or nothing (§6.6, §6.9).

`lifecycle.deployed` is desired state. A model that should be deployed and sits in
REGISTERED or UNDEPLOYED is deployed; one in DEPLOY_FAILED or PARTIALLY_DEPLOYED, or stuck in
DEPLOYING longer than the server's task timeout, is redeployed; a model that should not be
deployed and is running is undeployed.

Called by `deciding`; pure (the current time comes in as a string).
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from reconciler.planning.normalizing import model_state
from reconciler.plans import Action

STUCK_AFTER = datetime.timedelta(seconds=600)
"""`ml_task_timeout_in_seconds` default (§9): a deploy still running after it is stuck."""

_DEPLOYABLE = frozenset({"REGISTERED", "UNDEPLOYED"})
_BROKEN = frozenset({"DEPLOY_FAILED", "PARTIALLY_DEPLOYED"})
_RUNNING = frozenset({"DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING"})


@dataclasses.dataclass(frozen=True, slots=True)
class DeployNeed:
    """The deploy action a model needs, and why."""

    action: Action | None
    """DEPLOY, REDEPLOY, UNDEPLOY, or None when the state is as desired."""
    reason: str = ""


def deploy_need(source: Mapping[str, Any], *, wanted: bool, now: str = "") -> DeployNeed:
    """Compare the live `model_state` with `lifecycle.deployed`."""
    state = model_state(source)
    if not wanted:
        if state in _RUNNING:
            return DeployNeed(Action.UNDEPLOY, f"model is {state} but deployed: false")
        return DeployNeed(None)
    if state in _DEPLOYABLE:
        return DeployNeed(Action.DEPLOY, f"model is {state} but deployed: true")
    if state in _BROKEN:
        return DeployNeed(Action.REDEPLOY, f"model is {state}: redeploy")
    if state == "DEPLOYING":
        return _deploying(source, now=now)
    return DeployNeed(None)


def _deploying(source: Mapping[str, Any], *, now: str) -> DeployNeed:
    """A deploy in progress is left alone unless it outlived the task timeout."""
    started = _millis(source.get("last_updated_time"))
    current = _parse_time(now)
    if started is None or current is None:
        return DeployNeed(None)
    waited = current - started
    if waited <= STUCK_AFTER:
        return DeployNeed(None)
    minutes = int(waited.total_seconds() // 60)
    return DeployNeed(Action.REDEPLOY, f"model is stuck in DEPLOYING for {minutes} min: redeploy")


def _millis(value: Any) -> datetime.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)


def _parse_time(text: str) -> datetime.datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def is_running(source: Mapping[str, Any]) -> bool:
    """Whether the model is deployed, partly deployed or deploying."""
    return model_state(source) in _RUNNING
