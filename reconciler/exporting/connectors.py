"""Export standalone connectors, and the connector body that models' internal ones share.

The spec is the stored connector (§2.7) in request terms: `access` back to `access_mode`
(only while connector access control is on, §2.5), `version` as written, `client_config`
reduced to the fields that differ from the version's defaults (§2.4; the server fills the
rest). Credentials are write-only (§2.7): their keys are inferred from the
`${credential.x}` placeholders of the actions (and `access_key`/`secret_key` for
`aws_sigv4`, §2.2), each one a `fromEnv` reference to a generated variable, never a
value. Fields the manifest format does not know are left out and listed as notes.

Called through the registry in `exporting`; pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.exporting.documents import (
    Context,
    Exported,
    Variable,
    access_control_on,
    commented,
    envelope,
    quoted,
)
from reconciler.exporting.naming import variable_name
from reconciler.manifests.models import ConnectorAction, ConnectorSpec
from reconciler.mlcommons.defaults import client_config_defaults
from reconciler.mlcommons.fields import drop_server_managed, stored_access
from reconciler.mlcommons.versions import Version
from reconciler.resources import Kind, ResourceKey

FOLDER = "connectors"
ORDER = (
    "name", "description", "version", "protocol", "url", "headers", "parameters",
    "credential", "actions", "client_config", "access_mode", "backend_roles",
    "provisioned_by",
)  # fmt: skip
"""Key order of an exported connector spec: as a person writes a blueprint."""
SPEC_FIELDS = frozenset(ConnectorSpec.model_fields) - {"add_all_backend_roles"}
ACTION_FIELDS = tuple(ConnectorAction.model_fields)
SIGV4_KEYS = ("access_key", "secret_key")
"""Credential keys an `aws_sigv4` connector always has (§2.2)."""
SIGV4_PLACES = ("region", "service_name")
"""Needed in `parameters` or `credential` (§2.2): absent from parameters, they were sent
as credential keys."""
CREDENTIAL_SINCE = Version(2, 19)
"""From 2.19 a non-MCP connector needs a non-empty `credential` (§2.2)."""
MCP = ("mcp_sse", "mcp_streamable_http")
_PLACEHOLDER = re.compile(r"\$\{credential\.([A-Za-z0-9_.-]+)\}")


class ConnectorExporter:
    """Connector manifests, one per standalone connector."""

    kind = Kind.CONNECTOR

    def export(self, ctx: Context) -> list[Exported]:
        """Every connector of the snapshot, in name order."""
        found = []
        names = ctx.names[Kind.CONNECTOR]
        # In name order, so credential variables are named (and listed) the same each run.
        for obj in sorted(ctx.snapshot.connectors, key=lambda o: names[o.id]):
            name = names[obj.id]
            key = ResourceKey(Kind.CONNECTOR, name)
            document = envelope(Kind.CONNECTOR, name, live_id=obj.id)
            document["spec"] = connector_spec(obj.source, ctx=ctx, resource=key)
            header = f"Connector {quoted(obj.name)} ({obj.id})"
            found.append(Exported(key, document, header, FOLDER))
        return found


def connector_spec(
    source: Mapping[str, Any], *, ctx: Context, resource: ResourceKey, prefix: str = "credential"
) -> CommentedMap:
    """A live connector as a Connector spec; `prefix` is where its credential sits."""
    body = drop_server_managed(source, kind=Kind.CONNECTOR)
    body.pop("credential", None)
    values: dict[str, Any] = {}
    comments: dict[str, str] = {}
    for field in ORDER:
        value = _field(field, body, source=source, ctx=ctx)
        if value is not None:
            values[field] = value
    credential, comment = _credential(body, ctx=ctx, resource=resource, prefix=prefix)
    if credential:
        values["credential"] = credential
        comments["credential"] = comment
    left = sorted(set(body) - SPEC_FIELDS - {"access"})
    if left:
        ctx.notes.append(f"{resource}: left out fields osml does not manage: {', '.join(left)}")
    ordered = {field: values[field] for field in ORDER if field in values}
    return commented(ordered, comments)


def _field(field: str, body: Mapping[str, Any], *, source: Mapping[str, Any], ctx: Context) -> Any:
    if field == "version":
        return _version(body.get("version"))
    if field == "actions":
        actions = body.get("actions")
        return _actions(actions) if isinstance(actions, list) else None
    if field == "client_config":
        return _client_config(body.get("client_config"), version=ctx.version)
    if field in ("access_mode", "backend_roles"):
        if not access_control_on(ctx, "connector_access_control_enabled"):
            return None
        if field == "access_mode":
            access = source.get("access")
            return stored_access(access) if isinstance(access, str) else None
        roles = body.get("backend_roles")
        return list(roles) if isinstance(roles, list) and roles else None
    if field == "parameters":
        parameters = body.get("parameters")
        return dict(parameters) if isinstance(parameters, Mapping) and parameters else None
    value = body.get(field)
    return value if value not in (None, "") or field == "name" else None


def _version(value: Any) -> Any:
    """`"1"` is written `1`: the server stores both alike (§1.4)."""
    if isinstance(value, str) and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    return value


def _actions(actions: Iterable[Any]) -> CommentedSeq:
    result = CommentedSeq()
    for action in actions:
        if isinstance(action, Mapping):
            result.append(
                CommentedMap(
                    (field, action[field])
                    for field in ACTION_FIELDS
                    if action.get(field) is not None
                )
            )
    return result


def _client_config(value: Any, *, version: Version) -> dict[str, Any] | None:
    """Only the fields that differ from what the server fills in (§2.4)."""
    if not isinstance(value, Mapping):
        return None
    defaults = client_config_defaults(version)
    kept = {
        key: item
        for key, item in value.items()
        if key in defaults and item is not None and item != defaults[key]
    }
    return kept or None


def _credential(
    body: Mapping[str, Any], *, ctx: Context, resource: ResourceKey, prefix: str
) -> tuple[CommentedMap, str]:
    """`fromEnv` references for the credential keys the connector uses, and why those."""
    keys = sorted(set(_PLACEHOLDER.findall(_strings(body.get("actions"), body.get("headers")))))
    why = "keys inferred from the ${credential.*} placeholders; values cannot be read back"
    if body.get("protocol") == "aws_sigv4":
        parameters = body.get("parameters") or {}
        given = parameters if isinstance(parameters, Mapping) else {}
        extra = [k for k in SIGV4_PLACES if k not in given]
        keys = sorted({*keys, *SIGV4_KEYS, *extra})
        why = "aws_sigv4 keys inferred (a session_token is not known); values cannot be read back"
    if not keys and body.get("protocol") not in MCP and ctx.version.line >= CREDENTIAL_SINCE:
        keys = ["api_key"]
        why = "inferred: 2.19+ requires a credential and its keys cannot be read back"
    credential = CommentedMap()
    for key in keys:
        name = variable_name(resource.kind.value, resource.name, key, taken=ctx.taken_variables)
        ctx.variables.append(Variable(name, resource, f"{prefix}.{key}"))
        credential[key] = _flow({"fromEnv": name})
    return credential, why


def _flow(values: Mapping[str, Any]) -> CommentedMap:
    result = CommentedMap(values)
    result.fa.set_flow_style()
    return result


def _strings(*values: Any) -> str:
    """Every string inside `values`, joined (to look for placeholders)."""
    found: list[str] = []
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return "\n".join(found)
