"""The connector endpoints: create, get, search, update, delete (reference §2).

Registered by `ml.register`; each handler checks in the reference's order, stores connectors
in `.plugins-ml-connector` with credentials encrypted (`crypto.py`) and answers the shapes of
§2.6-§2.10 for the profile in force. Parsing rules live in `connector_parsing.py`; this module
must never return or log a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import ApiError, Response
from reconciler.sandbox.ml import access, crypto, failures, indices
from reconciler.sandbox.ml import connector_parsing as parsing

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.store import Doc

BASE = "/_plugins/_ml/connectors"
ORDER = (
    "name",
    "version",
    "description",
    "protocol",
    "parameters",
    "credential",
    "actions",
    "backend_roles",
    "owner",
    "access",
    "created_time",
    "last_updated_time",
    "client_config",
    "tenant_id",
    "provisioned_by",
)
_BLOCKING_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING")
REMOTE_INFERENCE = "plugins.ml_commons.remote_inference.enabled"


def register(router: Router) -> None:
    """Add the connector routes."""
    router.add("POST", f"{BASE}/_create", create)
    router.add("GET", f"{BASE}/_search", search)
    router.add("POST", f"{BASE}/_search", search)
    router.add("GET", f"{BASE}/{{connector_id}}", get)
    router.add("PUT", f"{BASE}/{{connector_id}}", update)
    router.add("DELETE", f"{BASE}/{{connector_id}}", delete)


def check_remote_inference(ctx: Context, *, always_400: bool = False) -> None:
    """§2.5 step 1: the (mis-named) remote-inference switch, 500 before 3.5, 400 after; the
    deploy path answers 400 on every version (§6.9)."""
    if ctx.settings.get(REMOTE_INFERENCE) is False:
        text = (
            "Remote Inference is currently disabled. To enable it, update the setting "
            '"plugins.ml_commons.remote_inference_enabled" to true.'
        )
        if always_400 or ctx.profile.remote_inference_disabled_status == 400:
            raise failures.illegal_argument(text)
        raise failures.illegal_state(text)


def create(ctx: Context, request: Request) -> Response:
    """POST /connectors/_create (§2.2-§2.6)."""
    check_remote_inference(ctx)
    if request.body is None:
        raise failures.io_failure("Create Connector request has empty body")
    body = indices.body_object(request)
    doc = validated(ctx, request, body)
    if body.get("dry_run") is True:
        return Response(200, {"connector_id": "dryRunConnector"})
    with ctx.lock:
        connector_id = indices.put(ctx, indices.CONNECTORS, seal(ctx, doc))
    return Response(200, {"connector_id": connector_id})


def validated(ctx: Context, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    """The connector document (plain credential) after every §2.5 check, in order."""
    profile = ctx.profile
    actions = parsing.parse_actions(profile, body.get("actions"))
    parsing.check_parameter_values(profile, body, raw=request.raw)
    if body.get("dry_run") is not True:
        parsing.check_required(profile, body)
        parsing.check_safe_text(
            profile, "Model connector name", parsing.text(body, "name"), required=True
        )
        parsing.check_safe_text(
            profile,
            "Model connector description",
            parsing.text(body, "description"),
            required=False,
        )
        if profile.provisioned_by:
            parsing.check_safe_text(
                profile,
                "Model connector provisioned_by field",
                parsing.text(body, "provisioned_by"),
                required=False,
            )
    doc = parsing.normalise(profile, body)
    doc["actions"] = actions or []
    parsing.check_header_placeholders(profile, doc["actions"])
    parsing.check_protocol_class(profile, doc.get("protocol"))
    if parsing.is_mcp(doc.get("protocol")):
        _check_mcp_enabled(ctx, doc)
    else:
        parsing.check_aws(
            doc, plain_credential=doc.get("credential") or {}, flavor=ctx.config.flavor
        )
        parsing.check_trusted(ctx, doc)
    doc.update(access.connector_fields(ctx, request, body))
    if profile.connector_timestamps:
        doc["created_time"] = doc["last_updated_time"] = indices.now_ms(ctx)
    return indices.ordered(doc, ORDER)


def _check_mcp_enabled(ctx: Context, doc: Mapping[str, Any]) -> None:
    # §2.5 step 4: only `mcp_sse` is gated by the setting (as HEAD does), with a 500.
    enabled = ctx.settings.get("plugins.ml_commons.mcp_connector_enabled")
    if doc.get("protocol") == "mcp_sse" and not enabled:
        raise failures.generic(
            "The MCP connector is not enabled. To enable, please update the setting "
            "plugins.ml_commons.mcp_connector_enabled"
        )


def seal(ctx: Context, doc: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` with its credential values encrypted (§1.1)."""
    sealed = dict(doc)
    sealed["credential"] = crypto.encrypt_map(ctx, doc.get("credential") or {})
    return sealed


