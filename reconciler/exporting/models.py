"""Export remote models (§6): references by name, internal connectors inline.

`connector_id` and `model_group_id` of exported resources become `connector` and
`model_group` (their manifest names); others stay raw IDs. An internal connector (§6.4)
is written inline with `connectors.connector_spec`. `interface` strings are written as
the JSON objects they hold; `deploy_setting.model_ttl_minutes` at its default (-1) is
left out, as the planner does. `lifecycle.deployed` is inferred from `model_state`
(§6.6) and commented, so the next plan neither deploys nor undeploys.

Called through the registry in `exporting`; pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from reconciler.cluster.snapshots import LiveObject
from reconciler.exporting.connectors import connector_spec
from reconciler.exporting.documents import Context, Exported, commented, envelope, quoted
from reconciler.manifests.models import ModelConfig, ModelSpec
from reconciler.mlcommons.defaults import MODEL_TTL_MINUTES_DEFAULT
from reconciler.mlcommons.fields import drop_server_managed
from reconciler.resources import Kind, ResourceKey

FOLDER = "models"
PASSED = (
    "is_enabled", "rate_limiter", "model_config", "deploy_setting", "guardrails",
    "interface", "provisioned_by",
)  # fmt: skip
"""Fields copied as stored, in this order, after name, description and references."""
KNOWN = frozenset({field.alias or name for name, field in ModelSpec.model_fields.items()}) | {
    "connector_id",
    "model_group_id",
}
CONFIG_FIELDS = frozenset(ModelConfig.model_fields)
_DEPLOYED = {
    "DEPLOYED": (True, None),
    "DEPLOYING": (True, "inferred: the model was DEPLOYING when exported"),
    "PARTIALLY_DEPLOYED": (True, "inferred: PARTIALLY_DEPLOYED; the plan redeploys it"),
    "DEPLOY_FAILED": (False, "inferred: DEPLOY_FAILED when exported; set true to redeploy"),
}


class ModelExporter:
    """Model manifests, one per remote model."""

    kind = Kind.MODEL

    def export(self, ctx: Context) -> list[Exported]:
        """Every remote model of the snapshot, in name order."""
        names = ctx.names[Kind.MODEL]
        # In name order, so credential variables are named (and listed) the same each run.
        ordered = sorted(ctx.snapshot.models, key=lambda obj: names[obj.id])
        return [self._one(obj, ctx) for obj in ordered]

    def _one(self, obj: LiveObject, ctx: Context) -> Exported:
        name = ctx.names[Kind.MODEL][obj.id]
        key = ResourceKey(Kind.MODEL, name)
        body = drop_server_managed(obj.source, kind=Kind.MODEL)
        document = envelope(Kind.MODEL, name, live_id=obj.id)
        document["spec"] = _spec(body, ctx=ctx, resource=key)
        document["lifecycle"] = _lifecycle(obj.source.get("model_state"))
        left = sorted(set(body) - KNOWN - {"connector"})
        if left:
            ctx.notes.append(f"{key}: left out fields osml does not manage: {', '.join(left)}")
        return Exported(key, document, f"Model {quoted(obj.name)} ({obj.id})", FOLDER)


def _spec(body: Mapping[str, Any], *, ctx: Context, resource: ResourceKey) -> CommentedMap:
    spec: dict[str, Any] = {"name": body.get("name")}
    if body.get("description"):
        spec["description"] = body["description"]
    inline = body.get("connector")
    if isinstance(inline, Mapping):
        spec["connector"] = connector_spec(
            inline, ctx=ctx, resource=resource, prefix="connector.credential"
        )
    elif body.get("connector_id") is not None:
        ref = ctx.name_of(Kind.CONNECTOR, body["connector_id"])
        spec["connector" if ref else "connector_id"] = ref or body["connector_id"]
    if body.get("model_group_id") is not None:
        ref = ctx.name_of(Kind.MODEL_GROUP, body["model_group_id"])
        spec["model_group" if ref else "model_group_id"] = ref or body["model_group_id"]
    for field in PASSED:
        value = _passed(field, body.get(field), ctx=ctx, resource=resource)
        if value is not None:
            spec[field] = value
    return commented(spec, {})


def _passed(field: str, value: Any, *, ctx: Context, resource: ResourceKey) -> Any:
    if value is None:
        return None
    if field == "deploy_setting" and isinstance(value, Mapping):
        kept = {
            k: v for k, v in value.items()
            if not (k == "model_ttl_minutes" and v == MODEL_TTL_MINUTES_DEFAULT)
        }  # fmt: skip
        return kept or None
    if field == "rate_limiter" and isinstance(value, Mapping):
        # Stored as text (§6.2); the manifest writes the number.
        return {k: _number(v) if k == "limit" else v for k, v in value.items()}
    if field == "interface" and isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items() if v is not None} or None
    if field == "model_config" and isinstance(value, Mapping):
        left = sorted(set(value) - CONFIG_FIELDS)
        if left:
            ctx.notes.append(f"{resource}: model_config fields left out: {', '.join(left)}")
        return {k: v for k, v in value.items() if k in CONFIG_FIELDS} or None
    return value


def _number(value: Any) -> Any:
    """`"10"` as 10 and `"2.5"` as 2.5; anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def _json(value: Any) -> Any:
    """A stored JSON-schema string as the object it holds (kept as text if it is not)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _lifecycle(state: Any) -> CommentedMap:
    text = state.upper() if isinstance(state, str) else "REGISTERED"
    deployed, why = _DEPLOYED.get(text, (False, None))
    comments = {"deployed": why or f"inferred from model_state {text}"}
    return commented({"deployed": deployed}, comments)
