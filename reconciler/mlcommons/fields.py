"""Which fields of a live document the server manages, and how it rewrites what it is sent.

Reference §10 and §2.7: the planner drops server-managed fields before diffing and applies
the same rewrites to desired state that the server applies to stored documents
(stringified `version` and `parameters`, upper-case `action_type`, `access_mode` stored as
`access`), so a plan shows real changes and never the server's bookkeeping. Facts and small
pure functions only: no I/O, no diffing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.mlcommons.templates import stringify, stringify_parameters
from reconciler.resources import Kind

SERVER_MANAGED: dict[Kind, frozenset[str]] = {
    Kind.CONNECTOR: frozenset(
        {"owner", "access", "created_time", "last_updated_time", "tenant_id"}
    ),
    Kind.MODEL_GROUP: frozenset(
        {"latest_version", "owner", "access", "created_time", "last_updated_time", "tenant_id"}
    ),
    Kind.MODEL: frozenset(
        {
            "algorithm",
            "model_version",
            "model_state",
            "planning_worker_nodes",
            "planning_worker_node_count",
            "current_worker_node_count",
            "deploy_to_all_nodes",
            "last_deployed_time",
            "last_undeployed_time",
            "last_registered_time",
            "auto_redeploy_retry_times",
            "is_hidden",
            "model_id",
            "created_time",
            "last_updated_time",
            "tenant_id",
            "user",
            "is_controller_enabled",
            "model_content_size_in_bytes",
            "model_content_hash_value",
            "chunk_number",
            "total_chunks",
        }
    ),
}
"""Fields to leave out of every diff, per kind (§10 "server-managed fields")."""

DERIVED_WITH_ADD_ALL = frozenset({"backend_roles"})
"""Filled from the caller's roles when `add_all_backend_roles` was used (§2.5, §5.3)."""

WRITE_ONLY: dict[Kind, frozenset[str]] = {
    Kind.CONNECTOR: frozenset({"credential"}),
    Kind.MODEL: frozenset({"connector.credential"}),
}
"""Never returned by GET or search (§2.7, §6.6): compare by fingerprint, not by value."""

SENT_NOT_STORED: dict[Kind, frozenset[str]] = {
    Kind.CONNECTOR: frozenset({"add_all_backend_roles", "dry_run"}),
    Kind.MODEL_GROUP: frozenset({"add_all_backend_roles"}),
    Kind.MODEL: frozenset(
        {"function_name", "version", "access_mode", "backend_roles", "add_all_backend_roles"}
    ),
}
"""Request fields with no counterpart in the stored document (§2.5, §5.3, §6.2)."""

RENAMED_ON_STORE: dict[str, str] = {"access_mode": "access", "function_name": "algorithm"}
"""Request field -> stored field (§2.7, §10)."""

UNREMOVABLE_MAPS: dict[Kind, frozenset[str]] = {
    Kind.CONNECTOR: frozenset({"parameters", "credential", "client_config"}),
    Kind.MODEL: frozenset(
        {"model_config", "interface", "rate_limiter", "deploy_setting", "guardrails", "connector"}
    ),
    Kind.MODEL_GROUP: frozenset(),
}
"""Objects updated by partial merge: a key can be added or changed, never removed (§1.5)."""

STORED_ORDER: dict[Kind, tuple[str, ...]] = {
    Kind.CONNECTOR: (
        "name", "version", "description", "protocol", "parameters", "actions",
        "backend_roles", "owner", "access", "created_time", "last_updated_time",
        "client_config", "tenant_id", "provisioned_by",
    ),
    Kind.MODEL_GROUP: (
        "name", "latest_version", "description", "backend_roles", "owner", "access",
        "model_group_id", "created_time", "last_updated_time", "tenant_id",
    ),
}  # fmt: skip
"""Key order of GET answers (§2.7, §5.4), for renderers that mirror the server."""


def drop_server_managed(document: Mapping[str, Any], *, kind: Kind) -> dict[str, Any]:
    """`document` without the fields the server manages for `kind`."""
    managed = SERVER_MANAGED.get(kind, frozenset())
    return {key: value for key, value in document.items() if key not in managed}


def normalize_action_type(action_type: str) -> str:
    """Action types are read case-insensitively and stored upper-case (§2.3)."""
    return action_type.upper()


def normalize_version(version: str | int | float) -> str:
    """The connector `version` as stored: the JSON text of a number, or the string (§1.4)."""
    return stringify(version)


def normalize_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    """Connector `parameters` as stored: `{}` when absent, every value a string (§2.7)."""
    return stringify_parameters(parameters or {})


def stored_access(access_mode: str | None) -> str | None:
    """The stored `access` for a requested `access_mode`: lower-case (§1.4, §2.7)."""
    return access_mode.lower() if access_mode is not None else None