def public_view(source: Mapping[str, Any]) -> dict[str, Any]:
    """A stored connector as GET answers it: credential removed, §2.7 key order."""
    return indices.ordered({k: v for k, v in source.items() if k != "credential"}, ORDER)


def load(ctx: Context, request: Request, connector_id: str) -> Doc:
    """The connector doc, or the §2.7 GET errors for the profile (incl. access denial)."""
    modern = ctx.profile.modern_status_codes
    if not ctx.store.index_exists(indices.CONNECTORS):
        if modern:
            raise failures.status(404, "Failed to find connector")
        raise failures.ml_not_found("Fail to find connector")
    doc = ctx.store.get(indices.CONNECTORS, connector_id)
    if doc is None:
        text = f"Failed to find connector with the provided connector id: {connector_id}"
        raise failures.status(404, text) if modern else failures.illegal_argument(text)
    control = access.connector_control(ctx, request)
    if not access.may_read(request.user, doc.source, control=control):
        text = "You don't have permission to access this connector"
        raise failures.status(403, text) if modern else failures.ml_validation(text)
    return doc


def get(ctx: Context, request: Request, *, connector_id: str) -> Response:
    """GET /connectors/{id} (§2.7): the object itself, no ID, no credential."""
    return Response(200, public_view(load(ctx, request, connector_id).source))


def search(ctx: Context, request: Request) -> Response:
    """GET|POST /connectors/_search (§2.8): credential always excluded."""
    extra = None
    if access.connector_control(ctx, request) and not access.is_admin(request.user):
        assert request.user is not None
        extra = access.read_filter(request.user)
    result = indices.search(
        ctx, request, indices.CONNECTORS, excludes=("credential",), extra_filter=extra
    )
    return Response(200, result)


def update(ctx: Context, request: Request, *, connector_id: str) -> Response:
    """PUT /connectors/{id} (§2.9)."""
    _check_update_available(ctx, request)
    if request.body is None:
        text = "Failed to update connector: Request body is empty"
        if ctx.profile.modern_status_codes:
            raise failures.parse_failure(text)
        raise failures.io_failure(text)
    body = indices.body_object(request)
    parsing.check_safe_text(
        ctx.profile, "Model connector name", parsing.text(body, "name"), required=False
    )
    parsing.check_safe_text(
        ctx.profile,
        "Model connector description",
        parsing.text(body, "description"),
        required=False,
    )
    with ctx.lock:
        doc = _load_for_update(ctx, request, connector_id)
        _refuse_if_deployed(ctx, connector_id)
        partial, merged = merge_update(ctx, doc.source, body)
        parsing.check_header_placeholders(ctx.profile, merged.get("actions") or [])
        if not parsing.is_mcp(merged.get("protocol")):  # as at create: MCP has no actions
            parsing.check_trusted(ctx, merged)
        partial["credential"] = crypto.encrypt_map(ctx, partial.get("credential") or {})
        if not partial["credential"]:
            del partial["credential"]
        result = ctx.store.update(indices.CONNECTORS, connector_id, partial)
    return Response(200, result)


def _check_update_available(ctx: Context, request: Request) -> None:
    mode = ctx.profile.update_connector
    if mode == "absent":
        raise failures.method_not_allowed(request, "DELETE, GET")
    if mode == "flag" and not ctx.settings.get("plugins.ml_commons.update_connector.enabled"):
        raise failures.illegal_state(
            "Update connector API is currently disabled. To enable it, update the setting "
            '"plugins.ml_commons.update_connector.enabled" to true.'
        )


