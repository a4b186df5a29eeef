"""`client_config` defaults per version (§2.4, including the timeout change of 3.6)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.mlcommons.defaults import (
    client_config_defaults,
    client_config_field,
    client_config_fields,
    default_access_mode,
    default_settings,
    fill_client_config,
)
from reconciler.mlcommons.versions import Version

BASE = {"max_connection": 30, "connection_timeout": 30000, "read_timeout": 30000}
RETRY = {
    "retry_backoff_millis": 200,
    "retry_timeout_seconds": 30,
    "max_retry_times": 0,
    "retry_backoff_policy": "constant",
}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.9", {}),
        ("2.12", {}),
        ("2.13", BASE),
        ("2.14", BASE),
        ("2.15", BASE | RETRY),
        ("3.4", BASE | RETRY),
        (
            "3.6",
            BASE
            | RETRY
            | {"skip_ssl_verification": False, "connection_timeout": 30, "read_timeout": 30},
        ),
        ("3.5", BASE | RETRY | {"skip_ssl_verification": False}),  # still 30000
        (
            "3.7",
            BASE
            | RETRY
            | {"skip_ssl_verification": False, "connection_timeout": 30, "read_timeout": 30},
        ),
        (
            "3.8",
            BASE
            | RETRY
            | {"skip_ssl_verification": False, "connection_timeout": 30, "read_timeout": 30},
        ),
    ],
)
def test_defaults_per_version(version: str, expected: dict[str, Any]) -> None:
    assert client_config_defaults(Version.parse(version)) == expected


def test_fields_in_server_order() -> None:
    assert client_config_fields(Version.parse("2.13")) == (
        "max_connection",
        "connection_timeout",
        "read_timeout",
    )
    assert client_config_fields(Version.parse("2.12")) == ()
    assert len(client_config_fields(Version.parse("3.8"))) == 8


def test_field_lookup() -> None:
    field = client_config_field("max_retry_times")
    assert field is not None and field.since == Version(2, 15)
    assert client_config_field("mutual_tls_enabled") is None


def test_fill_keeps_given_values_and_lowercases_policy() -> None:
    filled = fill_client_config(
        {
            "max_connection": 5,
            "retry_backoff_policy": "EXPONENTIAL_FULL_JITTER",
            "read_timeout": None,
        },
        version=Version.parse("2.19"),
    )
    assert filled == BASE | RETRY | {
        "max_connection": 5,
        "retry_backoff_policy": "exponential_full_jitter",
    }


@pytest.mark.parametrize(
    ("roles", "add_all", "expected"),
    [(False, False, "private"), (True, False, "restricted"), (False, True, "restricted")],
)
def test_default_access_mode(roles: bool, add_all: bool, expected: str) -> None:
    assert default_access_mode(backend_roles=roles, add_all_backend_roles=add_all) == expected


@pytest.mark.parametrize(
    ("version", "key", "expected"),
    [
        ("2.9", "plugins.ml_commons.connector_access_control_enabled", False),
        ("2.15", "plugins.ml_commons.connector.private_ip_enabled", False),
        ("2.11", "plugins.ml_commons.update_connector.enabled", False),
        ("3.8", "plugins.ml_commons.model_auto_deploy.enable", True),
    ],
)
def test_default_settings(version: str, key: str, expected: Any) -> None:
    assert default_settings(Version.parse(version))[key] == expected


@pytest.mark.parametrize(
    ("version", "absent"),
    [
        ("2.9", "plugins.ml_commons.remote_inference.enabled"),
        ("2.13", "plugins.ml_commons.connector.private_ip_enabled"),
        ("2.12", "plugins.ml_commons.update_connector.enabled"),
        ("3.8", "plugins.ml_commons.trusted_url_regex"),  # not known exactly; left out
    ],
)
def test_default_settings_leave_out(version: str, absent: str) -> None:
    assert absent not in default_settings(Version.parse(version))


def test_default_trusted_list_in_settings() -> None:
    defaults = default_settings(Version.parse("2.9"))
    assert len(defaults["plugins.ml_commons.trusted_connector_endpoints_regex"]) == 3
