"""The model-group endpoints: register, get, search, update, delete (reference §5).

Registered by `ml.register`. Groups live in `.plugins-ml-model-group`; names are unique on the
exact `name` (checked over every group, visible or not); `latest_version` is bumped by the
model handlers through `next_version`. Texts and statuses follow the profile in force. This
module must not touch models except to count them before a delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import Response
from reconciler.sandbox.ml import access, failures, indices
from reconciler.sandbox.ml.connector_parsing import check_safe_text, text

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.store import Doc

BASE = "/_plugins/_ml/model_groups"
ORDER = (
    "name",
    "latest_version",
    "description",
    "backend_roles",
    "owner",
    "access",
    "model_group_id",
    "created_time",
    "last_updated_time",
    "tenant_id",
)
_OLD_NAME_TAKEN = (
    "The name you provided is already being used by another model with ID: {id}. "
    "Please provide a different name"
)


def register(router: Router) -> None:
    """Add the model-group routes."""
    router.add("POST", f"{BASE}/_register", register_group)
    router.add("GET", f"{BASE}/_search", search)
    router.add("POST", f"{BASE}/_search", search)
    router.add("GET", f"{BASE}/{{model_group_id}}", get)
    router.add("PUT", f"{BASE}/{{model_group_id}}", update)
    router.add("DELETE", f"{BASE}/{{model_group_id}}", delete)


def find_by_name(ctx: Context, name: str) -> Doc | None:
    """The group whose exact name is `name` (term on `name.keyword`, §5.3), if any."""
    found = indices.docs_where(ctx, indices.MODEL_GROUPS, lambda s: s.get("name") == name)
    return found[0] if found else None


def create_group(ctx: Context, request: Request, body: Mapping[str, Any], *, name: str) -> str:
    """Validate and store a new group named `name`; returns its ID. Callers hold `ctx.lock`."""
    taken = find_by_name(ctx, name)
    if taken is not None:
        raise failures.illegal_argument(ctx.profile.group_name_taken.format(id=taken.id))
    now = indices.now_ms(ctx)
    doc: dict[str, Any] = {
        "name": name,
        "latest_version": 0,
        "description": text(body, "description"),
        **access.group_fields(ctx, request, body),
        "created_time": now,
        "last_updated_time": now,
    }
    return indices.put(ctx, indices.MODEL_GROUPS, indices.ordered(doc, ORDER))


def register_group(ctx: Context, request: Request) -> Response:
    """POST /model_groups/_register (§5.2, §5.3)."""
    body = indices.body_object(request)
    name = text(body, "name")
    if name is None:
        code, message = ctx.profile.name_missing_group
        raise failures.null_pointer(message) if code == 500 else failures.illegal_argument(message)
    check_safe_text(ctx.profile, "Model group name", name, required=True)
    check_safe_text(
        ctx.profile, "Model group description", text(body, "description"), required=False
    )
    with ctx.lock:
        group_id = create_group(ctx, request, body, name=name)
    return Response(200, {"model_group_id": group_id, "status": "CREATED"})


def load(ctx: Context, request: Request, group_id: str) -> Doc:
    """The group doc, or the §5.4 GET errors."""
    if not ctx.store.index_exists(indices.MODEL_GROUPS):
        code, message = ctx.profile.group_index_missing
        raise failures.status(404, message) if code == 404 else failures.ml_not_found(message)
    doc = ctx.store.get(indices.MODEL_GROUPS, group_id)
    if doc is None:
        raise failures.status(
            404, f"Failed to find model group with the provided model group id: {group_id}"
        )
    if not access.may_read(request.user, doc.source, control=access.model_control(ctx, request)):
        raise failures.status(
            403, "User doesn't have privilege to perform this operation on this model group"
        )
    return doc


def get(ctx: Context, request: Request, *, model_group_id: str) -> Response:
    """GET /model_groups/{id} (2.12+, §5.4); before 2.12 only PUT and DELETE exist there."""
    if not ctx.profile.get_model_group:
        raise failures.method_not_allowed(request, "DELETE, PUT")
    return Response(200, indices.ordered(load(ctx, request, model_group_id).source, ORDER))


def check_model_access(ctx: Context, request: Request, source: Mapping[str, Any]) -> None:
    """§6.6: with model access control, the caller must be able to read the model's group."""
    if not access.model_control(ctx, request) or access.is_admin(request.user):
        return
    group_id = source.get("model_group_id")
    group = indices.get_doc(ctx, indices.MODEL_GROUPS, str(group_id)) if group_id else None
    if group is not None and not access.may_read(request.user, group.source, control=True):
        text = "User doesn't have privilege to perform this operation on this model"
        if ctx.profile.modern_status_codes:
            raise failures.status(403, text)
        raise failures.ml_validation(text)


