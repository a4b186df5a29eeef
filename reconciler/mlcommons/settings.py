"""The `plugins.ml_commons.*` cluster settings: type, default, range, scope, versions.

Every setting ML Commons registers from 2.9 to 3.8, not only the remote-model ones of
reference §9: the node-level thresholds, task limits and feature flags a peer's cluster
setup also sets. Read from `MLCommonsSettings.java` and `MachineLearningPlugin.getSettings()`
at each release tag (2.9.0.0 ... 3.8.0.0); where the tags differ from §9's summary (the
success ratio is registered from 2.12, four feature defaults flipped later) the tags win.
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
    minimum: float | None = None
    """Lowest value a number setting accepts (None: unbounded)."""
    maximum: float | None = None
    """Highest value a number setting accepts (None: unbounded)."""

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
    within: tuple[float | None, float | None] = (None, None),
) -> Setting:
    last = Version.parse(until) if until else None
    return Setting(key, kind, default, Version.parse(since), last, scope, *within)


_B, _I, _F, _S, _L = (
    SettingType.BOOL,
    SettingType.INT,
    SettingType.FLOAT,
    SettingType.STRING,
    SettingType.LIST,
)

# "≤2.9" in the reference means present at the oldest tag read; 2.9 is osml's floor. Defaults
# and ranges are those of the first release; `_LATER` holds the ones that changed since.
SETTINGS: tuple[Setting, ...] = (
    # Remote-model management (reference §9).
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
    _row("model_auto_redeploy.enable", _B, False, "2.9"),
    _row("model_auto_redeploy.lifetime_retry_times", _I, 3, "2.9"),
    # Declared from 2.9, but getSettings() registers it only from 2.12.
    _row("model_auto_redeploy_success_ratio", _F, 0.8, "2.12", within=(0.0, 1.0)),
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
    _row("max_model_on_node", _I, 10, "2.9", within=(0, 10000)),
    _row("ml_task_timeout_in_seconds", _I, 600, "2.9", within=(1, 86400)),
    _row("sync_up_job_interval_in_seconds", _I, 10, "2.9", within=(0, 86400)),
    # Model-file URLs of local models, not connectors; its long default is not osml's concern.
    _row("trusted_url_regex", _S, None, "2.9"),
    _row("allow_registering_model_via_url", _B, False, "2.9"),
    _row("rag_pipeline_feature_enabled", _B, False, "2.10"),
    _row("memory_feature_enabled", _B, False, "2.10"),
    _row("agent_framework_enabled", _B, False, "2.12"),
    # Node resources, task limits and local models.
    _row("task_dispatch_policy", _S, "round_robin", "2.9"),
    _row("max_register_model_tasks_per_node", _I, 10, "2.9", within=(0, 10)),
    _row("max_deploy_model_tasks_per_node", _I, 10, "2.9", within=(0, 10)),
    _row("max_ml_task_per_node", _I, 10, "2.9", within=(0, 10000)),
    _row("monitoring_request_count", _I, 100, "2.9", within=(0, 10_000_000)),
    _row("native_memory_threshold", _I, 90, "2.9", within=(0, 100)),
    _row("jvm_heap_memory_threshold", _I, 85, "2.9", within=(0, 100)),
    _row("disk_free_space_threshold", _S, "5gb", "2.16"),
    _row("exclude_nodes._name", _S, "", "2.9"),
    _row("enable_inhouse_python_model", _B, False, "2.9"),
    _row("allow_registering_model_via_local_file", _B, False, "2.9"),
    # Batch jobs (2.18+).
    _row("remote_job.status_field", _L, ["status", "Status", "TransformJobStatus"], "2.18"),
    _row("remote_job.status_regex.completed", _S, "(complete|completed)", "2.18"),
    _row("remote_job.status_regex.cancelled", _S, "(stopped|cancelled)", "2.18"),
    _row("remote_job.status_regex.cancelling", _S, "(stopping|cancelling)", "2.18"),
    _row("remote_job.status_regex.expired", _S, "(expired|timeout)", "2.18"),
    _row("remote_job.status_regex.failed", _S, "(failed)", "2.19"),
    _row("max_batch_inference_tasks", _I, 10, "2.18", within=(0, 500)),
    _row("max_batch_ingestion_tasks", _I, 10, "2.18", within=(0, 500)),
    _row("batch_ingestion_bulk_size", _I, 500, "2.18", within=(100, 100_000)),
    # Multi-tenancy's remote metadata store: set in opensearch.yml only.
    _row("remote_metadata_type", _S, "", "2.19", scope=Scope.FINAL),
    _row("remote_metadata_endpoint", _S, "", "2.19", scope=Scope.FINAL),
    _row("remote_metadata_region", _S, "", "2.19", scope=Scope.FINAL),
    _row("remote_metadata_service_name", _S, "", "2.19", scope=Scope.FINAL),
    _row("remote_metadata_global_tenant_id", _S, "", "3.3", scope=Scope.FINAL),
    _row("remote_metadata_global_resource_cache_ttl", _S, "", "3.3", scope=Scope.FINAL),
    # Agents, memory, metrics and other 3.x features.
    _row("mcp_server_enabled", _B, False, "3.0"),
    _row("metrics_collection_enabled", _B, False, "3.1", scope=Scope.FINAL),
    # Final in 3.1, dynamic from 3.2: osml only offers it where the API can set it.
    _row("metrics_static_collection_enabled", _B, False, "3.2"),
    _row("execute_tools_enabled", _B, False, "3.2"),
    _row("agentic_search_enabled", _B, False, "3.2", until="3.2"),
    _row("agentic_memory_enabled", _B, False, "3.2"),
    _row("index_insight_feature_enabled", _B, False, "3.3"),
    _row("master_key_cache_ttl_minutes", _I, 5, "3.5", scope=Scope.STATIC, within=(1, 1440)),
    _row("remote_agentic_memory_enabled", _B, False, "3.5"),
    _row("max_json_size", _I, 100_000_000, "3.5", within=(-1, None)),
    _row("unified_agent_api_enabled", _B, False, "3.5"),
    _row("mcp_header_passthrough_enabled", _B, False, "3.5"),
    _row("ag_ui_enabled", _B, False, "3.5"),
    _row("memory.retention_enabled", _B, False, "3.8"),
    _row("memory.retention_job_interval_hours", _I, 24, "3.8", within=(1, 168)),
    _row("memory.retention_job_throttle_seconds", _I, 5, "3.8", within=(1, 60)),
    _row("memory.orphan_ttl_days", _I, 7, "3.8", within=(1, 365)),
    _row("memory.working_memory_ttl_days", _I, -1, "3.8", within=(-1, 365)),
    _row("memory.default_session_retention_days", _I, -1, "3.8", within=(-1, 3650)),
    _row("memory.default_session_max_count", _I, -1, "3.8", within=(-1, 1_000_000)),
    _row("memory.default_long_term_max_count", _I, -1, "3.8", within=(-1, 1_000_000)),
    _row("memory.default_history_max_count", _I, -1, "3.8", within=(-1, 10_000_000)),
)
"""Every registered setting, remote-model ones (reference §9) first."""

# Defaults and ranges that changed after a setting's first release: key -> (from, fields).
_LATER: dict[str, tuple[Version, dict[str, Any]]] = {
    "model_auto_redeploy.enable": (Version(2, 12), {"default": True}),
    "rag_pipeline_feature_enabled": (Version(2, 12), {"default": True}),
    "memory_feature_enabled": (Version(2, 12), {"default": True}),
    "agent_framework_enabled": (Version(2, 13), {"default": True}),
    "remote_job.status_regex.completed": (
        Version(2, 19),
        {"default": "(complete|completed|partiallyCompleted)"},
    ),
    "max_batch_inference_tasks": (Version(3, 4), {"default": 100, "maximum": 10000}),
    "max_batch_ingestion_tasks": (Version(3, 4), {"default": 100, "maximum": 10000}),
    "execute_tools_enabled": (Version(3, 3), {"default": True}),
    "agentic_memory_enabled": (Version(3, 3), {"default": True}),
}


def at_version(setting: Setting, *, version: Version) -> Setting:
    """`setting` with the default and range `version` has."""
    later = _LATER.get(setting.key)
    if later is None or version.line < later[0]:
        return setting
    return dataclasses.replace(setting, **later[1])


_BY_KEY = {setting.key: setting for setting in SETTINGS}


def short_key(key: str) -> str:
    """`key` without the `plugins.ml_commons.` prefix."""
    return key.removeprefix(PREFIX)


def lookup(key: str) -> Setting | None:
    """The setting called `key` (short or full), whatever the version, or None."""
    return _BY_KEY.get(short_key(key))


def settings_for(version: Version) -> tuple[Setting, ...]:
    """The settings `version` knows, with that version's defaults and ranges."""
    return tuple(at_version(s, version=version) for s in SETTINGS if s.exists_in(version))


def closest_key(key: str, *, version: Version) -> str | None:
    """The known short key of `version` that `key` most likely misspells."""
    known = [setting.key for setting in settings_for(version)]
    matches = difflib.get_close_matches(short_key(key), known, n=1, cutoff=0.75)
    return matches[0] if matches else None


def default_for(setting: Setting, *, version: Version) -> Any:
    """The default value of `setting` on `version` (the trusted list varies, §3.1)."""
    if setting.key == "trusted_connector_endpoints_regex":
        return list(default_trusted_endpoints(version))
    return at_version(setting, version=version).default


def type_error(setting: Setting, value: Any) -> str | None:
    """Why `value` does not fit `setting`'s type or range, or None if it does.

    Pass the setting as `at_version` gives it for the target, so the range is that version's.
    """
    if not _fits(setting.type, value):
        wanted = setting.type.value
        article = "an" if wanted[0] in "aeiou" else "a"
        return f"expects {article} {wanted}, not {_describe(value)}"
    low, high = setting.minimum, setting.maximum
    if isinstance(value, int | float) and (
        (low is not None and value < low) or (high is not None and value > high)
    ):
        return f"must be {_range(low, high)}, not {value}"
    return None


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


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
