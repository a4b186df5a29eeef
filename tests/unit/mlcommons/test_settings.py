"""The `plugins.ml_commons.*` settings table (§9)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.mlcommons.settings import (
    SETTINGS,
    Scope,
    at_version,
    closest_key,
    default_for,
    lookup,
    settings_for,
    type_error,
)
from reconciler.mlcommons.versions import Version


@pytest.mark.parametrize(
    ("key", "default", "since", "scope"),
    [
        ("connector_access_control_enabled", False, "2.9", Scope.DYNAMIC),
        ("plugins.ml_commons.model_access_control_enabled", False, "2.9", Scope.DYNAMIC),
        ("connector.private_ip_enabled", False, "2.15", Scope.DYNAMIC),
        ("remote_inference.enabled", True, "2.10", Scope.DYNAMIC),
        ("connector.restricted_ip_patterns", [], "3.7", Scope.FINAL),
        ("multi_tenancy_enabled", False, "2.19", Scope.STATIC),
        # MachineLearningPlugin.getSettings() registers it from 2.12 (declared since 2.9).
        ("model_auto_redeploy_success_ratio", 0.8, "2.12", Scope.DYNAMIC),
        ("task_dispatcher.eligible_node_role.remote_model", ["data", "ml"], "2.10", Scope.DYNAMIC),
    ],
)
def test_lookup(key: str, default: Any, since: str, scope: Scope) -> None:
    setting = lookup(key)
    assert setting is not None
    assert setting.default == default
    assert setting.since == Version.parse(since)
    assert setting.scope is scope
    assert setting.full_key == "plugins.ml_commons." + setting.key


def test_unknown_key() -> None:
    assert lookup("connector.private_ip_enable") is None


@pytest.mark.parametrize(
    ("key", "version", "exists"),
    [
        ("update_connector.enabled", "2.10", False),
        ("update_connector.enabled", "2.11", True),
        ("update_connector.enabled", "2.12", False),
        ("connector.private_ip_enabled", "2.13", False),
        ("connector.private_ip_enabled", "2.15", True),
        ("mcp_connector_enabled", "2.19", False),
        ("mcp_connector_enabled", "3.0", True),
        ("stream_enabled", "3.3", True),
    ],
)
def test_exists_in(key: str, version: str, exists: bool) -> None:
    setting = lookup(key)
    assert setting is not None
    assert setting.exists_in(Version.parse(version)) is exists
    assert (setting in settings_for(Version.parse(version))) is exists


def test_keys_unique() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))


def test_closest_key() -> None:
    v = Version.parse("3.8")
    assert closest_key("connector.private_ip_enable", version=v) == "connector.private_ip_enabled"
    assert closest_key("plugins.ml_commons.stream_enabld", version=v) == "stream_enabled"
    assert closest_key("something_else", version=v) is None


def test_trusted_default_follows_version() -> None:
    setting = lookup("trusted_connector_endpoints_regex")
    assert setting is not None
    assert len(default_for(setting, version=Version.parse("2.9"))) == 3
    assert len(default_for(setting, version=Version.parse("3.8"))) == 12


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("connector.private_ip_enabled", True, None),
        ("connector.private_ip_enabled", "true", "expects a boolean, not the string 'true'"),
        ("connector.private_ip_enabled", 1, "expects a boolean, not the number 1"),
        ("max_model_on_node", 5, None),
        ("max_model_on_node", True, "expects an integer, not the boolean true"),
        ("max_model_on_node", 1.5, "expects an integer, not the number 1.5"),
        ("model_auto_redeploy_success_ratio", 1, None),
        ("trusted_connector_private_endpoints_regex", [], None),
        ("trusted_connector_private_endpoints_regex", ["^a$"], None),
        (
            "trusted_connector_private_endpoints_regex",
            [1],
            "expects a list of strings, not a list of non-strings",
        ),
        ("connector.private_ip_enabled", None, "expects a boolean, not null"),
    ],
)
def test_type_error(key: str, value: Any, expected: str | None) -> None:
    setting = lookup(key)
    assert setting is not None
    assert type_error(setting, value) == expected


@pytest.mark.parametrize(
    ("key", "version", "default"),
    [
        ("model_auto_redeploy.enable", "2.11", False),
        ("model_auto_redeploy.enable", "2.12", True),
        ("rag_pipeline_feature_enabled", "2.11", False),
        ("rag_pipeline_feature_enabled", "2.12", True),
        ("agent_framework_enabled", "2.12", False),
        ("agent_framework_enabled", "2.13", True),
        ("max_batch_inference_tasks", "3.3", 10),
        ("max_batch_inference_tasks", "3.4", 100),
        ("native_memory_threshold", "2.9", 90),
        ("disk_free_space_threshold", "2.16", "5gb"),
    ],
)
def test_defaults_per_version(key: str, version: str, default: Any) -> None:
    setting = lookup(key)
    assert setting is not None
    assert default_for(setting, version=Version.parse(version)) == default


@pytest.mark.parametrize(
    ("key", "since"),
    [
        ("native_memory_threshold", "2.9"),
        ("jvm_heap_memory_threshold", "2.9"),
        ("allow_registering_model_via_local_file", "2.9"),
        ("disk_free_space_threshold", "2.16"),
        ("batch_ingestion_bulk_size", "2.18"),
        ("mcp_server_enabled", "3.0"),
        ("max_json_size", "3.5"),
        ("memory.retention_enabled", "3.8"),
    ],
)
def test_every_registered_setting_is_known(key: str, since: str) -> None:
    setting = lookup(key)
    assert setting is not None
    assert setting.since == Version.parse(since)
    assert setting.exists_in(Version.parse("3.8"))


@pytest.mark.parametrize(
    ("key", "version", "value", "error"),
    [
        ("native_memory_threshold", "2.19", 101, "must be between 0 and 100, not 101"),
        ("native_memory_threshold", "2.19", 100, None),
        ("model_auto_redeploy_success_ratio", "3.8", 1.5, "must be between 0 and 1, not 1.5"),
        ("max_json_size", "3.8", -2, "must be at least -1, not -2"),
        ("max_batch_inference_tasks", "3.3", 600, "must be between 0 and 500, not 600"),
        ("max_batch_inference_tasks", "3.4", 600, None),
    ],
)
def test_ranges(key: str, version: str, value: Any, error: str | None) -> None:
    setting = lookup(key)
    assert setting is not None
    assert type_error(at_version(setting, version=Version.parse(version)), value) == error


@pytest.mark.parametrize(
    ("key", "scope"),
    [
        ("remote_metadata_type", Scope.FINAL),
        ("metrics_collection_enabled", Scope.FINAL),
        ("master_key_cache_ttl_minutes", Scope.STATIC),
    ],
)
def test_scopes_of_node_settings(key: str, scope: Scope) -> None:
    setting = lookup(key)
    assert setting is not None and setting.scope is scope
