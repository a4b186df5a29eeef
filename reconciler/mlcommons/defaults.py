"""Values the server fills in when a request leaves them out, per version.

`client_config` (§2.4): when a connector sends `client_config`, every omitted sub-field is
stored with its default, so the planner fills desired state with these before diffing and
the checks know which sub-fields a version accepts at all. Also the smaller defaults of
§5-§6 that show up in live documents. Pure data: no I/O, no knowledge of manifests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.mlcommons.settings import default_for, settings_for
from reconciler.mlcommons.versions import Version


@dataclasses.dataclass(frozen=True, slots=True)
class ClientConfigField:
    """One `client_config` sub-field: when it appeared and what the server stores for it."""

    name: str
    since: Version
    default: Any
    """The default from `since` on; see `_DEFAULT_CHANGES` for later changes."""


def _field(name: str, since: str, default: Any) -> ClientConfigField:
    return ClientConfigField(name, Version.parse(since), default)


CLIENT_CONFIG_FIELDS: tuple[ClientConfigField, ...] = (
    _field("max_connection", "2.13", 30),
    _field("connection_timeout", "2.13", 30000),
    _field("read_timeout", "2.13", 30000),
    _field("retry_backoff_millis", "2.15", 200),
    _field("retry_timeout_seconds", "2.15", 30),
    _field("max_retry_times", "2.15", 0),
    _field("retry_backoff_policy", "2.15", "constant"),
    _field("skip_ssl_verification", "3.5", False),
)
"""In the order the server writes them (§2.4); `mutual_tls_enabled` is post-3.8 (HEAD)."""

# #4759 reinterprets the timeouts as seconds and lowers their defaults to 30. §2.4 says
# 3.7, but the 3.6.0.0 tag already carries the backport (#4765): ConnectorClientConfig at
# that tag has CONNECTION_TIMEOUT_DEFAULT_VALUE = 30. The source wins over the summary.
_DEFAULT_CHANGES: dict[str, tuple[Version, Any]] = {
    "connection_timeout": (Version(3, 6), 30),
    "read_timeout": (Version(3, 6), 30),
}

CLIENT_CONFIG_SINCE = Version(2, 13)
"""`client_config` itself is accepted from 2.13 (§2.4)."""


def client_config_field(name: str) -> ClientConfigField | None:
    """The sub-field called `name`, whatever the version, or None if no version has it."""
    return next((field for field in CLIENT_CONFIG_FIELDS if field.name == name), None)


def client_config_fields(version: Version) -> tuple[str, ...]:
    """The sub-fields `version` accepts, in server order; empty before 2.13."""
    return tuple(field.name for field in CLIENT_CONFIG_FIELDS if field.since <= version.line)


def client_config_defaults(version: Version) -> dict[str, Any]:
    """What the server stores for an empty `client_config: {}` on `version` (§2.4)."""
    defaults: dict[str, Any] = {}
    for field in CLIENT_CONFIG_FIELDS:
        if field.since > version.line:
            continue
        value = field.default
        change = _DEFAULT_CHANGES.get(field.name)
        if change is not None and version.line >= change[0]:
            value = change[1]
        defaults[field.name] = value
    return defaults


def fill_client_config(given: dict[str, Any], *, version: Version) -> dict[str, Any]:
    """`given` as the server stores it: omitted sub-fields take their defaults (§2.4).

    The retry policy comes back lower-case whatever case was sent (§12.3).
    """
    filled = client_config_defaults(version)
    filled.update({key: value for key, value in given.items() if value is not None})
    policy = filled.get("retry_backoff_policy")
    if isinstance(policy, str):
        filled["retry_backoff_policy"] = policy.lower()
    return filled


MODEL_TTL_MINUTES_DEFAULT = -1
"""2.14+: `deploy_setting` sent without `model_ttl_minutes` is stored with -1 (§6.2)."""

MODEL_GROUP_ACCESS_WITHOUT_CONTROL = "public"
"""With model access control off, every group is stored with `access: public` (§5.3)."""

DEFAULT_CONNECTOR_PARAMETERS: dict[str, Any] = {}
"""A connector created without `parameters` has `{}` (§2.2)."""


def default_access_mode(*, backend_roles: bool, add_all_backend_roles: bool) -> str:
    """The access mode the server derives when `access_mode` is omitted (§2.5, §5.3)."""
    return "restricted" if backend_roles or add_all_backend_roles else "private"


def default_settings(version: Version) -> dict[str, Any]:
    """Every `plugins.ml_commons.*` setting `version` knows, by full key, with its default (§9)."""
    return {
        setting.full_key: default_for(setting, version=version)
        for setting in settings_for(version)
        if setting.default is not None or setting.key == "trusted_connector_endpoints_regex"
    }