def _load_for_update(ctx: Context, request: Request, connector_id: str) -> Doc:
    doc = indices.get_doc(ctx, indices.CONNECTORS, connector_id)
    if doc is None:
        text = f"Failed to find connector with the provided connector id: {connector_id}"
        if ctx.profile.modern_status_codes:
            raise failures.status(404, text)
        raise failures.illegal_argument(text)
    control = access.connector_control(ctx, request)
    if not access.may_read(request.user, doc.source, control=control):
        raise failures.illegal_argument(
            f"You don't have permission to update the connector, connector id: {connector_id}"
        )
    return doc


def _refuse_if_deployed(ctx: Context, connector_id: str) -> None:
    users = indices.docs_where(
        ctx,
        indices.MODELS,
        lambda s: (
            s.get("connector_id") == connector_id and s.get("model_state") in _BLOCKING_STATES
        ),
    )[:10]
    if users:
        ids = ", ".join(doc.id for doc in users)
        text = (
            f"{len(users)} models are still using this connector, please undeploy the models "
            f"first: [{ids}]"
        )
        if ctx.profile.modern_status_codes:
            raise failures.status(400, text)
        raise failures.ml_validation(text)


def merge_update(
    ctx: Context, old: Mapping[str, Any], body: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(partial document to write, in-memory merged connector) for an update body (§2.9)."""
    profile = ctx.profile
    fields = parsing.normalise(profile, body)
    partial: dict[str, Any] = {
        key: fields[key] for key in ("name", "description", "version", "protocol") if key in fields
    }
    merged = {**old, **partial}
    params = fields.get("parameters") or {}
    if params:
        partial["parameters"] = params
        old_params = old.get("parameters") or {}
        merged["parameters"] = (
            {**old_params, **params} if profile.parameters_merge_on_update else params
        )
    if fields.get("credential"):
        partial["credential"] = fields["credential"]
    for key in ("actions", "client_config"):
        if key in fields:
            partial[key] = merged[key] = fields[key]
    if isinstance(body.get("backend_roles"), list):
        partial["backend_roles"] = merged["backend_roles"] = list(body["backend_roles"])
    mode = access.access_mode(body, lower=False)
    if mode is not None:
        partial["access"] = merged["access"] = mode
    if profile.connector_timestamps:
        partial["last_updated_time"] = indices.now_ms(ctx)
    return partial, merged


def delete(ctx: Context, request: Request, *, connector_id: str) -> Response:
    """DELETE /connectors/{id} (§2.10)."""
    with ctx.lock:
        if access.connector_control(ctx, request) and not access.is_admin(request.user):
            _check_delete_access(ctx, request, connector_id)
        if not ctx.store.index_exists(indices.CONNECTORS):
            raise failures.status(404, "Failed to find connector")
        users = indices.docs_where(
            ctx, indices.MODELS, lambda s: s.get("connector_id") == connector_id
        )[:10]
        if users:
            raise _in_use(ctx, [doc.id for doc in users])
        return Response(200, ctx.store.delete(indices.CONNECTORS, connector_id))


def _check_delete_access(ctx: Context, request: Request, connector_id: str) -> None:
    doc = indices.get_doc(ctx, indices.CONNECTORS, connector_id)
    if doc is None:
        raise failures.status(
            404, f"Failed to find connector with the provided connector id: {connector_id}"
        )
    if not access.may_read(request.user, doc.source, control=True):
        raise failures.ml_validation("You are not allowed to delete this connector")


def _in_use(ctx: Context, model_ids: list[str]) -> ApiError:
    count = len(model_ids)
    if not ctx.profile.connector_delete_lists_ids:
        return failures.ml_validation(
            f"{count} models are still using this connector, please delete or update the "
            "models first!"
        )
    text = (
        f"{count} models are still using this connector, please delete or update the models "
        f"first: [{', '.join(model_ids)}]"
    )
    if ctx.profile.modern_status_codes:
        return failures.status(409, text)
    return failures.ml_validation(text)
