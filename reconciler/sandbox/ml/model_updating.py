"""Update Model (reference §6.8, 2.12+): the rules and texts of `UpdateModelTransportAction`.

Hooked in by `models.register`. Deployed models may be updated; a model that is deploying may
not. An inline connector is merged with update-connector semantics (§2.9), re-encrypted and
re-checked against the trusted endpoints; a move to another group takes that group's next
version. The partial document always carries `model_id`, so GET shows it after the first
update. This module must not deploy or undeploy anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import Response
from reconciler.sandbox.ml import (
    access,
    connectors,
    crypto,
    failures,
    indices,
    model_groups,
    model_parsing,
)
from reconciler.sandbox.ml import connector_parsing as parsing

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.store import Doc

_PLAIN_FIELDS = ("model_config", "guardrails")


def register(router: Router) -> None:
    """Add `PUT /models/{id}` (answered 405 before 2.12)."""
    router.add("PUT", "/_plugins/_ml/models/{model_id}", update)


def update(ctx: Context, request: Request, *, model_id: str) -> Response:
    """PUT /models/{id}."""
    if not ctx.profile.update_model:
        raise failures.method_not_allowed(request, "DELETE, GET")
    body = _checked_body(ctx, request)
    with ctx.lock:
        doc = _load(ctx, model_id)
        partial = _simple_fields(ctx, body)
        partial.update(_connector_change(ctx, request, doc, body))
        partial.update(_group_change(ctx, request, doc, body))
        partial["last_updated_time"] = indices.now_ms(ctx)
        partial["model_id"] = model_id
        result = ctx.store.update(indices.MODELS, model_id, partial)
    return Response(200, result)


def _checked_body(ctx: Context, request: Request) -> dict[str, Any]:
    if request.body is None:
        raise failures.illegal_argument("Update model request has empty body")
    body = indices.body_object(request)
    if body.get("connector_id") is not None and body.get("connector") is not None:
        raise failures.illegal_argument(
            "Model cannot have both stand-alone connector and internal connector. Please check "
            "your update input body."
        )
    parsing.check_safe_text(ctx.profile, "Model Name", parsing.text(body, "name"), required=False)
    parsing.check_safe_text(
        ctx.profile, "Model Description", parsing.text(body, "description"), required=False
    )
    if ctx.profile.embedding_config_check_on_update:
        model_parsing.check_model_config(body.get("model_config"))
    return body


def _load(ctx: Context, model_id: str) -> Doc:
    doc = indices.get_doc(ctx, indices.MODELS, model_id)
    if doc is None:
        raise failures.status(
            404, f"Failed to find model to update with the provided model id: {model_id}"
        )
    algorithm = str(doc.source.get("algorithm", "REMOTE"))
    if algorithm not in ("REMOTE", "TEXT_EMBEDDING"):
        raise failures.status(
            403, f"The function category {algorithm} is not supported at this time."
        )
    if doc.source.get("model_state") in ("DEPLOYING", "LOADING"):
        raise failures.status(
            409,
            "Model is deploying. Please wait for the model to complete deployment. "
            f"model ID {model_id}",
        )
    return doc


def _simple_fields(ctx: Context, body: Mapping[str, Any]) -> dict[str, Any]:
    profile = ctx.profile
    partial: dict[str, Any] = {}
    for key in ("name", "description"):
        if parsing.text(body, key) is not None:
            partial[key] = parsing.text(body, key)
    partial.update({key: body[key] for key in _PLAIN_FIELDS if body.get(key) is not None})
    if profile.model_enable_fields:
        if isinstance(body.get("is_enabled"), bool):
            partial["is_enabled"] = body["is_enabled"]
        if (limiter := model_parsing.rate_limiter(body)) is not None:
            partial["rate_limiter"] = limiter
    if profile.deploy_setting and (setting := model_parsing.deploy_setting(ctx, body)) is not None:
        partial["deploy_setting"] = setting
    if profile.model_interface and (face := model_parsing.interface(body)) is not None:
        partial["interface"] = face
    return partial


def _connector_change(
    ctx: Context, request: Request, doc: Doc, body: Mapping[str, Any]
) -> dict[str, Any]:
    new_id = parsing.text(body, "connector_id")
    if new_id is not None:
        if doc.source.get("connector_id") is None:
            raise failures.illegal_argument(
                "This remote does not have a connector_id field, maybe it uses an internal "
                "connector."
            )
        _check_connector_access(ctx, request, new_id)
        return {"connector_id": new_id}
    raw = body.get("connector")
    if not isinstance(raw, Mapping):
        return {}
    old = doc.source.get("connector")
    if not isinstance(old, Mapping):
        if ctx.profile.safe_text:
            raise failures.illegal_argument(
                "Cannot update connector settings for this model. The model was created with a "
                "connector_id and does not have an inline connector."
            )
        raise failures.null_pointer('Cannot invoke "Connector.update()" because connector is null')
    partial, merged = connectors.merge_update(ctx, old, raw)
    parsing.check_trusted(ctx, merged)
    if partial.get("credential"):
        partial["credential"] = crypto.encrypt_map(ctx, partial["credential"])
    return {"connector": partial}


def _check_connector_access(ctx: Context, request: Request, connector_id: str) -> None:
    # With connector access control off the new connector's existence is not checked (§6.8).
    if not access.connector_control(ctx, request) or access.is_admin(request.user):
        return
    doc = indices.get_doc(ctx, indices.CONNECTORS, connector_id)
    if doc is None or not access.may_read(request.user, doc.source, control=True):
        raise failures.status(
            403, f"You don't have permission to update the connector, connector id: {connector_id}"
        )


def _group_change(
    ctx: Context, request: Request, doc: Doc, body: Mapping[str, Any]
) -> dict[str, Any]:
    group_id = parsing.text(body, "model_group_id")
    if group_id is None or group_id == doc.source.get("model_group_id"):
        return {}
    target = indices.get_doc(ctx, indices.MODEL_GROUPS, group_id)
    if target is None:
        raise failures.status(
            404,
            "Failed to find the model group with the provided model group id in the update "
            f"model input, MODEL_GROUP_ID: {group_id}",
        )
    control = access.model_control(ctx, request)
    if not access.may_read(request.user, target.source, control=control):
        raise failures.status(
            403,
            "User Doesn't have privilege to re-link this model to the target model group due to "
            f"no access to the target model group with model group ID {group_id}",
        )
    version = model_groups.next_version(ctx, group_id)
    return {"model_group_id": group_id, "model_version": str(version)}
