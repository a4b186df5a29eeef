"""One decision per resource: create, update, replace, adopt, (re/un)deploy, delete or noop.

For each pair of desired and live document this module diffs the normalised bodies and
picks the action the server allows on the target version, with a human reason for each
choice: no update API (connectors before 2.12, or 2.11 without its flag; models before
2.12), a map key removed (§1.5), a field cleared, the protocol changed, a model switching
between an internal and a standalone connector. Connector changes with referencing models
get their strategy from `swapping`. Orphans become DELETE only with pruning on and never
under a recorded `prevent_destroy`.

Called by `planning.making`; pure: no I/O, no ordering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.snapshots import LiveObject, StateRecord
from reconciler.manifests.models import ConnectorManifest, ModelGroupManifest, ModelManifest
from reconciler.planning.consuming import decide_consumer
from reconciler.planning.consuming import references as consumer_references
from reconciler.planning.deploying import DeployNeed, deploy_need, is_running
from reconciler.planning.diffing import Diff, diff
from reconciler.planning.normalizing import Body, desired_body, live_body, model_state
from reconciler.planning.pairing import Orphan, Pair
from reconciler.planning.probing import probe_need
from reconciler.planning.reviewing import ROTATE_NOTE
from reconciler.planning.situations import Findings, Situation
from reconciler.planning.swapping import NO_SWAP, Swap, plan_swap
from reconciler.plans import Action, Change, FieldChange, ref_target
from reconciler.resources import Kind, ResourceKey

MODEL_UPDATABLE = frozenset(
    {
        "name",
        "description",
        "model_group_id",
        "is_enabled",
        "rate_limiter",
        "model_config",
        "deploy_setting",
        "connector_id",
        "connector",
        "guardrails",
        "interface",
    }
)
"""The body fields Update Model accepts (§6.8); any other change needs a replace."""


def decide_document(
    pair: Pair,
    *,
    situation: Situation,
    findings: Findings,
    reregister: Mapping[ResourceKey, ResourceKey],
) -> tuple[Change, Swap]:
    """The change for one connector, model group, model, pipeline or agent, and a
    connector's swap."""
    after = desired_body(
        pair.manifest,
        version=situation.version,
        fingerprints=situation.fingerprints,
        ids=situation.ids,
    )
    if pair.live is None:
        return _create(pair, after), NO_SWAP
    before = live_body(pair.live.source, kind=pair.key.kind, ids=situation.ids)
    record = pair.record
    applied = record.applied if record and record.status == "managed" else None
    found = diff(
        before,
        after,
        kind=pair.key.kind,
        # A pipeline PUT replaces the whole body: every live field is in scope.
        applied=before if pair.key.kind.is_pipeline else applied,
        fingerprints=record.fingerprints if record else None,
    )
    case = _Case(pair, before, after, found)
    change, swap = _decide_case(case, situation=situation, findings=findings, reregister=reregister)
    rotations = _rotations(pair.key, found, situation=situation)
    if rotations and change.is_change:
        # The review notes say it too (`reviewing` keeps them, and then leaves out the
        # per-key `credential changed` lines these cover).
        reasons, notes = (*change.reasons, *rotations), (*rotations, *change.review)
        change = dataclasses.replace(change, reasons=reasons, review=notes)
    return change, swap


def _decide_case(
    case: _Case,
    *,
    situation: Situation,
    findings: Findings,
    reregister: Mapping[ResourceKey, ResourceKey],
) -> tuple[Change, Swap]:
    pair, manifest = case.pair, case.pair.manifest
    if isinstance(manifest, ConnectorManifest):
        change, swap = _connector(case, manifest, situation=situation, findings=findings)
        return _with_lifecycle(change, pair), swap
    if isinstance(manifest, ModelGroupManifest):
        change = _model_group(case, situation=situation, findings=findings)
        return _with_lifecycle(change, pair), NO_SWAP
    if pair.key.kind.is_consumer:
        change = decide_consumer(case.pair, case.before, case.after, case.found,
                                 situation=situation)  # fmt: skip
        _guard(pair, change.action, list(change.reasons), findings)
        return _with_lifecycle(change, pair), NO_SWAP
    assert isinstance(manifest, ModelManifest)
    culprit = reregister.get(pair.key)
    if pair.adopted and not situation.caps.update_model:
        # An inline connector's credential could only be re-sent by a replace (no Update
        # Model before 2.12, §6.8): assumed current, as for a standalone connector.
        assumed = _assume_unknown_credentials(case.found, pair, findings)
        case = dataclasses.replace(case, found=assumed)
    change = _model(case, manifest, situation=situation, culprit=culprit)
    _guard(pair, change.action, list(change.reasons), findings)
    return change, NO_SWAP


