"""Bring desired and live documents to one comparable shape for the target version (§10).

Desired side: a manifest spec becomes the request body the server would store (spec name
defaulted, `version` and `parameters` stringified the server's way, `action_type`
upper-cased, `client_config` defaults filled, references replaced by reference markers and
credentials by secret markers). Live side: a search hit's `_source` loses the fields the
server manages and is renamed into request terms (`access` -> `access_mode`, `algorithm` ->
`function_name`, raw IDs of managed resources -> reference markers).

Called by the deciding step of `planning`; pure: no I/O, no diffing, no decisions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.snapshots import StateRecord
from reconciler.manifests.models import (
    AgentManifest,
    ConnectorAction,
    ConnectorManifest,
    ConnectorSpec,
    ConsumerManifest,
    IngestPipelineManifest,
    ModelGroupManifest,
    ModelManifest,
    SearchPipelineManifest,
    SecretRef,
    server_name,
)
from reconciler.manifests.references import REFERABLE, find_references, replace_references
from reconciler.mlcommons.consumers import AGENT_SERVER_FIELDS
from reconciler.mlcommons.defaults import MODEL_TTL_MINUTES_DEFAULT, fill_client_config
from reconciler.mlcommons.fields import (
    drop_server_managed,
    normalize_action_type,
    normalize_parameters,
    normalize_version,
    stored_access,
)
from reconciler.mlcommons.templates import stringify
from reconciler.mlcommons.versions import Version
from reconciler.plans import ref_marker, ref_target, secret_marker
from reconciler.resources import Kind, ResourceKey
from reconciler.secrets.leases import Lease, LeasedSecret
from reconciler.secrets.values import Secret

Body = dict[str, Any]
"""A normalised request body or live document."""

CREDENTIAL = "credential"
INLINE_CREDENTIAL = "connector.credential"
"""Fingerprint path prefixes: a standalone connector's and a model's inline connector's."""


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    """Turns resolved secrets into comparable fingerprints; never exposes a value.

    A key minted at apply time (`fromAwsRole`, a LeasedSecret) has no value to fingerprint
    while planning: it stands for the keys last sent, whose fingerprint the state record
    keeps, for as long as their lease (in the same record) is from the same source and not
    due; otherwise it has no fingerprint, so the plan sends new keys.
    """

    secrets: Mapping[tuple[ResourceKey, str], Secret]
    key: bytes | None
    """The state index's HMAC key; None before the first apply (no fingerprints yet)."""
    records: Mapping[ResourceKey, StateRecord] = dataclasses.field(default_factory=dict)
    """The state records, for the leases of minted keys."""
    now: dt.datetime | None = None
    """The plan's time, for judging leases; None: the current time."""

    def of(self, resource: ResourceKey, path: str) -> str | None:
        """The fingerprint of the secret at `path` (`credential.x`), None if unknown."""
        secret = self.secrets.get((resource, path))
        if secret is None or self.key is None:
            return None
        if isinstance(secret, LeasedSecret):
            if self.rotation(resource, path) is not None:
                return None
            record = self.records[resource]
            return record.fingerprints.get(path)
        return secret.fingerprint(self.key)

    def rotation(self, resource: ResourceKey, path: str) -> str | None:
        """Why the minted keys at `path` must be sent anew, in words; None while the keys
        last sent are still good (`secrets.leases` has the renewal rule)."""
        secret = self.secrets.get((resource, path))
        if not isinstance(secret, LeasedSecret):
            return None
        record = self.records.get(resource)
        prefix = path.rpartition(".")[0]
        found = record.leases.get(prefix) if record and record.status == "managed" else None
        lease = Lease.from_dict(found) if isinstance(found, Mapping) else None
        if record is None or lease is None or path not in record.fingerprints:
            return "no keys sent yet"
        if lease.source != secret.source:
            return f"the source changed (was {lease.source})"
        now = self.now or dt.datetime.now(dt.UTC)
        return lease.status(now) if lease.due(now) else None


@dataclasses.dataclass(frozen=True)
class LiveIds:
    """Live IDs of managed resources, so live references read like desired ones."""

    keys: Mapping[str, ResourceKey] = dataclasses.field(default_factory=dict)

    def reference(self, raw: Any, kind: Kind) -> Any:
        """A reference marker when `raw` is the ID of a managed resource of `kind`."""
        key = self.keys.get(raw) if isinstance(raw, str) else None
        if key is not None and key.kind is kind:
            return ref_marker(key)
        return raw


# --- desired ---------------------------------------------------------------------------


def desired_body(
    manifest: ConnectorManifest | ModelGroupManifest | ModelManifest | ConsumerManifest,
    *,
    version: Version,
    fingerprints: Fingerprints,
    ids: LiveIds | None = None,
) -> Body:
    """The body osml would send for `manifest`, with markers for secrets and references."""
    if isinstance(manifest, IngestPipelineManifest | SearchPipelineManifest | AgentManifest):
        return desired_consumer(manifest, ids=ids or LiveIds())
    if isinstance(manifest, ConnectorManifest):
        return desired_connector(
            manifest.spec,
            name=server_name(manifest),
            resource=manifest.key,
            version=version,
            fingerprints=fingerprints,
        )
    if isinstance(manifest, ModelGroupManifest):
        return desired_model_group(manifest)
    return desired_model(manifest, version=version, fingerprints=fingerprints)


