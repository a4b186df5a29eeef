"""Versions parse as clusters report them; capabilities follow the §11 timeline."""

from __future__ import annotations

import pytest

from reconciler.mlcommons.versions import (
    LATEST,
    SUPPORTED,
    Version,
    capabilities,
    is_supported,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.19", Version(2, 19, 0)),
        ("2.19.1", Version(2, 19, 1)),
        ("2.19.1.0", Version(2, 19, 1)),
        ("3.0.0-SNAPSHOT", Version(3, 0, 0)),
        (" 3.8 ", Version(3, 8, 0)),
    ],
)
def test_parse(text: str, expected: Version) -> None:
    assert Version.parse(text) == expected


@pytest.mark.parametrize("text", ["", "3", "3.x", "v2.19", "2.19.a", "2..19", "latest"])
def test_parse_refuses_junk(text: str) -> None:
    with pytest.raises(ValueError, match="is not a version"):
        Version.parse(text)


def test_str_and_order() -> None:
    assert str(Version.parse("2.9")) == "2.9.0"
    assert Version.parse("2.9").short == "2.9"
    assert Version.parse("2.10") > Version.parse("2.9.9")
    assert Version.parse("3.0") > Version.parse("2.19.6")


def test_supported_lines() -> None:
    assert SUPPORTED[0] == Version(2, 9) and SUPPORTED[-1] == Version(3, 8)
    assert len(SUPPORTED) == 20 and list(SUPPORTED) == sorted(SUPPORTED)
    assert Version(3, 8, 0) == LATEST
    assert is_supported(Version(2, 19, 4))
    assert not is_supported(Version(2, 8)) and not is_supported(Version(3, 9))


# (capability, first version true, last version true or None for "still at 3.8")
TIMELINE = [
    ("update_connector", "2.12", None),
    ("update_connector_behind_flag", "2.11", "2.11"),
    ("update_model", "2.12", None),
    ("deployed_model_update", "2.12", None),
    ("get_model_group", "2.12", None),
    ("register_returns_model_id", "2.11", None),
    ("deploy_sync_response", "2.11", None),
    ("client_config", "2.13", None),
    ("client_config_retry_fields", "2.15", None),
    ("skip_ssl_verification", "3.5", None),
    ("client_config_timeouts_in_seconds", "3.6", None),
    ("safe_text_names", "3.1", None),
    ("credential_required", "2.19", None),
    ("private_ip_setting", "2.15", None),
    ("search_missing_index_empty", "2.12", None),
    ("groups_auto_deleted", "2.9", "2.10"),
    ("reuse_same_named_group", "2.11", None),
    ("auto_deploy_on_predict", "2.13", None),
    ("trusted_regex_checked_at_predict", "3.7", None),
    ("trusted_regex_validator", "3.7", None),
    ("trusted_error_echoes_url", "2.9", "3.1"),
    ("parameters_any_json", "2.10", None),
    ("parameters_merged_on_update", "2.16", None),
    ("connector_timestamps", "2.18", None),
    ("named_actions", "3.5", None),
    ("structured_output", "3.7", None),
    ("header_parameter_placeholders", "3.7", None),
    ("provisioned_by", "3.7", None),
    ("text_embedding_config_checked", "3.1", None),
    ("model_enable_and_rate_limit", "2.12", None),
    ("deploy_setting", "2.13", None),
    ("model_interface", "2.14", None),
    ("status_codes_4xx", "2.12", None),
    ("model_group_delete_conflict", "2.19", None),
    ("force_undeploy_state", "2.19", None),
    ("mcp_connectors", "3.0", None),
]


@pytest.mark.parametrize(("name", "first", "last"), TIMELINE)
def test_capability_timeline(name: str, first: str, last: str | None) -> None:
    start = Version.parse(first)
    end = Version.parse(last) if last else LATEST
    for version in SUPPORTED:
        expected = start <= version <= end
        assert getattr(capabilities(version), name) is expected, f"{name} on {version}"


def test_patch_releases_share_their_line() -> None:
    assert capabilities(Version(2, 11, 1)).update_connector_behind_flag
    assert capabilities(Version(2, 19, 6)).protocols == capabilities(Version(2, 19)).protocols


@pytest.mark.parametrize(
    ("version", "protocols", "action_types", "methods"),
    [
        ("2.9", {"http", "aws_sigv4"}, {"PREDICT"}, {"POST", "GET"}),
        ("2.15", {"http", "aws_sigv4"}, {"PREDICT", "EXECUTE"}, {"POST", "GET"}),
        (
            "2.17",
            {"http", "aws_sigv4"},
            {"PREDICT", "EXECUTE", "BATCH_PREDICT", "CANCEL_BATCH_PREDICT", "BATCH_PREDICT_STATUS"},
            {"POST", "GET"},
        ),
        ("3.0", {"http", "aws_sigv4", "mcp_sse"}, None, {"POST", "GET"}),
        ("3.3", {"http", "aws_sigv4", "mcp_sse", "mcp_streamable_http"}, None, {"POST", "GET"}),
        ("3.5", None, None, {"POST", "GET", "PUT", "DELETE"}),
    ],
)
def test_value_sets(
    version: str,
    protocols: set[str] | None,
    action_types: set[str] | None,
    methods: set[str],
) -> None:
    caps = capabilities(Version.parse(version))
    if protocols is not None:
        assert caps.protocols == protocols
    if action_types is not None:
        assert caps.action_types == action_types
    assert caps.http_methods == methods
