"""Connector and model-group access control (reference §1.6, §2.5, §2.7, §5.3, §5.6).

Connector, model-group and model handlers call this to decide, for a request, whether access
control is in force, which `owner`/`access`/`backend_roles` a new document gets, whether a user
may read a document and which filter restricts a search. Access control is in force only when
the sandbox runs with security (`request.user` set) AND the matching setting is on; otherwise
access fields in bodies are refused. This module raises only the §2.5/§5.3 400s; it never
reads documents itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.ml import failures

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, User

_CONNECTOR_SETTING = "plugins.ml_commons.connector_access_control_enabled"
_MODEL_SETTING = "plugins.ml_commons.model_access_control_enabled"
_ACCESS_MODES = ("public", "private", "restricted")


def is_admin(user: User | None) -> bool:
    """Admin = a user whose roles contain `all_access` (§1.6)."""
    return user is not None and "all_access" in user.roles


def connector_control(ctx: Context, request: Request) -> bool:
    """Whether connector access control is in force for this request (mode 3 of §1.6)."""
    return request.user is not None and bool(ctx.settings.get(_CONNECTOR_SETTING))


def model_control(ctx: Context, request: Request) -> bool:
    """Whether model(-group) access control is in force for this request."""
    return request.user is not None and bool(ctx.settings.get(_MODEL_SETTING))


def owner_of(user: User) -> dict[str, Any]:
    """The Security-plugin user object stored as `owner` (§2.7)."""
    return {
        "name": user.name,
        "backend_roles": list(user.backend_roles),
        "roles": list(user.roles),
        "custom_attribute_names": [],
        "user_requested_tenant": None,
    }


def access_mode(body: Mapping[str, Any], *, lower: bool) -> str | None:
    """`access_mode` as the server parses it: unknown values silently become None (§1.4)."""
    raw = body.get("access_mode")
    if not isinstance(raw, str):
        return None
    value = raw.lower() if lower else raw
    return value if value in _ACCESS_MODES else None


def _given(body: Mapping[str, Any]) -> bool:
    return (
        body.get("access_mode") is not None
        or body.get("add_all_backend_roles") is not None
        or bool(body.get("backend_roles"))
    )


def connector_fields(ctx: Context, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    """The access fields a new connector stores, or the §2.5 step 6 error."""
    if not connector_control(ctx, request):
        if _given(body):
            raise failures.illegal_argument(
                "You cannot specify connector access control parameters because the Security "
                "plugin or connector access control is disabled on your cluster."
            )
        return {}
    user = request.user
    assert user is not None
    roles, add_all = (
        list(body.get("backend_roles") or []),
        body.get("add_all_backend_roles") is True,
    )
    if is_admin(user) and add_all:
        raise failures.illegal_argument("Admin can't add all backend roles")
    mode = access_mode(body, lower=False) or ("restricted" if roles or add_all else "private")
    _check_connector_roles(user, mode, roles=roles, add_all=add_all)
    stored_roles = list(user.backend_roles) if add_all else roles
    return {"owner": owner_of(user), "access": mode, "backend_roles": stored_roles}


def _check_connector_roles(user: User, mode: str, *, roles: list[str], add_all: bool) -> None:
    if mode in ("public", "private") and roles:
        raise failures.illegal_argument(
            "You can specify backend roles only for a connector with the restricted access mode."
        )
    if mode != "restricted":
        return
    if add_all and roles:
        raise failures.illegal_argument(
            "You can't specify backend roles and add all backend roles to true at same time."
        )
    if add_all and not user.backend_roles:
        raise failures.illegal_argument(
            "You must have at least one backend role to create a connector."
        )
    if not add_all and not roles:
        raise failures.illegal_argument(
            "You must specify at least one backend role or make the connector public/private "
            "for registering it."
        )
    if not is_admin(user) and not set(roles) <= set(user.backend_roles):
        raise failures.illegal_argument("You don't have the backend roles specified.")


def group_fields(ctx: Context, request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    """The access fields a new model group stores, or the §5.3 error."""
    if not model_control(ctx, request):
        if _given(body):
            raise failures.illegal_argument(
                "You cannot specify model access control parameters because the Security plugin "
                "or model access control is disabled on your cluster."
            )
        return {"access": "public"}
    user = request.user
    assert user is not None
    roles, add_all = (
        list(body.get("backend_roles") or []),
        body.get("add_all_backend_roles") is True,
    )
    mode = access_mode(body, lower=True)
    if mode is None:
        _refuse_both(roles, add_all)
        mode = "restricted" if roles or add_all else "private"
    _check_group_roles(user, mode, roles=roles, add_all=add_all)
    stored_roles = list(user.backend_roles) if add_all else roles
    fields: dict[str, Any] = {"owner": owner_of(user), "access": mode}
    if stored_roles:
        fields["backend_roles"] = stored_roles
    return fields


def _refuse_both(roles: list[str], add_all: bool) -> None:
    if roles and add_all:
        raise failures.illegal_argument(
            "You cannot specify backend roles and add all backend roles at the same time."
        )


def _check_group_roles(user: User, mode: str, *, roles: list[str], add_all: bool) -> None:
    if mode in ("public", "private"):
        if roles or add_all:
            raise failures.illegal_argument(
                "You can specify backend roles only for a model group with the restricted "
                "access mode."
            )
        return
    if is_admin(user) and add_all:
        raise failures.illegal_argument(
            "Admin users cannot add all backend roles to a model group."
        )
    if not is_admin(user) and not user.backend_roles:
        raise failures.illegal_argument(
            "You must have at least one backend role to register a restricted model group."
        )
    if not roles and not add_all:
        raise failures.illegal_argument(
            "You must specify one or more backend roles or add all backend roles to register a "
            "restricted model group."
        )
    _refuse_both(roles, add_all)
    if not is_admin(user) and not set(roles) <= set(user.backend_roles):
        raise failures.illegal_argument("You don't have the backend roles specified.")


def may_read(user: User | None, source: Mapping[str, Any], *, control: bool) -> bool:
    """The read rule of §2.7 (`hasPermission`), shared by connectors and model groups."""
    if not control or user is None or is_admin(user):
        return True
    owner = source.get("owner")
    access = source.get("access")
    if not owner or access == "public":
        return True
    if access == "private":
        return bool(isinstance(owner, dict) and owner.get("name") == user.name)
    return bool(set(source.get("backend_roles") or []) & set(user.backend_roles))


def read_filter(user: User) -> dict[str, Any]:
    """The search filter AND-ed for non-admin users under access control (§2.8)."""
    return {
        "bool": {
            "should": [
                {"term": {"access": "public"}},
                {"terms": {"backend_roles.keyword": list(user.backend_roles)}},
                {
                    "bool": {
                        "must": [
                            {"term": {"owner.name.keyword": user.name}},
                            {"term": {"access": "private"}},
                        ]
                    }
                },
                {"bool": {"must_not": [{"exists": {"field": "owner"}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
