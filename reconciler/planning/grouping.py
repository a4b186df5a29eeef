"""Model groups that a plan empties on 2.9-2.10, where the server deletes them (§5.7).

Before 2.11, deleting the last model of a group also deletes the group. A plan that
removes every model of a group osml keeps (a model replaced into another group, the
last model pruned) would leave the
next run to create the group again, and the models registered again into it fail with
`Model Group Response is empty` (§6.3). So such a group is planned as a `replace` that
waits for the changes removing its models: apply deletes what is left of it (nothing,
usually) and creates it again, and the models that register into it wait for it through
their references. A group the plan does not keep (unmanaged, or kept by a recorded
`prevent_destroy`) gets a warning instead. A model replaced within its own group (also
one registered again because its connector is replaced, `Strategy.REREGISTER`) is
registered again before the old one goes, so it never empties the group.

Called by `planning.making` once every change is decided; pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from reconciler.planning.situations import Findings, Situation
from reconciler.plans import Action, Change, ref_target
from reconciler.resources import Kind, ResourceKey


def recreate_emptied_groups(
    changes: list[Change], *, situation: Situation, findings: Findings
) -> list[Change]:
    """`changes` with every kept group that this plan empties turned into a replace."""
    if not situation.caps.groups_auto_deleted:
        return changes
    leaving = _leaving(changes, situation=situation)
    groups = [c for c in changes if c.key.kind is Kind.MODEL_GROUP]
    kept = {c.live_id: c for c in groups if _keeps(c)}
    pruned = {c.live_id for c in groups if c.action is Action.DELETE}
    emptied: dict[ResourceKey, tuple[ResourceKey, ...]] = {}
    for group_id, members in situation.models_by_group.items():
        if group_id in pruned or not all(m.id in leaving for m in members):
            continue
        removers = tuple(sorted({leaving[m.id] for m in members}))
        group = kept.get(group_id)
        if group is None:
            _warn(group_id, removers, situation=situation, findings=findings)
        else:
            emptied[group.key] = removers
    return [_recreated(c, emptied[c.key], situation) if c.key in emptied else c for c in changes]


def _keeps(change: Change) -> bool:
    """A group change that leaves the live group in place (not created, not deleted)."""
    return change.live_id is not None and change.action not in (Action.DELETE, Action.CREATE)


def _leaving(changes: Iterable[Change], *, situation: Situation) -> dict[str, ResourceKey]:
    """Live model ID -> the change that deletes that model during this apply."""
    models = {m.id: m for m in situation.snapshot.models}
    leaving: dict[str, ResourceKey] = {}
    for change in changes:
        if change.key.kind is Kind.MODEL and change.live_id in models:
            live = models[change.live_id]
            if change.action is Action.DELETE or (
                change.action is Action.REPLACE and _moves(change, live.source, situation)
            ):
                leaving.setdefault(live.id, change.key)
    return leaving


def _moves(change: Change, source: Mapping[str, object], situation: Situation) -> bool:
    """Whether a replaced model registers again into another group than its live one."""
    after = (change.after or {}).get("model_group_id")
    live = source.get("model_group_id")
    target = ref_target(after)
    if target is not None:
        return not isinstance(live, str) or situation.ids.keys.get(live) != target
    return after != live


def _recreated(change: Change, removers: tuple[ResourceKey, ...], situation: Situation) -> Change:
    reason = (
        f"{situation.version.short} deletes a model group with its last model and "
        f"this plan removes all of its models ({', '.join(map(str, removers))}): created "
        "again once they are gone: replace"
    )
    return dataclasses.replace(
        change,
        action=Action.REPLACE,
        reasons=(*change.reasons, reason),
        depends_on=tuple(sorted({*change.depends_on, *removers})),
    )


def _warn(
    group_id: str,
    removers: tuple[ResourceKey, ...],
    *,
    situation: Situation,
    findings: Findings,
) -> None:
    """A group this plan does not keep is deleted by the server with its last model."""
    who = situation.ids.keys.get(group_id)
    findings.warnings.append(
        f"model group {who or group_id}: this plan removes all of its models "
        f"({', '.join(map(str, removers))}), and {situation.version.short} deletes the "
        "group with the last one"
    )
