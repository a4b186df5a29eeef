"""The remote-model endpoints: register, get, search, delete (reference §6.1-§6.7, §6.11).

Registered by `ml.register` (update lives in `model_updating.py`, deploy/undeploy in
`deploying.py`). Register resolves the connector (standalone or inline, §6.4) and the model
group (§6.3), bumps the group's `latest_version`, records a REGISTER_MODEL task (§6.5) and may
start a deploy. Stored models never expose inline credentials. Only remote models exist here:
local-model registration is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import Response
from reconciler.sandbox.ml import (
    access,
    connectors,
    deploying,
    failures,
    indices,
    model_groups,
    model_parsing,
    tasks,
)
from reconciler.sandbox.ml import connector_parsing as parsing

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.store import Doc

BASE = "/_plugins/_ml/models"
ORDER = (
    "name",
    "model_group_id",
    "algorithm",
    "model_version",
    "model_content",
    "user",
    "description",
    "model_format",
    "model_state",
    "model_content_size_in_bytes",
    "model_content_hash_value",
    "model_config",
    "deploy_setting",
    "is_enabled",
    "is_controller_enabled",
    "rate_limiter",
    "created_time",
    "last_updated_time",
    "last_registered_time",
    "last_deployed_time",
    "last_undeployed_time",
    "model_id",
    "auto_redeploy_retry_times",
    "chunk_number",
    "total_chunks",
    "planning_worker_node_count",
    "current_worker_node_count",
    "planning_worker_nodes",
    "deploy_to_all_nodes",
    "is_hidden",
    "connector",
    "connector_id",
    "guardrails",
    "interface",
    "tenant_id",
    "provisioned_by",
)
SEARCH_EXCLUDES = ("connector.credential", "model_content", "content", "ui_metadata")
_FUNCTIONS = (
    "REMOTE",
    "TEXT_EMBEDDING",
    "SPARSE_ENCODING",
    "SPARSE_TOKENIZE",
    "QUESTION_ANSWERING",
    "TEXT_SIMILARITY",
    "KMEANS",
    "LINEAR_REGRESSION",
)
# §6.4: Bedrock models that get a preset `interface` on 2.16+ (schemas simplified here).
_PRESET_MODELS = (
    "ai21.j2-mid-v1",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-v2",
    "cohere.embed-english-v3",
    "cohere.embed-multilingual-v3",
    "amazon.titan-embed-text-v1",
    "amazon.titan-embed-image-v1",
)


def register(router: Router) -> None:
    """Add the model routes (register, get, search, delete)."""
    for path in ("_register", "_upload"):
        router.add("POST", f"{BASE}/{path}", register_model)
    router.add("GET", f"{BASE}/_search", search)
    router.add("POST", f"{BASE}/_search", search)
    router.add("GET", f"{BASE}/{{model_id}}", get)
    router.add("DELETE", f"{BASE}/{{model_id}}", delete)


def public_view(source: Mapping[str, Any]) -> dict[str, Any]:
    """A stored model as GET answers it: inline credential removed, §6.6 key order."""
    view = dict(source)
    if isinstance(view.get("connector"), Mapping):
        view["connector"] = connectors.public_view(view["connector"])
    return indices.ordered(view, ORDER)


def load(ctx: Context, model_id: str) -> Doc:
    """The model doc or the §6.6 GET errors."""
    if not ctx.store.index_exists(indices.MODELS):
        raise failures.status(404, "Fail to find model")
    doc = ctx.store.get(indices.MODELS, model_id)
    if doc is None:
        raise failures.status(404, f"Failed to find model with the provided model id: {model_id}")
    return doc


def get(ctx: Context, request: Request, *, model_id: str) -> Response:
    """GET /models/{id}."""
    doc = load(ctx, model_id)
    model_groups.check_model_access(ctx, request, doc.source)
    return Response(200, public_view(doc.source))


def search(ctx: Context, request: Request) -> Response:
    """GET|POST /models/_search (§6.7): credentials excluded, hidden models filtered 2.12+."""
    filters: list[dict[str, Any]] = []
    if ctx.profile.is_hidden:
        filters.append({"bool": {"must_not": [{"term": {"is_hidden": True}}]}})
    if access.model_control(ctx, request) and not access.is_admin(request.user):
        filters.append(_group_filter(ctx, request))
    extra = {"bool": {"filter": filters}} if filters else None
    result = indices.search(
        ctx, request, indices.MODELS, excludes=SEARCH_EXCLUDES, extra_filter=extra
    )
    return Response(200, result)


def _group_filter(ctx: Context, request: Request) -> dict[str, Any]:
    visible = indices.docs_where(
        ctx,
        indices.MODEL_GROUPS,
        lambda s: access.may_read(request.user, s, control=True),
    )
    return {
        "bool": {
            "should": [
                {"terms": {"model_group_id": [doc.id for doc in visible]}},
                {"bool": {"must_not": [{"exists": {"field": "model_group_id"}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def register_model(ctx: Context, request: Request) -> Response:
    """POST /models/_register[?deploy=true] (§6.2-§6.5)."""
    body = indices.body_object(request)
    name = _check_register_input(ctx, body)
    connectors.check_remote_inference(ctx)
    with ctx.lock:
        connector_fields = _connector_fields(ctx, request, body)
        group_id = _resolve_group(ctx, request, body, name=name)
        version = model_groups.next_version(ctx, group_id)
        doc = _model_doc(ctx, body, name=name, group_id=group_id, version=version)
        doc.update(connector_fields)
        doc.update(_preset_interface(ctx, doc, body))
        task_id = tasks.create(ctx, task_type="REGISTER_MODEL", state="CREATED", is_async=False)
        model_id = indices.put(ctx, indices.MODELS, indices.ordered(doc, ORDER))
        _complete_register(ctx, task_id, model_id)
    if request.flag("deploy"):
        deploying.start(ctx, model_id)
    answer = {"task_id": task_id, "status": "CREATED"}
    if ctx.profile.sync_register:
        answer["model_id"] = model_id
    return Response(200, answer)


def _complete_register(ctx: Context, task_id: str, model_id: str) -> None:
    if ctx.profile.sync_register:
        tasks.finish(ctx, task_id, state="COMPLETED", model_id=model_id)
        return

    # 2.9-2.10 registration is asynchronous: the caller must poll the task for `model_id`.
    def complete() -> None:
        with ctx.lock:
            tasks.finish(ctx, task_id, state="COMPLETED", model_id=model_id)

    ctx.scheduler.call_later(ctx.config.deploy_delay, complete)


def _check_register_input(ctx: Context, body: Mapping[str, Any]) -> str:
    function = (parsing.text(body, "function_name") or "TEXT_EMBEDDING").upper()
    if function not in _FUNCTIONS:
        raise failures.illegal_argument("Wrong function name")
    name = parsing.text(body, "name")
    if name is None:
        raise failures.illegal_argument("model name is null")
    if function != "REMOTE":
        if body.get("model_format") is None:
            raise failures.illegal_argument("model format is null")
        raise failures.illegal_argument(
            "The sandbox emulates remote models only; register with function_name: remote"
        )
    parsing.check_safe_text(ctx.profile, "Model name", name, required=True)
    parsing.check_safe_text(
        ctx.profile, "Model description", parsing.text(body, "description"), required=False
    )
    if ctx.profile.provisioned_by:
        parsing.check_safe_text(
            ctx.profile,
            "Model provisioned_by field",
            parsing.text(body, "provisioned_by"),
            required=False,
        )
    if ctx.profile.embedding_config_check:
        model_parsing.check_model_config(body.get("model_config"))
    return name


def _connector_fields(ctx: Context, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    connector_id = parsing.text(body, "connector_id")
    if connector_id is not None:
        _check_connector_id(ctx, request, body, connector_id)
        return {"connector_id": connector_id}
    raw = body.get("connector")
    if not isinstance(raw, Mapping):
        raise failures.illegal_argument(
            "You must provide connector content when creating a remote model without connector id!"
        )
    return {"connector": inline_connector(ctx, raw, source=request.raw)}


def inline_connector(
    ctx: Context, raw: Mapping[str, Any], *, source: bytes = b""
) -> dict[str, Any]:
    """An inline connector validated (§6.4) and stored with its credential encrypted;
    `source` is the request body as sent, for the 2.9 parameter error's location."""
    actions = parsing.parse_actions(ctx.profile, raw.get("actions")) or []
    if not any(a["action_type"] == "PREDICT" and a.get("url") for a in actions):
        raise failures.illegal_argument(
            "Connector endpoint is required when creating a remote model without connector id!"
        )
    parsing.check_parameter_values(ctx.profile, raw, raw=source)
    doc = parsing.normalise(ctx.profile, raw)
    doc["actions"] = actions
    parsing.check_header_placeholders(ctx.profile, actions)
    parsing.check_protocol_class(ctx.profile, doc.get("protocol"))
    parsing.check_aws(doc, plain_credential=doc.get("credential") or {}, flavor=ctx.config.flavor)
    parsing.check_trusted(ctx, doc)
    return indices.ordered(connectors.seal(ctx, doc), connectors.ORDER)


