"""The `plugins.ml_commons.*` cluster settings of reference §9: type, default, scope, versions.

Lookup is by the short key a manifest uses (`connector.private_ip_enabled`) or the full key.
Used by the AccessControl checks (known key for the version, right type, settable at all),
by the planner (defaults to compare against) and the renderers. Pure data: no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
from typing import Any

from reconciler.mlcommons.endpoints import default_trusted_endpoints
from reconciler.mlcommons.versions import Version

PREFIX = "plugins.ml_commons."


class SettingType(enum.StrEnum):
    """The value type of a setting, as a manifest writes it."""

    BOOL = "boolean"
    INT = "integer"
    FLOAT = "number"
    STRING = "string"
    LIST = "list of strings"


class Scope(enum.StrEnum):
    """Whether and how a setting can be changed on a running cluster."""

    DYNAMIC = "dynamic"
    """`PUT _cluster/settings` works."""
    STATIC = "static"
    """Only in opensearch.yml, read at node start."""
    FINAL = "final"
    """Set once at node start and never changed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One row of the §9 table."""

    key: str
    """Without the `plugins.ml_commons.` prefix."""
    type: SettingType
    default: Any
    """Default value; for the trusted-endpoint list see `default_for`."""
    since: Version
    until: Version | None = None
    """Last release line that has it, when it was removed."""
    scope: Scope = Scope.DYNAMIC

    @property
    def full_key(self) -> str:
        """The cluster-settings key."""
        return PREFIX + self.key

    def exists_in(self, version: Version) -> bool:
        """Whether `version` knows this setting."""
        line = version.line
        return self.since <= line and (self.until is None or line <= self.until)


def _row(
    key: str,
    kind: SettingType,
    default: Any,
    since: str,
    *,
    until: str | None = None,
    scope: Scope = Scope.DYNAMIC,
) -> Setting:
    last = Version.parse(until) if until else None
    return Setting(key, kind, default, Version.parse(since), last, scope)


_B, _I, _F, _S, _L = (
    SettingType.BOOL,
    SettingType.INT,
    SettingType.FLOAT,
    SettingType.STRING,
    SettingType.LIST,
)

# "≤2.9" in the reference means present at the oldest tag read; 2.9 is osml's floor.
SETTINGS: tuple[Setting, ...] = (
    _row("trusted_connector_endpoints_regex", _L, None, "2.9"),
    _row("connector_access_control_enabled", _B, False, "2.9"),
    _row("model_access_control_enabled", _B, False, "2.9"),
    _row("remote_inference.enabled", _B, True, "2.10"),
    _row("update_connector.enabled", _B, False, "2.11", until="2.11"),
    _row("task_dispatcher.eligible_node_role.remote_model", _L, ["data", "ml"], "2.10"),
    _row("task_dispatcher.eligible_node_role.local_model", _L, ["data", "ml"], "2.10"),
    _row("only_run_on_ml_node", _B, True, "2.9"),
    _row("allow_custom_deployment_plan", _B, False, "2.9"),
    _row("model_auto_deploy.enable", _B, True, "2.13"),
    _row("model_auto_redeploy.enable", _B, True, "2.9"),
    _row("model_auto_redeploy.lifetime_retry_times", _I, 3, "2.9"),
    _row("model_auto_redeploy_success_ratio", _F, 0.8, "2.9"),
    _row("connector.private_ip_enabled", _B, False, "2.15"),
    _row("trusted_connector_private_endpoints_regex", _L, [], "3.7"),
    _row("connector.restricted_ip_patterns", _L, [], "3.7", scope=Scope.FINAL),
    _row("local_model.enabled", _B, True, "2.13"),
    _row("safe_delete_model", _B, False, "2.19"),
    _row("controller_enabled", _B, True, "2.18"),
    _row("offline_batch_inference_enabled", _B, True, "2.18"),
    _row("offline_batch_ingestion_enabled", _B, True, "2.18"),
    _row("mcp_connector_enabled", _B, False, "3.0"),
    _row("stream_enabled", _B, False, "3.3"),
    _row("multi_tenancy_enabled", _B, False, "2.19", scope=Scope.STATIC),
    _row("max_model_on_node", _I, 10, "2.9"),
    _row("ml_task_timeout_in_seconds", _I, 600, "2.9"),
    _row("sync_up_job_interval_in_seconds", _I, 10, "2.9"),
    # Model-file URLs of local models, not connectors; its long default is not osml's concern.
    _row("trusted_url_regex", _S, None, "2.9"),
    _row("allow_registering_model_via_url", _B, False, "2.9"),
    _row("rag_pipeline_feature_enabled", _B, True, "2.10"),
    _row("memory_feature_enabled", _B, True, "2.10"),
    _row("agent_framework_enabled", _B, True, "2.12"),
)
"""Reference §9, in its order."""

_BY_KEY = {setting.key: setting for setting in SETTINGS}


def short_key(key: str) -> str:
    """`key` without the `plugins.ml_commons.` prefix."""
    return key.removeprefix(PREFIX)


def lookup(key: str) -> Setting | None:
    """The setting called `key` (short or full), whatever the version, or None."""
    return _BY_KEY.get(short_key(key))


def settings_for(version: Version) -> tuple[Setting, ...]:
    """The settings `version` knows."""
    return tuple(setting for setting in SETTINGS if setting.exists_in(version))


def closest_key(key: str, *, version: Version) -> str | None:
    """The known short key of `version` that `key` most likely misspells."""
    known = [setting.key for setting in settings_for(version)]
    matches = difflib.get_close_matches(short_key(key), known, n=1, cutoff=0.75)
    return matches[0] if matches else None


def default_for(setting: Setting, *, version: Version) -> Any:
    """The default value of `setting` on `version` (the trusted list varies, §3.1)."""
    if setting.key == "trusted_connector_endpoints_regex":
        return list(default_trusted_endpoints(version))
    return setting.default


def type_error(setting: Setting, value: Any) -> str | None:
    """Why `value` does not fit `setting`'s type, or None if it does."""
    if _fits(setting.type, value):
        return None
    wanted = setting.type.value
    article = "an" if wanted[0] in "aeiou" else "a"
    return f"expects {article} {wanted}, not {_describe(value)}"


def _fits(kind: SettingType, value: Any) -> bool:
    # bool is an int in Python; a setting of either kind must not accept the other.
    if kind is SettingType.BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is SettingType.INT:
        return isinstance(value, int)
    if kind is SettingType.FLOAT:
        return isinstance(value, int | float)
    if kind is SettingType.STRING:
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list of non-strings" if value else "an empty list"
    return f"a {type(value).__name__}"
