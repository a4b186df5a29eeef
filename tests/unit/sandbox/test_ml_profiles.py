"""Version profiles (reference §11, §3.1, §2.4, §9): the per-release data the handlers read."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.ml.profiles import PROFILES, get_profile, profile_names

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"


@pytest.mark.parametrize(
    ("name", "count"),
    [("2.9", 3), ("2.11", 4), ("2.13", 4), ("2.17", 6), ("2.19", 11), ("3.x", 12)],
)
def test_default_trusted_endpoints_grow_per_release(name: str, count: int) -> None:
    profile = get_profile(name)
    assert len(profile.trusted_endpoints) == count
    assert profile.setting_defaults[TRUSTED] == list(profile.trusted_endpoints)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("2.9", "sync_register", False),
        ("2.11", "sync_register", True),
        ("2.9", "update_connector", "absent"),
        ("2.11", "update_connector", "flag"),
        ("2.13", "update_connector", "always"),
        ("2.11", "search_missing_index_empty", False),
        ("2.13", "search_missing_index_empty", True),
        ("2.17", "action_null_wording", "can't null"),
        ("2.19", "action_null_wording", "can't be null"),
        ("2.19", "trusted_message_has_url", True),
        ("3.x", "trusted_message_has_url", False),
        ("2.17", "credential_required", False),
        ("2.19", "credential_required", True),
        ("2.9", "group_auto_delete", True),
        ("2.11", "group_auto_delete", False),
        ("2.17", "group_delete_conflict", False),
        ("2.19", "group_delete_conflict", True),
        ("3.x", "safe_text", True),
        ("2.19", "safe_text", False),
        ("2.13", "parameters_merge_on_update", False),
        ("2.17", "parameters_merge_on_update", True),
        ("2.17", "connector_timestamps", False),
        ("2.19", "connector_timestamps", True),
        ("3.x", "trusted_check_at_predict", True),
    ],
)
def test_behaviour_fields(name: str, field: str, value: Any) -> None:
    assert getattr(get_profile(name), field) == value


@pytest.mark.parametrize(
    ("name", "defaults"),
    [
        ("2.11", {}),
        ("2.13", {"max_connection": 30, "connection_timeout": 30000, "read_timeout": 30000}),
        (
            "3.x",
            {
                "connection_timeout": 30,
                "read_timeout": 30,
                "retry_backoff_policy": "constant",
                "skip_ssl_verification": False,
            },
        ),
    ],
)
def test_client_config_defaults(name: str, defaults: dict[str, Any]) -> None:
    config = dict(get_profile(name).client_config_defaults)
    assert {k: config[k] for k in defaults} == defaults
    if not defaults:
        assert config == {}


def test_update_connector_flag_exists_only_on_2_11() -> None:
    key = "plugins.ml_commons.update_connector.enabled"
    assert [name for name, p in PROFILES.items() if key in p.setting_defaults] == ["2.11"]


def test_aliases_and_unknown_names() -> None:
    assert get_profile("3.8") is get_profile("3.x")
    with pytest.raises(ValueError, match="unknown sandbox profile"):
        get_profile("1.0")


def test_action_types_and_protocols_follow_the_timeline() -> None:
    assert get_profile("2.13").action_types == ("PREDICT",)
    assert "EXECUTE" in get_profile("2.17").action_types
    assert "mcp_sse" not in get_profile("2.19").protocols
    assert "mcp_streamable_http" in get_profile("3.x").protocols


RELEASES = [f"2.{minor}" for minor in range(9, 20)] + [f"3.{minor}" for minor in range(9)]


def test_every_minor_release_from_2_9_to_3_8_is_a_profile() -> None:
    assert list(PROFILES) == RELEASES
    for name in RELEASES:
        profile = get_profile(name)
        assert profile.name == name
        assert profile.version.startswith(name + ".")
        assert profile.release == tuple(int(part) for part in name.split("."))


@pytest.mark.parametrize("alias", ["3.x", "latest", "3"])
def test_aliases_name_the_newest_release(alias: str) -> None:
    assert get_profile(alias) is get_profile("3.8")
    assert alias in profile_names()


# The gates of reference §11 (and the sections it summarises), written out independently of
# profiles.py: (field, first release with the behaviour, last release or None).
GATES = [
    ("group_name_taken", "2.10", None),
    ("sync_register", "2.11", None),
    ("sync_deploy", "2.11", None),
    ("group_reuse_by_name", "2.11", None),
    ("predict_status_code", "2.11", None),
    ("connector_delete_lists_ids", "2.11", None),
    ("group_auto_delete", "2.9", "2.10"),
    ("update_model", "2.12", None),
    ("get_model_group", "2.12", None),
    ("model_enable_fields", "2.12", None),
    ("modern_status_codes", "2.12", None),
    ("parameters_any_json", "2.10", None),
    ("search_missing_index_empty", "2.12", None),
    ("is_hidden", "2.12", None),
    ("invalid_payload_check", "2.12", None),
    ("deploy_setting", "2.13", None),
    ("auto_deploy_on_predict", "2.13", None),
    ("model_interface", "2.14", None),
    ("deploy_setting_ttl", "2.14", None),
    ("model_not_ready", "2.14", None),
    ("wraps_transport_errors", "2.14", None),
    ("private_ip_message", "2.14", None),
    ("private_ip_setting", "2.15", None),
    ("parameters_merge_on_update", "2.16", None),
    ("preset_interface", "2.16", None),
    ("skip_missing_parameters", "2.17", None),
    ("connector_timestamps", "2.18", None),
    ("credential_required", "2.19", None),
    ("action_null_wording", "2.19", None),
    ("group_delete_conflict", "2.19", None),
    ("force_undeploy", "2.19", None),
    ("group_index_missing", "2.19", None),
    ("safe_text", "3.1", None),
    ("embedding_config_check", "3.1", None),
    ("trusted_message_has_url", "2.9", "3.1"),
    ("empty_body_errors", "3.2", None),
    ("embedding_config_check_on_update", "3.2", None),
    ("protocol_checked_at_input", "3.5", None),
    ("remote_inference_disabled_status", "3.5", None),
    ("action_names", "3.5", None),
    ("http_methods", "3.5", None),
    ("connector_timeouts_in_seconds", "3.6", None),
    ("trusted_check_at_predict", "3.7", None),
    ("header_parameters", "3.7", None),
    ("private_endpoint_settings", "3.7", None),
    ("provisioned_by", "3.7", None),
    ("structured_output", "3.7", None),
]


def _neighbours(since: str, until: str | None) -> list[tuple[str, str]]:
    """(release, side) pairs around a gate: the releases just outside and just inside it."""
    index = RELEASES.index(since)
    pairs = [(RELEASES[index], "in")]
    if index > 0:
        pairs.append((RELEASES[index - 1], "out"))
    if until is not None:
        last = RELEASES.index(until)
        pairs.append((RELEASES[last], "in"))
        if last + 1 < len(RELEASES):
            pairs.append((RELEASES[last + 1], "out"))
    return pairs


@pytest.mark.parametrize(("field", "since", "until"), GATES, ids=[g[0] for g in GATES])
def test_each_gate_changes_exactly_at_its_release(
    field: str, since: str, until: str | None
) -> None:
    inside = getattr(get_profile(since), field)
    for name, side in _neighbours(since, until):
        value = getattr(get_profile(name), field)
        if side == "in":
            assert value == inside, name
        else:
            assert value != inside, name
    for name in RELEASES:
        release = get_profile(name).release
        within = get_profile(since).release <= release and (
            until is None or release <= get_profile(until).release
        )
        assert (getattr(get_profile(name), field) == inside) is within, name


def test_protocols_action_types_and_methods_per_release() -> None:
    assert "mcp_sse" not in get_profile("2.19").protocols
    assert "mcp_sse" in get_profile("3.0").protocols
    assert "mcp_streamable_http" not in get_profile("3.2").protocols
    assert "mcp_streamable_http" in get_profile("3.3").protocols
    assert "EXECUTE" not in get_profile("2.14").action_types
    assert "EXECUTE" in get_profile("2.15").action_types
    assert "BATCH_PREDICT" in get_profile("2.16").action_types
    assert "CANCEL_BATCH_PREDICT" not in get_profile("2.16").action_types
    assert "PUT" in get_profile("3.5").http_methods
    assert "PUT" not in get_profile("3.4").http_methods


@pytest.mark.parametrize(
    ("name", "count"),
    [("2.10", 3), ("2.11", 4), ("2.15", 4), ("2.16", 6), ("2.18", 9), ("3.4", 11), ("3.5", 12)],
)
def test_trusted_endpoint_defaults_at_each_change(name: str, count: int) -> None:
    assert len(get_profile(name).trusted_endpoints) == count


def test_client_config_timeouts_become_seconds_at_3_6() -> None:
    # ConnectorClientConfig at tag 3.6.0.0 (the reference's summary says 3.7).
    assert get_profile("3.5").client_config_defaults["read_timeout"] == 30000
    assert get_profile("3.6").client_config_defaults["read_timeout"] == 30


MEMORY = "plugins.ml_commons.native_memory_threshold"
RATIO = "plugins.ml_commons.model_auto_redeploy_success_ratio"


@pytest.mark.parametrize("name", RELEASES)
def test_every_release_registers_the_node_level_settings(name: str) -> None:
    settings = get_profile(name).settings
    for key in (
        MEMORY,
        "plugins.ml_commons.jvm_heap_memory_threshold",
        "plugins.ml_commons.allow_registering_model_via_local_file",
        "plugins.ml_commons.model_access_control_enabled",
    ):
        assert settings[key].scope == "dynamic", key
    assert (settings[MEMORY].minimum, settings[MEMORY].maximum) == (0, 100)
    assert all(key.startswith("plugins.ml_commons.") for key in settings)


@pytest.mark.parametrize(
    ("name", "key", "present", "default"),
    [
        ("2.11", RATIO, False, None),
        ("2.12", RATIO, True, 0.8),
        ("2.11", "plugins.ml_commons.model_auto_redeploy.enable", True, False),
        ("2.12", "plugins.ml_commons.model_auto_redeploy.enable", True, True),
        ("2.11", "plugins.ml_commons.rag_pipeline_feature_enabled", True, False),
        ("2.12", "plugins.ml_commons.rag_pipeline_feature_enabled", True, True),
        ("2.15", "plugins.ml_commons.disk_free_space_threshold", False, None),
        ("2.16", "plugins.ml_commons.disk_free_space_threshold", True, "5gb"),
        ("3.3", "plugins.ml_commons.max_batch_inference_tasks", True, 10),
        ("3.4", "plugins.ml_commons.max_batch_inference_tasks", True, 100),
        ("3.7", "plugins.ml_commons.memory.retention_enabled", False, None),
        ("3.8", "plugins.ml_commons.memory.retention_enabled", True, False),
    ],
)
def test_settings_follow_the_release_tags(name: str, key: str, present: bool, default: Any) -> None:
    settings = get_profile(name).settings
    assert (key in settings) is present
    if present:
        assert settings[key].default == default
        assert get_profile(name).setting_defaults[key] == default


@pytest.mark.parametrize(
    ("name", "key", "scope"),
    [
        ("2.19", "plugins.ml_commons.multi_tenancy_enabled", "static"),
        ("2.19", "plugins.ml_commons.remote_metadata_type", "final"),
        ("3.1", "plugins.ml_commons.metrics_static_collection_enabled", "final"),
        ("3.2", "plugins.ml_commons.metrics_static_collection_enabled", "dynamic"),
        ("3.5", "plugins.ml_commons.master_key_cache_ttl_minutes", "static"),
        ("3.7", "plugins.ml_commons.connector.restricted_ip_patterns", "final"),
    ],
)
def test_setting_scopes(name: str, key: str, scope: str) -> None:
    assert get_profile(name).settings[key].scope == scope