def _check_connector_id(
    ctx: Context, request: Request, body: Mapping[str, Any], connector_id: str
) -> None:
    control = access.connector_control(ctx, request) and not access.is_admin(request.user)
    fetch = control or (ctx.profile.preset_interface and body.get("interface") is None)
    if not fetch:
        return
    if not ctx.store.index_exists(indices.CONNECTORS):
        raise failures.status(404, "Failed to find connector")
    doc = ctx.store.get(indices.CONNECTORS, connector_id)
    if doc is None:
        raise failures.status(404, f"Failed to find connector:{connector_id}")
    if parsing.is_mcp(doc.source.get("protocol")):
        raise failures.illegal_argument(f"Cannot Create a Model from MCP Connector: {connector_id}")
    if control and not access.may_read(request.user, doc.source, control=True):
        raise failures.illegal_argument(
            f"You don't have permission to use the connector provided, connector id: {connector_id}"
        )


def _resolve_group(ctx: Context, request: Request, body: Mapping[str, Any], *, name: str) -> str:
    group_id = parsing.text(body, "model_group_id")
    if group_id is not None:
        _check_given_group(ctx, request, group_id)
        return group_id
    group_body = {
        k: body.get(k)
        for k in ("description", "access_mode", "backend_roles", "add_all_backend_roles")
    }
    if ctx.profile.group_reuse_by_name:
        existing = model_groups.find_by_name(ctx, name)
        if existing is not None:
            control = access.model_control(ctx, request)
            if not access.may_read(request.user, existing.source, control=control):
                raise failures.illegal_argument(
                    f"The name {{{name}}} you provided is unavailable because it is used by "
                    f"another model group with id {{{existing.id}}} to which you do not have "
                    "access. Please provide a different name."
                )
            return existing.id
    return model_groups.create_group(ctx, request, group_body, name=name)


