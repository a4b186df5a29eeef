"""What a model's last recorded probe asks for: probe again, redeploy, or nothing.

A probe (`lifecycle.probe`, a predict run after deploy, §8.1) that failed or never ended
is recorded in the model's state record (`ProbeResult`). A deployed model whose last
probe did not pass is not converged: the plan probes it again (`probe`), or, after
`lifecycle.probe.redeploy_after` failures in a row, redeploys it (the redeploy probes
too). A model that is not DEPLOYED gets its deploy from `planning.deploying` instead,
and a manifest without a probe asks for nothing, whatever was recorded.

An agent's probe (`lifecycle.probe`, an execute, CONS §4.8) runs after every change apply
sends it; `reprobe_agent` adds one to an agent whose last probe failed or never ended: a
`probe` when nothing else changes, `probe_after` on an update. A rewired agent has an
update of its own, so it is probed after it too.

Called by `deciding` for models whose deploy state is as desired, and by `making` for
agents once every change is decided and consumers are rewired; pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.snapshots import ProbeResult, StateRecord
from reconciler.manifests.models import Probe
from reconciler.planning.deploying import DeployNeed
from reconciler.planning.normalizing import model_state
from reconciler.plans import Action, Change
from reconciler.resources import Kind


def probe_need(
    record: StateRecord | None, probe: Probe | None, *, source: Mapping[str, Any]
) -> DeployNeed:
    """PROBE or REDEPLOY for a deployed model whose last probe did not pass."""
    if probe is None or record is None or record.status != "managed" or record.probe is None:
        return DeployNeed(None)
    if model_state(source) != "DEPLOYED":
        return DeployNeed(None)
    last = record.probe
    if last.outcome not in ("pending", "failed"):
        return DeployNeed(None)
    limit = probe.redeploy_after
    if last.outcome == "failed" and limit is not None and last.failures >= limit:
        return DeployNeed(
            Action.REDEPLOY,
            f"probe failed {last.failures} times in a row "
            f"(lifecycle.probe.redeploy_after: {limit}): redeploy",
        )
    return DeployNeed(Action.PROBE, _not_passed(last))


def _not_passed(last: ProbeResult) -> str:
    """Why a probe is owed again: the last one never finished, or failed."""
    if last.outcome == "pending":
        return f"its last probe never finished (since {last.at})"
    times = "once" if last.failures == 1 else f"{last.failures} times in a row"
    return f"its last probe failed ({times}, at {last.at}): {last.error}"


def reprobe_agent(change: Change, record: StateRecord | None) -> Change:
    """`change` of an agent with a probe whose last probe did not pass, probed again: a
    PROBE instead of a NOOP, or `probe_after` on an update or adoption."""
    if change.key.kind is not Kind.AGENT or change.probe is None:
        return change
    if record is None or record.status != "managed" or record.probe is None:
        return change
    if record.probe.outcome == "passed":
        return change
    reason = _not_passed(record.probe)
    if change.action is Action.NOOP:
        return dataclasses.replace(change, action=Action.PROBE, reasons=(*change.reasons, reason))
    if change.action in (Action.UPDATE, Action.ADOPT):
        reason += " (probed again after the update)"
        return dataclasses.replace(change, probe_after=True, reasons=(*change.reasons, reason))
    return change  # a create or replace probes anyway; a delete has nothing to probe
