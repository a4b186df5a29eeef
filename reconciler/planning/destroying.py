"""The plan of `osml destroy`: delete everything osml manages, minus what must stay.

`osml destroy` plans with no manifests and pruning on, so every managed resource is an
orphan planned for deletion (a recorded `prevent_destroy` already keeps it, `deciding`).
`protect` then keeps, as reported orphans, the resources whose manifest says
`lifecycle.prevent_destroy: true` now, and the connectors and model groups that a kept
model still uses (the server refuses to delete them while it exists, §2.10, §5.7).
Resources osml never managed are never in the plan. Pure: the snapshot was read before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from reconciler.cluster.snapshots import Snapshot
from reconciler.plans import Change, Plan
from reconciler.resources import Kind, ResourceKey


def protect(plan: Plan, snapshot: Snapshot, *, protected: Collection[ResourceKey]) -> Plan:
    """`plan` without the deletes of protected resources and of what kept models use."""
    kept: dict[ResourceKey, str] = {
        c.key: "kept: lifecycle.prevent_destroy is set in the manifests"
        for c in plan.changes
        if c.key in protected and c.is_change
    }
    models = [c for c in (*plan.changes, *plan.orphans) if c.key.kind is Kind.MODEL]
    used = _used_by([m for m in models if m.key in kept or m in plan.orphans], snapshot=snapshot)
    for change in plan.changes:
        user = used.get(change.live_id or "")
        if change.key not in kept and user is not None and change.is_change:
            kept[change.key] = f"kept: {user}, which is kept, uses it"
    remaining = tuple(_without(c, kept) for c in plan.changes if c.key not in kept)
    orphans = tuple(
        dataclasses.replace(c, reasons=(*c.reasons, kept[c.key]))
        for c in plan.changes
        if c.key in kept
    )
    return dataclasses.replace(plan, changes=remaining, orphans=(*plan.orphans, *orphans))


def _used_by(models: list[Change], *, snapshot: Snapshot) -> dict[str, ResourceKey]:
    """Live connector and group ID -> a kept model that uses it."""
    sources = {m.id: m.source for m in snapshot.models}
    used: dict[str, ResourceKey] = {}
    for model in models:
        source = sources.get(model.live_id or "", {})
        for field in ("connector_id", "model_group_id"):
            value = source.get(field)
            if isinstance(value, str):
                used.setdefault(value, model.key)
    return used


def _without(change: Change, kept: Collection[ResourceKey]) -> Change:
    """`change` waiting for no kept resource, its reason said in destroy's words."""
    depends_on = tuple(k for k in change.depends_on if k not in kept)
    reasons = tuple(DESTROYED if r == ORPHANED else r for r in change.reasons)
    return dataclasses.replace(change, depends_on=depends_on, reasons=reasons)


ORPHANED = "no manifest declares it any more"
"""The planner's reason for an orphan, which destroy makes of every resource."""
DESTROYED = "destroy: osml manages it"