def search(ctx: Context, request: Request) -> Response:
    """GET|POST /model_groups/_search (§5.5)."""
    extra = None
    if access.model_control(ctx, request) and not access.is_admin(request.user):
        assert request.user is not None
        extra = access.read_filter(request.user)
    return Response(200, indices.search(ctx, request, indices.MODEL_GROUPS, extra_filter=extra))


def next_version(ctx: Context, group_id: str) -> int:
    """Bump the group's `latest_version` for a newly registered/moved model; returns it.
    Callers hold `ctx.lock`, which stands in for the server's seq_no optimistic locking."""
    doc = ctx.store.get(indices.MODEL_GROUPS, group_id)
    assert doc is not None
    version = int(doc.source.get("latest_version", 0)) + 1
    partial = {"latest_version": version, "last_updated_time": indices.now_ms(ctx)}
    ctx.store.update(indices.MODEL_GROUPS, group_id, partial)
    return version


def update(ctx: Context, request: Request, *, model_group_id: str) -> Response:
    """PUT /model_groups/{id} (§5.6)."""
    if request.body is None:
        raise failures.io_failure("Model group request has empty body")
    body = indices.body_object(request)
    check_safe_text(ctx.profile, "Model group name", text(body, "name"), required=False)
    check_safe_text(
        ctx.profile, "Model group description", text(body, "description"), required=False
    )
    with ctx.lock:
        doc = indices.get_doc(ctx, indices.MODEL_GROUPS, model_group_id)
        if doc is None:
            raise failures.status(
                404,
                f"Failed to find model group with the provided model group id: {model_group_id}",
            )
        partial = _update_fields(ctx, request, doc, body)
        ctx.store.update(indices.MODEL_GROUPS, model_group_id, partial)
    return Response(200, {"status": "Updated"})


def _update_fields(
    ctx: Context, request: Request, doc: Doc, body: Mapping[str, Any]
) -> dict[str, Any]:
    partial: dict[str, Any] = {}
    partial.update(_access_update(ctx, request, doc, body))
    name = text(body, "name")
    if name and name.strip() and name != doc.source.get("name"):
        taken = find_by_name(ctx, name)
        if taken is not None:
            raise failures.illegal_argument(_OLD_NAME_TAKEN.format(id=taken.id))
        partial["name"] = name
    description = text(body, "description")
    if description and description.strip():
        partial["description"] = description
    partial["last_updated_time"] = indices.now_ms(ctx)
    return partial


def _access_update(
    ctx: Context, request: Request, doc: Doc, body: Mapping[str, Any]
) -> dict[str, Any]:
    given = (
        body.get("access_mode") is not None
        or body.get("add_all_backend_roles") is not None
        or bool(body.get("backend_roles"))
    )
    if not access.model_control(ctx, request):
        if given:
            raise failures.illegal_argument(
                "You cannot specify model access control parameters because the Security plugin "
                "or model access control is disabled on your cluster."
            )
        return {}
    user = request.user
    assert user is not None
    owner = doc.source.get("owner") or {}
    is_owner = isinstance(owner, dict) and owner.get("name") == user.name
    if given and not (is_owner or access.is_admin(user)):
        raise failures.illegal_argument("Only owner or admin can update access control data.")
    if not access.may_read(user, doc.source, control=True):
        raise failures.illegal_argument("You don't have permission to update this model group.")
    if not given:
        return {}
    fields = access.group_fields(ctx, request, body)
    mode = fields["access"]
    roles = fields.get("backend_roles", []) if mode == "restricted" else []
    return {"access": mode, "backend_roles": roles}


def delete(ctx: Context, request: Request, *, model_group_id: str) -> Response:
    """DELETE /model_groups/{id} (§5.7)."""
    with ctx.lock:
        if access.model_control(ctx, request) and not access.is_admin(request.user):
            doc = indices.get_doc(ctx, indices.MODEL_GROUPS, model_group_id)
            if doc is None:
                raise failures.ml_not_found("Fail to find model group")
            if not access.may_read(request.user, doc.source, control=True):
                raise failures.ml_validation(
                    "User doesn't have privilege to delete this model group"
                )
        members = indices.docs_where(
            ctx, indices.MODELS, lambda s: s.get("model_group_id") == model_group_id
        )
        if members:
            message = "Cannot delete the model group when it has associated model versions"
            if ctx.profile.group_delete_conflict:
                raise failures.status(409, message)
            raise failures.ml_validation(message)
        if not ctx.store.index_exists(indices.MODEL_GROUPS):
            raise failures.status(404, "Failed to find model group index")
        return Response(200, ctx.store.delete(indices.MODEL_GROUPS, model_group_id))
