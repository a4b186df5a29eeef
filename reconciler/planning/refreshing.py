"""The refresh-only view: how the live cluster differs from what the state records.

`osml plan --refresh-only` and `osml apply --refresh-only` never propose a change to the
cluster. They compare each state record with the live resource it names, as Terraform's
refresh-only mode compares its state with real infrastructure:

- `vanished`: a managed record whose live connector, model group, model, pipeline or agent
  is gone; the refresh forgets the record. Agents the cluster would not let osml read (the
  agent framework switched off, `Snapshot.unread`) are unknown, not gone: left alone.
- `edited`: fields osml applied that differ live now (someone edited the resource by
  hand); the refresh writes the live values into the record's `applied`. Credentials,
  which cannot be read back (§2.7), keep their fingerprints.
- `deploy_state`: a model not DEPLOYED although osml last left it deployed, or one in
  DEPLOY_FAILED or PARTIALLY_DEPLOYED; and a model whose last probe failed or never
  finished. Reported only: deploy state is read live on every plan.
- `intent`: a create that was cut short; reported only, the next apply resolves it.

Settings kinds are compared for the patterns and settings osml set, and reported only.
Called by `reconciler.refreshing` and the CLI; pure: the snapshot was read before.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.snapshots import LiveObject, Snapshot, StateRecord
from reconciler.mlcommons.endpoints import SETTING_KEY
from reconciler.planning.diffing import compared_fields, value_changes
from reconciler.planning.normalizing import CREDENTIAL, LiveIds, live_body, model_state
from reconciler.plans import FieldChange
from reconciler.resources import Kind, ResourceKey

_BROKEN = frozenset({"DEPLOY_FAILED", "PARTIALLY_DEPLOYED"})


class DriftKind(enum.StrEnum):
    """How one record differs from the cluster."""

    VANISHED = "vanished"
    """The live resource is gone; refreshing forgets the record."""
    EDITED = "edited"
    """Applied fields differ live; refreshing records the live values."""
    DEPLOY_STATE = "deploy_state"
    """The model is not in the deploy state osml left it in, or its probe did not pass."""
    INTENT = "intent"
    """A create that was cut short; the next apply resolves it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Drift:
    """One difference between a state record and the cluster."""

    key: ResourceKey
    kind: DriftKind
    note: str
    """In words, for the report."""
    live_id: str | None = None
    fields: tuple[FieldChange, ...] = ()
    """For `edited`: `before` as recorded, `after` as live."""


@dataclasses.dataclass(frozen=True, slots=True)
class Refresh:
    """What a refresh found and what it would write."""

    drifts: tuple[Drift, ...]
    forget: tuple[StateRecord, ...]
    """Records whose live resource vanished."""
    rewrite: tuple[StateRecord, ...]
    """Records with `applied` brought up to date with the live resource."""

    @property
    def changes_state(self) -> bool:
        """Whether `apply --refresh-only` would write anything."""
        return bool(self.forget or self.rewrite)


def refresh(snapshot: Snapshot) -> Refresh:
    """Compare every state record of `snapshot` with the live resource it names."""
    live = _live_by_id(snapshot)
    unread = {Kind.AGENT} if any(u.startswith("agents") for u in snapshot.unread) else set()
    drifts: list[Drift] = []
    forget: list[StateRecord] = []
    rewrite: list[StateRecord] = []
    for key in sorted(snapshot.state.records, key=lambda k: k.sort_key):
        record = snapshot.state.records[key]
        if record.status == "intent":
            drifts.append(Drift(key, DriftKind.INTENT, "a create was cut short", record.id))
        elif key.kind.is_setting:
            drifts.extend(_settings_drift(record, snapshot=snapshot))
        elif key.kind in unread:
            continue  # not read (the agent framework off): unknown, not vanished
        elif record.id is None or (record.id, key.kind) not in live:
            drifts.append(_vanished(record))
            forget.append(record)
        else:
            found = live[(record.id, key.kind)]
            edited = _edited(record, found)
            if edited is not None:
                drifts.append(edited)
                rewrite.append(_refreshed(record, found, edited.fields))
            drifts.extend(_deploy_drift(record, found))
    return Refresh(tuple(drifts), tuple(forget), tuple(rewrite))


