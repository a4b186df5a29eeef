"""Decisions for the model consumers: ingest pipelines, search pipelines and agents.

A pipeline is stored verbatim and replaced whole by one `PUT` (CONS §1.2, §2.2): every
difference, a removed key included, is an update with no window where the pipeline is
missing. An agent is updated in place from 3.1 (CONS §4.6), where the update merges (a key
removed inside an object stays) and its `type` cannot change; before 3.1, and for those
changes, an agent is registered again and the old one deleted (a new agent ID, CONS §6).

References (`{ref: Model/NAME}`) are reference markers in both bodies, so they compare by
the resource they name; what they resolve to is shown by `impacts`. Called by `deciding`;
pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.mlcommons.consumers import AGENT_UPDATE_SINCE
from reconciler.mlcommons.versions import Version
from reconciler.planning.diffing import Diff
from reconciler.planning.normalizing import Body
from reconciler.planning.pairing import Pair
from reconciler.planning.situations import Situation
from reconciler.plans import Action, Change, references_in
from reconciler.resources import Kind, ResourceKey


def decide_consumer(
    pair: Pair, before: Body, after: Body, found: Diff, *, situation: Situation
) -> Change:
    """The change for one paired pipeline or agent, from the diff `deciding` made (with
    every live field in scope for a pipeline); `deciding` guards its replace."""
    assert pair.live is not None
    kind = pair.key.kind
    replace = _agent_replace_reasons(before, after, found, situation) if kind is Kind.AGENT else []
    if replace:
        action = Action.REPLACE
    elif pair.adopted:
        action = Action.ADOPT
    else:
        action = Action.UPDATE if found.changed else Action.NOOP
    reasons = [*pair.reasons]
    if action is Action.REPLACE:
        reasons += [f"{reason}: replace (a new agent ID)" for reason in replace]
    elif found.changed:
        reasons.append(f"{len(found.fields)} field(s) differ")
    return Change(
        pair.key,
        action,
        live_id=pair.live.id,
        before=before,
        after=after,
        fields=found.fields,
        reasons=tuple(reasons),
        depends_on=references(after),
    )


def agent_updatable(version: Version) -> bool:
    """Whether Update Agent exists (CONS §4.6)."""
    return version >= Version.parse(AGENT_UPDATE_SINCE)


def _agent_replace_reasons(
    before: Body, after: Body, found: Diff, situation: Situation
) -> list[str]:
    if not found.changed:
        return []
    reasons = []
    if not agent_updatable(situation.version):
        reasons.append(f"{situation.version.short} has no Update Agent (3.1+)")
    if str(before.get("type", "")).lower() != str(after.get("type", "")).lower():
        reasons.append(f"type changed ({before.get('type')} -> {after.get('type')})")
    # The update is a partial document update (CONS §4.6): what it drops stays.
    reasons += [
        f"{f.path} removed: agent updates merge"
        for f in found.fields
        if f.after is None and f.before is not None
    ]
    return reasons


def references(body: Mapping[str, Any]) -> tuple[ResourceKey, ...]:
    """Every managed resource a consumer body names through a reference marker."""
    return tuple(dict.fromkeys(target for _, target in references_in(body)))
