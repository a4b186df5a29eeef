"""Checks of access-control fields against what the declared AccessControl switches on.

Called by `manifests.checking` for Connector and ModelGroup manifests and for models that
make the server create their group. The rules and messages are the server's own
(reference §1.6, §2.5 step 6, §5.3): with access control off, any access field is refused;
with it on, the combinations of `access_mode`, `backend_roles` and `add_all_backend_roles`
must make sense. Rules that depend on the calling user (admin, their roles) cannot be
known offline and are left to the server. Reports through a Reporter; no I/O.
"""

from __future__ import annotations

from typing import Protocol

from reconciler.manifests.contexts import CheckContext, Reporter
from reconciler.resources import Kind

CONNECTOR_DISABLED = (
    "You cannot specify connector access control parameters because the Security plugin "
    "or connector access control is disabled on your cluster."
)
MODEL_DISABLED = (
    "You cannot specify model access control parameters because the Security plugin or "
    "model access control is disabled on your cluster."
)


class AccessFields(Protocol):
    """The three access fields shared by connectors, model groups and models."""

    @property
    def access_mode(self) -> str | None: ...

    @property
    def backend_roles(self) -> list[str] | None: ...

    @property
    def add_all_backend_roles(self) -> bool | None: ...


def given_fields(spec: AccessFields) -> list[str]:
    """The access fields the server counts as given: even `add_all_backend_roles: false`,
    because it tolerates only null there; `backend_roles` only when non-empty (§2.5)."""
    given = []
    if spec.access_mode is not None:
        given.append("access_mode")
    if spec.backend_roles:
        given.append("backend_roles")
    if spec.add_all_backend_roles is not None:
        given.append("add_all_backend_roles")
    return given


def check_connector_access(spec: AccessFields, report: Reporter, *, context: CheckContext) -> None:
    """§2.5 step 6 (`validateRequest4AccessControl`); `report` is at the connector body."""
    if Kind.ACCESS_CONTROL in context.unknown_settings:
        return  # whether access control is on is not known in this run
    given = given_fields(spec)
    if not context.connector_access_control:
        if given:
            report.error(_disabled(given, "connector", CONNECTOR_DISABLED), given[0])
        return
    roles, add_all = bool(spec.backend_roles), spec.add_all_backend_roles is True
    mode = spec.access_mode or ("restricted" if roles or add_all else "private")
    if mode != "restricted" and roles:
        report.error(
            "You can specify backend roles only for a connector with the restricted access mode.",
            "backend_roles",
        )
    elif mode == "restricted" and roles and add_all:
        report.error(
            "You can't specify backend roles and add all backend roles to true at same time.",
            "add_all_backend_roles",
        )
    elif mode == "restricted" and not roles and not add_all:
        report.error(
            "You must specify at least one backend role or make the connector public/private "
            "for registering it.",
            "access_mode",
        )


def check_group_access(spec: AccessFields, report: Reporter, *, context: CheckContext) -> None:
    """§5.3 (`validateRequestForAccessControl`); `report` is at the group (or model) body."""
    if Kind.ACCESS_CONTROL in context.unknown_settings:
        return  # whether access control is on is not known in this run
    given = given_fields(spec)
    if not context.model_access_control:
        if given:
            report.error(_disabled(given, "model", MODEL_DISABLED), given[0])
        return
    roles, add_all = bool(spec.backend_roles), spec.add_all_backend_roles is True
    both = "You cannot specify backend roles and add all backend roles at the same time."
    if spec.access_mode in ("public", "private"):
        if roles or add_all:
            report.error(
                "You can specify backend roles only for a model group with the restricted "
                "access mode.",
                "backend_roles" if roles else "add_all_backend_roles",
            )
    elif roles and add_all:
        report.error(both, "add_all_backend_roles")
    elif spec.access_mode == "restricted" and not roles and not add_all:
        report.error(
            "You must specify one or more backend roles or add all backend roles to register "
            "a restricted model group.",
            "access_mode",
        )


def _disabled(given: list[str], which: str, server: str) -> str:
    fields = " and ".join(given)
    verb = "needs" if len(given) == 1 else "need"
    return (
        f"{fields} {verb} {which} access control, which no AccessControl manifest enables "
        f'({which}_access_control_enabled: true); the server says "{server}"'
    )