def _live_by_id(snapshot: Snapshot) -> dict[tuple[str, Kind], LiveObject]:
    found: dict[tuple[str, Kind], LiveObject] = {}
    for kind, objects in (
        (Kind.CONNECTOR, snapshot.connectors),
        (Kind.MODEL_GROUP, snapshot.model_groups),
        (Kind.MODEL, snapshot.models),
        (Kind.INGEST_PIPELINE, snapshot.ingest_pipelines),
        (Kind.SEARCH_PIPELINE, snapshot.search_pipelines),
        (Kind.AGENT, snapshot.agents),
    ):
        found.update({(o.id, kind): o for o in objects})
    return found


def _vanished(record: StateRecord) -> Drift:
    note = f"live resource {record.id} no longer exists; its record is forgotten"
    return Drift(record.key, DriftKind.VANISHED, note, record.id)


def _edited(record: StateRecord, live: LiveObject) -> Drift | None:
    body = live_body(live.source, kind=record.key.kind, ids=LiveIds())
    changes: list[FieldChange] = []
    for field in compared_fields(record.applied, {}, kind=record.key.kind):
        recorded = _no_credential(record.applied[field])
        if field not in body:
            changes.append(FieldChange(field, recorded, None))
        else:
            changes += value_changes(field, recorded, _no_credential(body[field]))
    if not changes:
        return None
    note = f"{len(changes)} field(s) differ from what osml last applied"
    return Drift(record.key, DriftKind.EDITED, note, live.id, tuple(changes))


def _refreshed(
    record: StateRecord, live: LiveObject, fields: tuple[FieldChange, ...]
) -> StateRecord:
    """`record` with the live value of each drifted top-level field, credentials kept."""
    body = live_body(live.source, kind=record.key.kind, ids=LiveIds())
    applied = dict(record.applied)
    for top in {_top(f.path) for f in fields}:
        if top not in body:
            applied.pop(top, None)
            continue
        value = body[top]
        old = record.applied.get(top)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and CREDENTIAL in old:
            value = {**value, CREDENTIAL: old[CREDENTIAL]}
        applied[top] = value
    return dataclasses.replace(record, applied=applied)


def _deploy_drift(record: StateRecord, live: LiveObject) -> list[Drift]:
    if record.key.kind is not Kind.MODEL:
        return []
    state = model_state(live.source)
    lifecycle = record.applied.get("lifecycle")
    left_deployed = isinstance(lifecycle, Mapping) and lifecycle.get("deployed") is True
    drifts = []
    if state in _BROKEN or (left_deployed and state != "DEPLOYED"):
        drifts.append(Drift(record.key, DriftKind.DEPLOY_STATE, f"model is {state}", live.id))
    probe = record.probe
    if probe is not None and probe.outcome != "passed" and state == "DEPLOYED":
        note = f"its last probe {'failed' if probe.outcome == 'failed' else 'never finished'}"
        drifts.append(Drift(record.key, DriftKind.DEPLOY_STATE, f"{note} ({probe.at})", live.id))
    return drifts


def _settings_drift(record: StateRecord, *, snapshot: Snapshot) -> list[Drift]:
    """Patterns osml added that are gone, settings osml set that differ (report only)."""
    settings = snapshot.settings
    if record.key.kind is Kind.TRUSTED_ENDPOINTS:
        added = record.applied.get("added")
        listed = settings.get(SETTING_KEY)
        current = _as_list(listed)
        missing = [p for p in added if p not in current] if isinstance(added, list) else []
        if listed is None or not missing:
            return []
        fields = tuple(FieldChange(f"patterns[{p}]", p, None) for p in missing)
        note = f"{len(missing)} pattern(s) osml added are no longer trusted"
        return [Drift(record.key, DriftKind.EDITED, note, None, fields)]
    applied = record.applied.get("settings")
    if not isinstance(applied, Mapping):
        return []
    fields = tuple(
        FieldChange(name, value, settings.get(name))
        for name, value in sorted(applied.items())
        if value is not None and _text(settings.get(name)) != _text(value)
    )
    if not fields:
        return []
    note = f"{len(fields)} setting(s) differ from what osml set"
    return [Drift(record.key, DriftKind.EDITED, note, None, fields)]


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if isinstance(value, str) else []


def _text(value: Any) -> str:
    """Cluster settings come back as strings: compare in that form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _no_credential(value: Any) -> Any:
    if isinstance(value, Mapping) and CREDENTIAL in value:
        return {k: v for k, v in value.items() if k != CREDENTIAL}
    return value


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]