def desired_connector(
    spec: ConnectorSpec,
    *,
    name: str,
    resource: ResourceKey,
    version: Version,
    fingerprints: Fingerprints,
    prefix: str = CREDENTIAL,
) -> Body:
    """A connector body as the server stores it (§2.7); `prefix` names its credentials."""
    body: Body = spec.model_dump(by_alias=True, exclude_none=True)
    body["name"] = name
    body["version"] = normalize_version(spec.version)
    body["parameters"] = normalize_parameters(spec.parameters)
    body["actions"] = [_desired_action(action) for action in spec.actions]
    body[CREDENTIAL] = {
        key: _secret(ref, fingerprints.of(resource, f"{prefix}.{key}"))
        for key, ref in spec.credential.items()
    }
    if spec.access_mode is not None:
        body["access_mode"] = stored_access(spec.access_mode)
    if spec.client_config is not None:
        given = spec.client_config.model_dump(exclude_none=True)
        body["client_config"] = fill_client_config(given, version=version)  # §2.4
    return body


def _desired_action(action: ConnectorAction) -> Body:
    body: Body = action.model_dump(exclude_none=True)
    body["action_type"] = normalize_action_type(action.action_type)  # §2.3
    return body


def _secret(ref: SecretRef | str, fingerprint: str | None) -> dict[str, Any]:
    source = {"arn": ref} if isinstance(ref, str) else ref.model_dump(by_alias=True)
    return secret_marker(source, fingerprint)


def desired_model_group(manifest: ModelGroupManifest) -> Body:
    """A model-group register body (§5.2)."""
    body: Body = manifest.spec.model_dump(by_alias=True, exclude_none=True)
    body["name"] = server_name(manifest)
    return body


def desired_model(manifest: ModelManifest, *, version: Version, fingerprints: Fingerprints) -> Body:
    """A register-model body (§6.2) with references as markers."""
    spec = manifest.spec
    body: Body = spec.model_dump(
        by_alias=True, exclude_none=True, exclude={"connector", "model_group"}
    )
    body["name"] = server_name(manifest)
    body["function_name"] = "remote"
    if spec.connector_ref is not None:
        body["connector_id"] = ref_marker(ResourceKey(Kind.CONNECTOR, spec.connector_ref))
    inline = spec.inline_connector
    if inline is not None:
        body["connector"] = desired_connector(
            inline,
            name=inline.name or manifest.metadata.name,
            resource=manifest.key,
            version=version,
            fingerprints=fingerprints,
            prefix=INLINE_CREDENTIAL,
        )
    if spec.model_group is not None:
        body["model_group_id"] = ref_marker(ResourceKey(Kind.MODEL_GROUP, spec.model_group))
    return _model_defaults(body)


def _model_defaults(body: Body) -> Body:
    """Drop what the server would fill anyway, and stringify `interface` (§6.2)."""
    deploy = body.get("deploy_setting")
    if isinstance(deploy, dict) and deploy.get("model_ttl_minutes") == MODEL_TTL_MINUTES_DEFAULT:
        body["deploy_setting"] = {k: v for k, v in deploy.items() if k != "model_ttl_minutes"}
    if isinstance(body.get("interface"), dict):
        body["interface"] = {k: canonical_json(v) for k, v in body["interface"].items()}
    limiter = body.get("rate_limiter")
    if isinstance(limiter, dict) and "limit" in limiter:
        body["rate_limiter"] = {**limiter, "limit": rate_limit(limiter["limit"])}
    return body


