"""Every `plugins.ml_commons.*` setting each ML Commons release registers, as data.

Read from `MLCommonsSettings.java` (`plugin/src/main/java/org/opensearch/ml/settings/` up to
2.19, `common/src/main/java/org/opensearch/ml/common/settings/` from 3.0) together with the
list `MachineLearningPlugin.getSettings()` returns, at every release tag `2.9.0.0` ...
`3.8.0.0` of opensearch-project/ml-commons: a setting declared but not returned by
`getSettings()` is not registered, and OpenSearch refuses it as "not recognized"
(`model_auto_redeploy_success_ratio` before 2.12). Reference §9 summarises the remote-model
rows; where it and the tags differ (defaults of `model_auto_redeploy.enable`,
`agent_framework_enabled`, `memory_feature_enabled`, `rag_pipeline_feature_enabled`) the tags
win. `profiles.py` selects the rows of one release; `clustersettings.py` validates PUTs with
them. Pure data: no I/O, no import of the rest of the sandbox.
"""

from __future__ import annotations

import dataclasses
from typing import Any

PREFIX = "plugins.ml_commons."

Release = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class MLSetting:
    """One registered setting as OpenSearch's `Setting` factory methods define it."""

    key: str
    """The full key, `plugins.ml_commons.` included."""
    kind: str
    """`boolean`, `integer`, `long`, `float`, `string`, `list` or `byte_size`."""
    default: Any
    """The typed default (`None` for the trusted-endpoint list, which the profile fills)."""
    minimum: int | float | None
    """Lowest accepted value of a number setting, None when unbounded."""
    maximum: int | float | None
    """Highest accepted value of a number setting, None when unbounded."""
    scope: str
    """`dynamic` (`Property.Dynamic`), `static` (node scope only) or `final`."""
    since: Release
    until: Release | None
    """Last release with this row, None when still present at 3.8."""
    regex_checked: bool = False
    """3.7+: the list is checked by `validateRegexSafety` on every update (§3.1)."""

    def exists_in(self, release: Release) -> bool:
        """Whether `release` registers this row."""
        return self.since <= release and (self.until is None or release <= self.until)


_BOOL, _INT, _LONG, _FLOAT, _STRING, _LIST, _BYTES = (
    "boolean",
    "integer",
    "long",
    "float",
    "string",
    "list",
    "byte_size",
)
_DYN, _STATIC, _FINAL = "dynamic", "static", "final"


_TRUSTED_URL = "^(https?|ftp|file)://[-a-zA-Z0-9+&@#/%?=~_|!:,.;]*[-a-zA-Z0-9+&@#/%=~_|]"

