"""Decisions for the cluster-settings kinds: TrustedEndpoints and AccessControl (§3.1, §9).

TrustedEndpoints in `merge` mode adds the patterns the repository needs and removes only
patterns osml itself added earlier (remembered as `added` in the state record), keeping the
version's defaults and everyone else's entries. Setting the list replaces the server
default, so the new list is the current effective list (the default when not set) plus
ours. `exact` mode owns the whole list. AccessControl touches only the keys it declares,
plus keys it applied before and no longer declares, which are reset with `null` (§9:
`null` restores the default).

The body of a settings change (`Change.after`) is `{"settings": {full key: value}}` (the
persistent cluster-settings body) plus what the next plan needs to remember.

Called by `planning.making`; pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.cluster.snapshots import StateRecord
from reconciler.manifests.models import AccessControlManifest, TrustedEndpointsManifest
from reconciler.mlcommons.endpoints import SETTING_KEY, default_trusted_endpoints
from reconciler.mlcommons.settings import PREFIX, default_for, lookup, short_key
from reconciler.planning.deciding import prevent_destroy_recorded
from reconciler.planning.situations import Situation
from reconciler.plans import Action, Change, FieldChange
from reconciler.resources import Kind, ResourceKey

ACCESS_FLAGS = ("connector_access_control_enabled", "model_access_control_enabled")


# --- trusted endpoints ------------------------------------------------------------------


def effective_trusted(situation: Situation) -> list[str]:
    """The list in force: the explicit setting, else the version's default (§3.1)."""
    value = situation.snapshot.settings.get(SETTING_KEY)
    if value is None:
        return list(default_trusted_endpoints(situation.version))
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else [value]
        except ValueError:
            value = [value]
    return [str(item) for item in value]


def decide_trusted_endpoints(
    manifest: TrustedEndpointsManifest, record: StateRecord | None, *, situation: Situation
) -> Change:
    """Add our missing patterns (merge) or set the whole list (exact)."""
    current = effective_trusted(situation)
    ours = list(manifest.spec.patterns)
    if manifest.spec.mode == "exact":
        new, added = ours, ours
    else:
        before_added = _previously_added(record)
        dropped = set(before_added) - set(ours)
        base = [p for p in current if p not in dropped]
        missing = [p for p in ours if p not in base]
        new = base + missing
        added = [p for p in ours if p in before_added or p in missing]
    after = {
        "mode": manifest.spec.mode,
        "patterns": ours,
        "added": added,
        "settings": {SETTING_KEY: new},
    }
    return _list_change(manifest.key, current, new, after=after, action=Action.UPDATE)


def _previously_added(record: StateRecord | None) -> list[str]:
    added = record.applied.get("added") if record is not None else None
    return [str(p) for p in added] if isinstance(added, list) else []


def _list_change(
    key: ResourceKey,
    current: list[str],
    new: list[str],
    *,
    after: Mapping[str, Any],
    action: Action,
) -> Change:
    if new == current:
        return Change(key, Action.NOOP, before={"patterns": current}, after=after)
    gained = [p for p in new if p not in current]
    lost = [p for p in current if p not in new]
    reasons = [f"add {p}" for p in gained] + [f"remove {p}" for p in lost]
    return Change(
        key,
        action,
        before={"patterns": current},
        after=after,
        fields=(FieldChange("patterns", current, new),),
        reasons=tuple(reasons) or ("reorder the list",),
    )


# --- access control and other settings --------------------------------------------------


def declared_settings(manifest: AccessControlManifest) -> dict[str, Any]:
    """Full setting key -> desired value, for the keys the manifest declares."""
    spec = manifest.spec
    found = {PREFIX + flag: getattr(spec, flag) for flag in ACCESS_FLAGS}
    found.update({PREFIX + short_key(key): value for key, value in spec.settings.items()})
    return {key: value for key, value in found.items() if value is not None}


def decide_access_control(
    manifest: AccessControlManifest, record: StateRecord | None, *, situation: Situation
) -> Change:
    """Set the declared keys; reset previously applied ones that left the manifest."""
    desired = declared_settings(manifest)
    resets = _resets(record, keep=desired, situation=situation)
    fields = [
        FieldChange(short_key(key), current, value)
        for key, value in sorted(desired.items())
        if comparable(current := current_setting(key, situation=situation)) != comparable(value)
    ]
    fields += [
        FieldChange(short_key(key), current_setting(key, situation=situation)) for key in resets
    ]
    after = {"settings": {**desired, **dict.fromkeys(resets)}}
    before = {
        short_key(key): current_setting(key, situation=situation) for key in after["settings"]
    }
    if not fields:
        return Change(manifest.key, Action.NOOP, before=before, after=after)
    reasons = [
        f"{f.path}: {_show(f.before)} -> {_show(f.after)}" for f in fields if f.after is not None
    ]
    reasons += [f"{short_key(key)}: reset to default (no longer declared)" for key in resets]
    return Change(
        manifest.key, Action.UPDATE, before=before, after=after, fields=tuple(fields),
        reasons=tuple(reasons),
    )  # fmt: skip


def _resets(
    record: StateRecord | None, *, keep: Mapping[str, Any], situation: Situation
) -> list[str]:
    """Keys osml set before, no longer declared, and still set explicitly on the cluster."""
    applied = record.applied.get("settings") if record is not None else None
    if not isinstance(applied, Mapping):
        return []
    explicit = situation.snapshot.explicit_settings
    return sorted(
        key
        for key, value in applied.items()
        if value is not None and key not in keep and key in explicit
    )


def current_setting(key: str, *, situation: Situation) -> Any:
    """The effective value of a setting: live, else the version's default (§9)."""
    if key in situation.snapshot.settings:
        return situation.snapshot.settings[key]
    setting = lookup(key)
    return default_for(setting, version=situation.version) if setting is not None else None


def _show(value: Any) -> str:
    return json.dumps(comparable(value)).strip('"')


def comparable(value: Any) -> Any:
    """Cluster settings come back as strings (`"true"`): compare in that form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [comparable(item) for item in value]
    if value is None:
        return None
    text = str(value)
    return text.lower() if text.lower() in ("true", "false") else text


# --- pruning ------------------------------------------------------------------------------


def decide_settings_orphan(
    record: StateRecord, *, situation: Situation, prune: bool
) -> Change | None:
    """Undo what osml applied for a settings manifest that was removed (pruning)."""
    reasons = ["no manifest declares it any more"]
    if prevent_destroy_recorded(record):
        reasons.append("kept: prevent_destroy was set when it was last applied")
    elif not prune:
        reasons.append("kept: pruning is off (--prune undoes it)")
    if record.key.kind is Kind.TRUSTED_ENDPOINTS:
        current = effective_trusted(situation)
        added = set(_previously_added(record))
        new = [p for p in current if p not in added]
        if new == current:
            return None
        after = {"added": [], "settings": {SETTING_KEY: new}}
        change = _list_change(record.key, current, new, after=after, action=Action.DELETE)
    else:
        resets = _resets(record, keep={}, situation=situation)
        if not resets:
            return None
        fields = tuple(
            FieldChange(short_key(k), current_setting(k, situation=situation)) for k in resets
        )
        change = Change(
            record.key, Action.DELETE, after={"settings": dict.fromkeys(resets)}, fields=fields
        )
    return Change(
        change.key, Action.DELETE, before=change.before, after=change.after,
        fields=change.fields, reasons=(*reasons, *change.reasons),
    )  # fmt: skip
