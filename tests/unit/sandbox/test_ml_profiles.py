"""Version profiles (reference §11, §3.1, §2.4, §9): the per-release data the handlers read."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.ml.profiles import PROFILES, get_profile

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