# (key without prefix, kind, default, minimum, maximum, scope, first release, last release
# or None[, regex_checked]): one row per setting and stretch of releases with the same
# definition, in the order `getSettings()` first lists them. A setting whose default, range
# or scope changed has one row per stretch.
# fmt: off
_TABLE: tuple[tuple[Any, ...], ...] = (
    ("task_dispatch_policy", _STRING, "round_robin", None, None, _DYN, (2, 9), None),
    ("max_model_on_node", _INT, 10, 0, 10000, _DYN, (2, 9), None),
    ("only_run_on_ml_node", _BOOL, True, None, None, _DYN, (2, 9), None),
    ("sync_up_job_interval_in_seconds", _INT, 10, 0, 86400, _DYN, (2, 9), None),
    ("ml_task_timeout_in_seconds", _INT, 600, 1, 86400, _DYN, (2, 9), None),
    ("monitoring_request_count", _LONG, 100, 0, 10000000, _DYN, (2, 9), None),
    ("max_register_model_tasks_per_node", _INT, 10, 0, 10, _DYN, (2, 9), None),
    ("max_ml_task_per_node", _INT, 10, 0, 10000, _DYN, (2, 9), None),
    ("max_deploy_model_tasks_per_node", _INT, 10, 0, 10, _DYN, (2, 9), None),
    ("trusted_url_regex", _STRING, _TRUSTED_URL, None, None, _DYN, (2, 9), None),
    ("native_memory_threshold", _INT, 90, 0, 100, _DYN, (2, 9), None),
    ("jvm_heap_memory_threshold", _INT, 85, 0, 100, _DYN, (2, 9), None),
    ("exclude_nodes._name", _STRING, "", None, None, _DYN, (2, 9), None),
    ("allow_custom_deployment_plan", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("enable_inhouse_python_model", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("model_auto_redeploy.enable", _BOOL, False, None, None, _DYN, (2, 9), (2, 11)),
    ("model_auto_redeploy.enable", _BOOL, True, None, None, _DYN, (2, 12), None),
    ("model_auto_redeploy.lifetime_retry_times", _INT, 3, None, None, _DYN, (2, 9), None),
    ("allow_registering_model_via_url", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("allow_registering_model_via_local_file", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("model_access_control_enabled", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("connector_access_control_enabled", _BOOL, False, None, None, _DYN, (2, 9), None),
    ("trusted_connector_endpoints_regex", _LIST, None, None, None, _DYN, (2, 9), (3, 6)),
    ("trusted_connector_endpoints_regex", _LIST, None, None, None, _DYN, (3, 7), None, True),
    ("task_dispatcher.eligible_node_role.remote_model", _LIST, ["data", "ml"],
        None, None, _DYN, (2, 10), None),
    ("task_dispatcher.eligible_node_role.local_model", _LIST, ["data", "ml"],
        None, None, _DYN, (2, 10), None),
    ("remote_inference.enabled", _BOOL, True, None, None, _DYN, (2, 10), None),
    ("memory_feature_enabled", _BOOL, False, None, None, _DYN, (2, 10), (2, 11)),
    ("memory_feature_enabled", _BOOL, True, None, None, _DYN, (2, 12), None),
    ("rag_pipeline_feature_enabled", _BOOL, False, None, None, _DYN, (2, 10), (2, 11)),
    ("rag_pipeline_feature_enabled", _BOOL, True, None, None, _DYN, (2, 12), None),
    ("update_connector.enabled", _BOOL, False, None, None, _DYN, (2, 11), (2, 11)),
    ("model_auto_redeploy_success_ratio", _FLOAT, 0.8, 0.0, 1.0, _DYN, (2, 12), None),
    ("agent_framework_enabled", _BOOL, False, None, None, _DYN, (2, 12), (2, 12)),
    ("agent_framework_enabled", _BOOL, True, None, None, _DYN, (2, 13), None),
    ("local_model.enabled", _BOOL, True, None, None, _DYN, (2, 13), None),
    ("model_auto_deploy.enable", _BOOL, True, None, None, _DYN, (2, 13), None),
    ("connector.private_ip_enabled", _BOOL, False, None, None, _DYN, (2, 15), None),
    ("disk_free_space_threshold", _BYTES, "5gb", None, None, _DYN, (2, 16), None),
    ("remote_job.status_field", _LIST, ["status", "Status", "TransformJobStatus"],
        None, None, _DYN, (2, 18), None),
    ("remote_job.status_regex.completed", _STRING, "(complete|completed)",
        None, None, _DYN, (2, 18), (2, 18)),
    ("remote_job.status_regex.completed", _STRING, "(complete|completed|partiallyCompleted)",
        None, None, _DYN, (2, 19), None),
    ("remote_job.status_regex.cancelled", _STRING, "(stopped|cancelled)",
        None, None, _DYN, (2, 18), None),
    ("remote_job.status_regex.cancelling", _STRING, "(stopping|cancelling)",
        None, None, _DYN, (2, 18), None),
    ("remote_job.status_regex.expired", _STRING, "(expired|timeout)",
        None, None, _DYN, (2, 18), None),
    ("controller_enabled", _BOOL, True, None, None, _DYN, (2, 18), None),
    ("offline_batch_ingestion_enabled", _BOOL, True, None, None, _DYN, (2, 18), None),
    ("offline_batch_inference_enabled", _BOOL, True, None, None, _DYN, (2, 18), None),
    ("max_batch_inference_tasks", _INT, 10, 0, 500, _DYN, (2, 18), (3, 3)),
    ("max_batch_inference_tasks", _INT, 100, 0, 10000, _DYN, (3, 4), None),
    ("max_batch_ingestion_tasks", _INT, 10, 0, 500, _DYN, (2, 18), (3, 3)),
    ("max_batch_ingestion_tasks", _INT, 100, 0, 10000, _DYN, (3, 4), None),
    ("batch_ingestion_bulk_size", _INT, 500, 100, 100000, _DYN, (2, 18), None),
    ("remote_job.status_regex.failed", _STRING, "(failed)", None, None, _DYN, (2, 19), None),
    ("safe_delete_model", _BOOL, False, None, None, _DYN, (2, 19), None),
    ("multi_tenancy_enabled", _BOOL, False, None, None, _STATIC, (2, 19), None),
    ("remote_metadata_type", _STRING, "", None, None, _FINAL, (2, 19), None),
    ("remote_metadata_endpoint", _STRING, "", None, None, _FINAL, (2, 19), None),
    ("remote_metadata_region", _STRING, "", None, None, _FINAL, (2, 19), None),
    ("remote_metadata_service_name", _STRING, "", None, None, _FINAL, (2, 19), None),
    ("mcp_connector_enabled", _BOOL, False, None, None, _DYN, (3, 0), None),
    ("mcp_server_enabled", _BOOL, False, None, None, _DYN, (3, 0), None),
    ("metrics_collection_enabled", _BOOL, False, None, None, _FINAL, (3, 1), None),
    ("metrics_static_collection_enabled", _BOOL, False, None, None, _FINAL, (3, 1), (3, 1)),
    ("metrics_static_collection_enabled", _BOOL, False, None, None, _DYN, (3, 2), None),
    ("execute_tools_enabled", _BOOL, False, None, None, _DYN, (3, 2), (3, 2)),
    ("execute_tools_enabled", _BOOL, True, None, None, _DYN, (3, 3), None),
    ("agentic_search_enabled", _BOOL, False, None, None, _DYN, (3, 2), (3, 2)),
    ("agentic_memory_enabled", _BOOL, False, None, None, _DYN, (3, 2), (3, 2)),
    ("agentic_memory_enabled", _BOOL, True, None, None, _DYN, (3, 3), None),
    ("index_insight_feature_enabled", _BOOL, False, None, None, _DYN, (3, 3), None),
    ("remote_metadata_global_tenant_id", _STRING, "", None, None, _FINAL, (3, 3), None),
    ("remote_metadata_global_resource_cache_ttl", _STRING, "", None, None, _FINAL, (3, 3), None),
    ("stream_enabled", _BOOL, False, None, None, _DYN, (3, 3), None),
    ("master_key_cache_ttl_minutes", _INT, 5, 1, 1440, _STATIC, (3, 5), None),
    ("remote_agentic_memory_enabled", _BOOL, False, None, None, _DYN, (3, 5), None),
    ("max_json_size", _INT, 100000000, -1, None, _DYN, (3, 5), None),
    ("unified_agent_api_enabled", _BOOL, False, None, None, _DYN, (3, 5), None),
    ("mcp_header_passthrough_enabled", _BOOL, False, None, None, _DYN, (3, 5), None),
    ("ag_ui_enabled", _BOOL, False, None, None, _DYN, (3, 5), None),
    ("trusted_connector_private_endpoints_regex", _LIST, [], None, None, _DYN, (3, 7), None, True),
    ("connector.restricted_ip_patterns", _LIST, [], None, None, _FINAL, (3, 7), None),
    ("memory.retention_enabled", _BOOL, False, None, None, _DYN, (3, 8), None),
    ("memory.retention_job_interval_hours", _INT, 24, 1, 168, _DYN, (3, 8), None),
    ("memory.retention_job_throttle_seconds", _INT, 5, 1, 60, _DYN, (3, 8), None),
    ("memory.orphan_ttl_days", _INT, 7, 1, 365, _DYN, (3, 8), None),
    ("memory.working_memory_ttl_days", _INT, -1, -1, 365, _DYN, (3, 8), None),
    ("memory.default_session_retention_days", _INT, -1, -1, 3650, _DYN, (3, 8), None),
    ("memory.default_session_max_count", _INT, -1, -1, 1000000, _DYN, (3, 8), None),
    ("memory.default_long_term_max_count", _INT, -1, -1, 1000000, _DYN, (3, 8), None),
    ("memory.default_history_max_count", _INT, -1, -1, 10000000, _DYN, (3, 8), None),
)
# fmt: on

ROWS: tuple[MLSetting, ...] = tuple(MLSetting(PREFIX + key, *rest) for key, *rest in _TABLE)
"""Every registered setting of every release 2.9-3.8."""


def registered(release: Release) -> dict[str, MLSetting]:
    """The settings `release` registers, by full key."""
    return {row.key: row for row in ROWS if row.exists_in(release)}