def rate_limit(value: Any) -> Any:
    """`rate_limiter.limit` as the server keeps it, text (§6.2: read with `parser.text()`),
    written the shortest way: `10`, `10.0` and `"10"` are one limit, `"10"`."""
    if isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def canonical_json(value: Any) -> Any:
    """A JSON-schema value as one compact string, whatever spacing it was written with."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def desired_consumer(
    manifest: IngestPipelineManifest | SearchPipelineManifest | AgentManifest, *, ids: LiveIds
) -> Body:
    """A pipeline or agent body: the spec as written, `{ref: Kind/NAME}` values as
    reference markers (and a raw ID of a managed model, connector or agent read as one, so
    both sides compare alike and a swap rewires it too)."""
    body = manifest.spec.model_dump(exclude_none=True)
    if isinstance(manifest, AgentManifest):
        body = _stored_agent(body)
        body["name"] = server_name(manifest)
    converted: Body = consumer_references(replace_references(body, ref_marker), ids=ids)
    return converted


def _stored_agent(body: Body) -> Body:
    """An agent body as the server stores it (CONS §4.3): `tools` and `parameters` only
    when non-empty, each tool with `include_output_in_agent_response` (default false) and
    its `parameters` only when non-empty, `llm.parameters` only when non-empty; every
    parameter value a string (CONS §4.2), so `5` in YAML compares equal to the `"5"` the
    server gives back."""
    for field in ("tools", "parameters"):
        if not body.get(field) and field in body:
            del body[field]
    if isinstance(body.get("parameters"), Mapping):
        body["parameters"] = _stored_parameters(body["parameters"])
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = [_stored_tool(tool) for tool in tools]
    llm = body.get("llm")
    if isinstance(llm, Mapping) and "parameters" in llm:
        parameters = llm["parameters"]
        body["llm"] = {k: v for k, v in llm.items() if k != "parameters"}
        if isinstance(parameters, Mapping) and parameters:
            body["llm"]["parameters"] = _stored_parameters(parameters)
    return body


def _stored_tool(tool: Any) -> Any:
    if not isinstance(tool, Mapping):
        return tool
    stored = {k: v for k, v in tool.items() if not (k == "parameters" and not v)}
    if isinstance(stored.get("parameters"), Mapping):
        stored["parameters"] = _stored_parameters(stored["parameters"])
    stored.setdefault("include_output_in_agent_response", False)
    return stored


def _stored_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Agent parameters as `getParameterMap` stores them: strings verbatim, anything else
    its compact JSON text (CONS §4.2). A value holding a reference `{ref: Kind/NAME}` stays
    as written: it becomes the live ID, a string, once resolved."""
    return {
        key: value if isinstance(value, str) or find_references(value) else stringify(value)
        for key, value in parameters.items()
    }


def consumer_references(value: Any, *, ids: LiveIds) -> Any:
    """`value` with every string that is the live ID of a managed model, connector or
    agent replaced by its reference marker (CONS §6: IDs may stand anywhere)."""
    if isinstance(value, str):
        key = ids.keys.get(value)
        return ref_marker(key) if key is not None and key.kind in REFERABLE else value
    if isinstance(value, Mapping):
        if ref_target(value) is not None:
            return dict(value)
        return {k: consumer_references(v, ids=ids) for k, v in value.items()}
    if isinstance(value, list):
        return [consumer_references(v, ids=ids) for v in value]
    return value


# --- live ------------------------------------------------------------------------------


def live_body(source: Mapping[str, Any], *, kind: Kind, ids: LiveIds) -> Body:
    """A live document in request terms, server-managed fields removed (§10)."""
    if kind.is_consumer:
        return live_consumer(source, kind=kind, ids=ids)
    if kind is Kind.CONNECTOR:
        return live_connector(source)
    if kind is Kind.MODEL_GROUP:
        return _renamed_access(source, kind=kind)
    return live_model(source, ids=ids)


def live_connector(source: Mapping[str, Any]) -> Body:
    """A stored connector (§2.7) as comparable to `desired_connector`."""
    body = _renamed_access(source, kind=Kind.CONNECTOR)
    body.pop(CREDENTIAL, None)  # never returned (§2.7); compared by fingerprint
    if "version" in body:
        body["version"] = normalize_version(body["version"])
    body["parameters"] = normalize_parameters(body.get("parameters"))
    actions = body.get("actions")
    if isinstance(actions, list):
        body["actions"] = [_live_action(action) for action in actions]
    return body


def _live_action(action: Any) -> Any:
    if not isinstance(action, Mapping):
        return action
    body = dict(action)
    if isinstance(body.get("action_type"), str):
        body["action_type"] = normalize_action_type(body["action_type"])
    return body


def _renamed_access(source: Mapping[str, Any], *, kind: Kind) -> Body:
    """`access` is the stored name of `access_mode` (§2.7, §5.4); keep it comparable."""
    body = drop_server_managed(source, kind=kind)
    access = source.get("access")
    if isinstance(access, str):
        body["access_mode"] = stored_access(access)
    return body


def live_model(source: Mapping[str, Any], *, ids: LiveIds) -> Body:
    """A stored remote model (§6.6) as comparable to `desired_model`."""
    body = drop_server_managed(source, kind=Kind.MODEL)
    body["function_name"] = "remote"  # stored as algorithm: REMOTE (§10)
    if "connector_id" in body:
        body["connector_id"] = ids.reference(body["connector_id"], Kind.CONNECTOR)
    if "model_group_id" in body:
        body["model_group_id"] = ids.reference(body["model_group_id"], Kind.MODEL_GROUP)
    if isinstance(body.get("connector"), Mapping):
        body["connector"] = live_connector(body["connector"])
    return _model_defaults(body)


def live_consumer(source: Mapping[str, Any], *, kind: Kind, ids: LiveIds) -> Body:
    """A stored pipeline (kept verbatim, CONS §1.2, §2.2) or agent (CONS §4.3), the IDs of
    managed models, connectors and agents read as reference markers."""
    body = dict(source)
    if kind is Kind.AGENT:
        body = {k: v for k, v in body.items() if k not in AGENT_SERVER_FIELDS}
    converted: Body = consumer_references(body, ids=ids)
    return converted


def model_state(source: Mapping[str, Any]) -> str:
    """`model_state` of a live model, upper-case; `REGISTERED` when missing (§6.6)."""
    state = source.get("model_state")
    return state.upper() if isinstance(state, str) else "REGISTERED"