def _check_given_group(ctx: Context, request: Request, group_id: str) -> None:
    control = access.model_control(ctx, request) and not access.is_admin(request.user)
    doc = indices.get_doc(ctx, indices.MODEL_GROUPS, group_id)
    if control:
        if doc is None:
            raise failures.ml_not_found("Fail to find model group")
        if not access.may_read(request.user, doc.source, control=True):
            raise failures.illegal_argument(
                "You don't have permissions to perform this operation on this model."
            )
        return
    if not ctx.store.index_exists(indices.MODEL_GROUPS):
        raise failures.status(404, "Model group not found")
    if doc is None:
        raise failures.ml_not_found(f"Model Group Response is empty for {group_id}")


def _model_doc(
    ctx: Context, body: Mapping[str, Any], *, name: str, group_id: str, version: int
) -> dict[str, Any]:
    profile, now = ctx.profile, indices.now_ms(ctx)
    doc: dict[str, Any] = {
        "name": name,
        "model_group_id": group_id,
        "algorithm": "REMOTE",
        "model_version": str(version),
        "description": parsing.text(body, "description"),
        "model_state": "REGISTERED",
        "model_config": body.get("model_config"),
        "created_time": now,
        "last_updated_time": now,
        "last_registered_time": now,
    }
    if profile.model_enable_fields:
        doc.update(
            is_enabled=body.get("is_enabled"),
            rate_limiter=model_parsing.rate_limiter(body),
            is_hidden=False,
        )
    if profile.deploy_setting:
        doc.update(
            deploy_setting=model_parsing.deploy_setting(ctx, body),
            guardrails=body.get("guardrails"),
        )
    if profile.model_interface:
        doc["interface"] = model_parsing.interface(body)
    if profile.provisioned_by:
        doc["provisioned_by"] = parsing.text(body, "provisioned_by")
    return doc


def _preset_interface(
    ctx: Context, doc: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    if not ctx.profile.preset_interface or body.get("interface") is not None:
        return {}
    connector = doc.get("connector")
    if connector is None and doc.get("connector_id"):
        stored = indices.get_doc(ctx, indices.CONNECTORS, str(doc["connector_id"]))
        connector = stored.source if stored else None
    params = (connector or {}).get("parameters") or {}
    if params.get("service_name") != "bedrock" or params.get("model") not in _PRESET_MODELS:
        return {}
    schema = '{"type":"object","properties":{"parameters":{"type":"object"}}}'
    return {"interface": {"input": schema, "output": '{"type":"object"}'}}


def delete(ctx: Context, request: Request, *, model_id: str) -> Response:
    """DELETE /models/{id} (§6.11)."""
    with ctx.lock:
        doc = indices.get_doc(ctx, indices.MODELS, model_id)
        if doc is None:
            raise failures.status(404, "Failed to find model")
        model_groups.check_model_access(ctx, request, doc.source)
        if doc.source.get("model_state") in deploying.UNDELETABLE:
            text = (
                "Model cannot be deleted in deploying or deployed state. Try undeploy model "
                "first then delete"
            )
            if ctx.profile.model_delete_status == 400:
                raise failures.status(400, text)
            raise failures.generic(text)
        result = ctx.store.delete(indices.MODELS, model_id)
        _maybe_delete_group(ctx, doc.source.get("model_group_id"))
    return Response(200, result)


def _maybe_delete_group(ctx: Context, group_id: Any) -> None:
    # 2.9-2.10 deleted a group together with its last model (§5.7).
    if not ctx.profile.group_auto_delete or not isinstance(group_id, str):
        return
    left = indices.docs_where(ctx, indices.MODELS, lambda s: s.get("model_group_id") == group_id)
    if not left and indices.get_doc(ctx, indices.MODEL_GROUPS, group_id) is not None:
        ctx.store.delete(indices.MODEL_GROUPS, group_id)