def _rotations(key: ResourceKey, found: Diff, *, situation: Situation) -> tuple[str, ...]:
    """`credentials rotate: credential.access_key, ... (fromAwsRole ...: expired 3m ago)`
    for each connector whose minted keys are due (`Fingerprints.rotation`)."""
    due: dict[tuple[str, str], list[str]] = {}
    for field in found.fields:
        if not field.sensitive:
            continue
        why = situation.fingerprints.rotation(key, field.path)
        secret = situation.fingerprints.secrets.get((key, field.path))
        if why is not None and secret is not None:
            due.setdefault((secret.source, why), []).append(field.path)
    return tuple(
        f"{ROTATE_NOTE}{', '.join(paths)} ({source}: {why})" for (source, why), paths in due.items()
    )


def _create(pair: Pair, after: Body) -> Change:
    manifest = pair.manifest
    deploy = isinstance(manifest, ModelManifest) and manifest.lifecycle.deployed
    return Change(
        pair.key,
        Action.CREATE,
        after=after,
        reasons=pair.reasons or ("not on the cluster",),
        depends_on=references(after, pair.key.kind),
        deploy_after=deploy,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Case:
    """One paired resource with both sides normalised and compared."""

    pair: Pair
    before: Body
    after: Body
    found: Diff


def _connector(
    case: _Case, manifest: ConnectorManifest, *, situation: Situation, findings: Findings
) -> tuple[Change, Swap]:
    pair, before, after, found = case.pair, case.before, case.after, case.found
    assert pair.live is not None
    replace = _map_reasons(found) + _finish_replacement(pair)
    if before.get("protocol") != after.get("protocol"):
        replace.append(f"protocol changed ({before.get('protocol')} -> {after.get('protocol')})")
    users = situation.models_by_connector.get(pair.live.id, ())
    if pair.adopted and (situation.running(users) or not situation.can_update_connector):
        found = _assume_unknown_credentials(found, pair, findings)
    if found.changed and not situation.can_update_connector:
        replace.append(
            f"{situation.version.short} has no Update Connector (2.12+, or 2.11 with "
            "plugins.ml_commons.update_connector.enabled)"
        )
    action = _action(pair, found, replace)
    _guard(pair, action, replace, findings)
    swap = NO_SWAP
    if action is Action.REPLACE or found.changed:
        swap = plan_swap(action, manifest, pair.live, situation=situation, findings=findings)
    reasons = (*pair.reasons, *_reasons(action, found, replace), *swap.reasons)
    change = Change(
        pair.key,
        action,
        live_id=pair.live.id,
        before=before,
        after=after,
        fields=found.fields,
        reasons=reasons,
        depends_on=references(after),
        strategy=swap.strategy,
        affected=swap.affected,
        downtime=swap.downtime,
    )
    return change, swap


def _model_group(case: _Case, *, situation: Situation, findings: Findings) -> Change:
    pair, before, after, found = case.pair, case.before, case.after, case.found
    assert pair.live is not None
    if found.cleared:
        # Update ignores blank fields (§5.6): a cleared field stays as it is on the server.
        findings.warnings.append(
            f"{pair.key}: {', '.join(found.cleared)} cannot be cleared on a model group "
            "(updates ignore blank fields); left as is"
        )
        kept = tuple(f for f in found.fields if f.path.split(".")[0] not in found.cleared)
        found = Diff(kept)
    name = after.get("name")
    taken = situation.group_names.get(name) if isinstance(name, str) else None
    if taken is not None and taken != pair.live.id:
        findings.problems.append(
            f'{pair.key}: cannot rename to "{name}": the name is used by model group {taken}'
        )
    action = _action(pair, found, [])
    _guard(pair, action, [], findings)
    return Change(
        pair.key,
        action,
        live_id=pair.live.id,
        before=before,
        after=after,
        fields=found.fields,
        reasons=(*pair.reasons, *_reasons(action, found, [])),
    )


def _model(
    case: _Case,
    manifest: ModelManifest,
    *,
    situation: Situation,
    culprit: ResourceKey | None,
) -> Change:
    pair, before, after, found = case.pair, case.before, case.after, case.found
    assert pair.live is not None
    replace = _model_replace_reasons(before, after, found, situation) + _finish_replacement(pair)
    if culprit is not None:
        replace.append(
            f"its connector {culprit} is replaced and cannot be repointed before 2.12: "
            "registered again on the new connector, the old model deleted once the new "
            "one serves"
        )
    action = _action(pair, found, replace)
    change = Change(
        pair.key,
        action,
        live_id=pair.live.id,
        before=before,
        after=after,
        fields=found.fields,
        reasons=(*pair.reasons, *_reasons(action, found, replace)),
        depends_on=references(after),
    )
    wanted = manifest.lifecycle.deployed
    need = deploy_need(pair.live.source, wanted=wanted, now=situation.now)
    if need.action is None and wanted:
        need = probe_need(pair.record, manifest.lifecycle.probe, source=pair.live.source)
    change = _with_lifecycle(change, pair)
    return _with_deploy(change, need, wanted=wanted, running=is_running(pair.live.source))


def _with_lifecycle(change: Change, pair: Pair) -> Change:
    """A `lifecycle.prevent_destroy` that differs from the recorded one is a change of
    osml's state: an unchanged resource gets a state-only update (no cluster call), so
    a later prune honours it; any other change records it anyway."""
    record = pair.record
    if record is None or record.status != "managed":
        return change
    recorded = prevent_destroy_recorded(record)
    wanted = pair.manifest.lifecycle.prevent_destroy
    if recorded == wanted:
        return change
    field = FieldChange("lifecycle.prevent_destroy", before=recorded, after=wanted)
    if change.action is not Action.NOOP:
        return dataclasses.replace(change, fields=(*change.fields, field))
    reason = "lifecycle.prevent_destroy changed: recorded in the state only, no cluster call"
    return dataclasses.replace(
        change, action=Action.UPDATE, fields=(field,), reasons=(*change.reasons, reason)
    )


def _with_deploy(change: Change, need: DeployNeed, *, wanted: bool, running: bool) -> Change:
    """Fold the model's deploy state into its one change."""
    if change.action is Action.REPLACE:
        # The new model is registered and deployed before the old one is deleted
        # (`applying.acting`): the name keeps serving, under a new model ID.
        stops = running and not wanted
        downtime = f"{change.key} stops serving (lifecycle.deployed is false)" if stops else None
        return dataclasses.replace(change, deploy_after=wanted, downtime=downtime)
    if need.action is None:
        return change
    if change.action is Action.NOOP:
        return dataclasses.replace(
            change, action=need.action, reasons=(*change.reasons, need.reason)
        )
    # An update (or adoption) carries the deploy state: deployed after it, or undeployed
    # before it (an update of a DEPLOYING model is refused, §6.8), or probed again after it,
    # all in the same apply.
    if need.action is Action.UNDEPLOY:
        reason = need.reason + " (undeployed before the update)"
        return dataclasses.replace(change, undeploy_first=True, reasons=(*change.reasons, reason))
    if need.action is Action.PROBE:
        reason = need.reason + " (probed again after the update)"
        return dataclasses.replace(change, probe_after=True, reasons=(*change.reasons, reason))
    return dataclasses.replace(change, deploy_after=True, reasons=(*change.reasons, need.reason))


def _model_replace_reasons(
    before: Body, after: Body, found: Diff, situation: Situation
) -> list[str]:
    replace = _map_reasons(found)
    if ("connector_id" in before) != ("connector_id" in after):
        old, new = (
            ("a standalone", "an internal")
            if "connector_id" in before
            else ("an internal", "a standalone")
        )
        replace.append(f"switches from {old} to {new} connector")
    fixed = sorted(found.changed_top() - MODEL_UPDATABLE - set(found.cleared))
    replace += [f"{field} cannot be updated" for field in fixed]
    if found.changed and not situation.caps.update_model:
        replace.append(f"{situation.version.short} has no Update Model (2.12+)")
    return replace


def _finish_replacement(pair: Pair) -> list[str]:
    """A replacement cut short after its create is finished as a replace: the executor
    finds the new resource by name instead of creating another, then retires the old."""
    if pair.leftover is None:
        return []
    return [f"a replacement was interrupted: {pair.leftover.id} takes the place of the old"]


def _map_reasons(found: Diff) -> list[str]:
    """Removals an update cannot perform (§1.5): each is a reason to replace."""
    reasons = [f"{path} removed: updates merge maps" for path in found.removed_keys]
    removed_tops = {path.split(".")[0] for path in found.removed_keys}
    reasons += [
        f"{field} removed: an update cannot clear a field"
        for field in found.cleared
        if field not in removed_tops
    ]
    return reasons


def _assume_unknown_credentials(found: Diff, pair: Pair, findings: Findings) -> Diff:
    """An adopted credential that cannot be compared is assumed current when sending it
    would cost a swap, a recreate or a replace; it is re-sent when an update is cheap."""
    unknown = [
        f
        for f in found.fields
        if f.sensitive and (pair.record is None or f.path not in pair.record.fingerprints)
    ]
    if not unknown or not pair.adopted:
        return found
    findings.warnings.append(
        f"{pair.key}: {', '.join(f.path for f in unknown)} cannot be compared (no fingerprint "
        "yet) and cannot be re-sent in place: assumed current"
    )
    kept = tuple(f for f in found.fields if f not in unknown)
    return Diff(kept, found.removed_keys, found.cleared)


def _action(pair: Pair, found: Diff, replace: list[str]) -> Action:
    if replace:
        return Action.REPLACE
    if pair.adopted:
        return Action.ADOPT
    return Action.UPDATE if found.changed else Action.NOOP


def _reasons(action: Action, found: Diff, replace: list[str]) -> list[str]:
    if action is Action.REPLACE:
        return [f"{reason}: replace" for reason in replace]
    if found.changed:
        return [f"{len(found.fields)} field(s) differ"]
    return []


def _guard(pair: Pair, action: Action, replace: list[str], findings: Findings) -> None:
    """A replace deletes the live resource: never under `prevent_destroy`."""
    if pair.manifest.lifecycle.prevent_destroy and action is Action.REPLACE:
        findings.problems.append(
            f"{pair.key}: must be replaced ({'; '.join(replace)}) but lifecycle.prevent_destroy "
            "is set; change the manifest or lift prevent_destroy"
        )


def references(body: Mapping[str, Any], kind: Kind = Kind.MODEL) -> tuple[ResourceKey, ...]:
    """The managed resources a body refers to through reference markers: a model's in
    `connector_id` and `model_group_id`, a consumer's anywhere (`consuming.references`)."""
    if kind.is_consumer:
        return consumer_references(body)
    found = (ref_target(body.get(field)) for field in ("connector_id", "model_group_id"))
    return tuple(key for key in found if key is not None)


# --- orphans ---------------------------------------------------------------------------


def decide_orphan(orphan: Orphan, *, situation: Situation, prune: bool) -> Change | None:
    """A DELETE for a managed resource whose manifest is gone (settings: `configuring`)."""
    record, live = orphan.record, orphan.live
    key = record.key
    if live is None:
        return _forget(record, prune=prune)
    before = live_body(live.source, kind=key.kind, ids=situation.ids)
    reasons = ["no manifest declares it any more"]
    if prevent_destroy_recorded(record):
        reasons.append("kept: prevent_destroy was set when it was last applied")
    elif not prune:
        reasons.append("kept: pruning is off (--prune deletes it)")
    users = _users(live.id, key.kind, situation=situation)
    foreign = [m.id for m in users if situation.key_of(m) is None]
    if foreign:
        # The server refuses the delete while any model references it (§2.10, §5.7).
        reasons.append(f"blocked while models osml does not manage use it: {', '.join(foreign)}")
    downtime = None
    if key.kind is Kind.MODEL and is_running(live.source):
        reasons.append(f"undeployed first ({model_state(live.source)})")
        downtime = f"{key} removed"
    return Change(
        key,
        Action.DELETE,
        live_id=live.id,
        before=before,
        reasons=tuple(reasons),
        depends_on=tuple(sorted(k for m in users if (k := situation.key_of(m)) is not None)),
        downtime=downtime,
    )


def _forget(record: StateRecord, *, prune: bool) -> Change:
    """A DELETE of a record whose live resource is already gone: only the record goes.

    Without it a record left by a crash between a delete and its record removal (or an
    intent whose manifest was then removed) would stay in the state index for ever.
    """
    gone = f"its live resource {record.id} is already gone" if record.id else "it has no live ID"
    reasons = ["no manifest declares it any more", f"{gone}: only its state record is removed"]
    if not prune:
        reasons.append("kept: pruning is off (--prune removes it)")
    return Change(record.key, Action.DELETE, live_id=record.id, reasons=tuple(reasons))


def will_delete(change: Change, record: StateRecord, *, prune: bool) -> bool:
    """Whether an orphan's DELETE is planned rather than only reported."""
    return prune and not prevent_destroy_recorded(record) and change.action is Action.DELETE


def prevent_destroy_recorded(record: StateRecord) -> bool:
    """`prevent_destroy` as osml recorded it under `applied.lifecycle` at the last apply."""
    lifecycle = record.applied.get("lifecycle")
    return isinstance(lifecycle, Mapping) and bool(lifecycle.get("prevent_destroy"))


def _users(live_id: str, kind: Kind, *, situation: Situation) -> tuple[LiveObject, ...]:
    """The live models that must leave a connector or group before it can be deleted."""
    if kind is Kind.CONNECTOR:
        return situation.models_by_connector.get(live_id, ())
    if kind is Kind.MODEL_GROUP:
        return situation.models_by_group.get(live_id, ())
    return ()
