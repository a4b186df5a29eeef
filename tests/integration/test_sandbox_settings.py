"""Cluster settings through opensearch-py: shapes, defaults, resets and refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opensearchpy import RequestError, TransportError

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import TestCluster, client_for

ACCESS = "plugins.ml_commons.connector_access_control_enabled"
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"


def reason_of(exc: TransportError) -> str:
    assert isinstance(exc.info, dict)
    return str(exc.info["error"]["reason"])


@pytest.fixture
def settings(cluster: TestCluster) -> Iterator[TestCluster]:
    yield cluster
    reset = {"persistent": {ACCESS: None, TRUSTED: None}, "transient": {ACCESS: None}}
    cluster.client.cluster.put_settings(body=reset)


def test_put_answers_what_changed_nested(settings: TestCluster) -> None:
    answer = settings.client.cluster.put_settings(body={"persistent": {ACCESS: True}})
    assert answer == {
        "acknowledged": True,
        "persistent": {"plugins": {"ml_commons": {"connector_access_control_enabled": "true"}}},
        "transient": {},
    }


def test_get_flat_and_nested_and_nested_input(settings: TestCluster) -> None:
    client = settings.client
    client.cluster.put_settings(
        body={"persistent": {"plugins": {"ml_commons": {"connector_access_control_enabled": True}}}}
    )
    flat = client.cluster.get_settings(flat_settings=True)
    assert flat["persistent"][ACCESS] == "true"
    nested = client.cluster.get_settings()
    assert (
        nested["persistent"]["plugins"]["ml_commons"]["connector_access_control_enabled"] == "true"
    )


def test_defaults_and_null_restores_default(settings: TestCluster) -> None:
    client = settings.client
    client.cluster.put_settings(body={"persistent": {TRUSTED: ["^https://example\\.com/.*$"]}})
    current = client.cluster.get_settings(flat_settings=True)["persistent"][TRUSTED]
    assert current == ["^https://example\\.com/.*$"]
    client.cluster.put_settings(body={"persistent": {TRUSTED: None}})
    after = client.cluster.get_settings(flat_settings=True, include_defaults=True)
    assert TRUSTED not in after["persistent"]
    assert "^https://api\\.openai\\.com/.*$" in after["defaults"][TRUSTED]


def test_transient_wins_over_persistent(settings: TestCluster) -> None:
    sandbox = settings.require_sandbox()
    client = settings.client
    client.cluster.put_settings(body={"persistent": {ACCESS: True}, "transient": {ACCESS: False}})
    assert sandbox.context.settings.get(ACCESS) is False
    client.cluster.put_settings(body={"transient": {ACCESS: None}})
    assert sandbox.context.settings.get(ACCESS) is True


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"persistent": {"plugins.ml_commons.no_such_setting": True}},
            "persistent setting [plugins.ml_commons.no_such_setting], not recognized",
        ),
        (
            {"transient": {"plugins.ml_commons.no_such_setting": 1}},
            "transient setting [plugins.ml_commons.no_such_setting], not recognized",
        ),
        (
            {"persistent": {ACCESS: "maybe"}},
            "Failed to parse value [maybe] as only [true] or [false] are allowed.",
        ),
    ],
)
def test_bad_settings_are_refused(
    settings: TestCluster, body: dict[str, object], reason: str
) -> None:
    with pytest.raises(RequestError) as caught:
        settings.client.cluster.put_settings(body=body)
    assert caught.value.error == "illegal_argument_exception"
    assert reason_of(caught.value) == reason


def test_list_setting_refuses_a_scalar(settings: TestCluster) -> None:
    settings.require_sandbox()
    with pytest.raises(RequestError):
        settings.client.cluster.put_settings(body={"persistent": {TRUSTED: "^https://x$"}})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (
            "^(a+)+$",
            "Regex pattern contains nested quantifiers or backreferences that may cause ReDoS: ^(a+)+$",
        ),
        (
            "^(x)\\1$",
            "Regex pattern contains nested quantifiers or backreferences that may cause ReDoS: ^(x)\\1$",
        ),
        ("^https://" + "a" * 260 + "$", "Regex pattern too long (max 256 chars): ^https://"),
        ("^https://[a-$", "Invalid regex pattern: ^https://[a-$"),
    ],
)
def test_trusted_endpoint_validator_since_3_7(
    sandbox_factory: Callable[..., Sandbox], pattern: str, reason: str
) -> None:
    new = sandbox_factory("3.x")
    old = sandbox_factory("2.19")
    body = {"persistent": {TRUSTED: [pattern]}}
    with pytest.raises(RequestError) as caught:
        client_for(new).cluster.put_settings(body=body)
    assert reason_of(caught.value).startswith(reason)
    assert client_for(old).cluster.put_settings(body=body)["acknowledged"] is True


MEMORY = "plugins.ml_commons.native_memory_threshold"
NODE_LEVEL = {
    MEMORY: 95,
    "plugins.ml_commons.jvm_heap_memory_threshold": 90,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.model_access_control_enabled": True,
}


def test_node_level_settings_are_accepted_with_access_control(cluster: TestCluster) -> None:
    # A peer's test setup: memory thresholds and local-file upload beside access control.
    client = cluster.client
    try:
        answer = client.cluster.put_settings(body={"transient": NODE_LEVEL}, flat_settings=True)
        assert answer["transient"] == {key: str(value).lower() for key, value in NODE_LEVEL.items()}
        current = client.cluster.get_settings(flat_settings=True)["transient"]
        assert current[MEMORY] == "95"
    finally:
        client.cluster.put_settings(body={"transient": dict.fromkeys(NODE_LEVEL)})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (101, f"Failed to parse value [101] for setting [{MEMORY}] must be <= 100"),
        (-1, f"Failed to parse value [-1] for setting [{MEMORY}] must be >= 0"),
        ("lots", f"Failed to parse value [lots] for setting [{MEMORY}]"),
        (9.5, f"Failed to parse value [9.5] for setting [{MEMORY}]"),
    ],
)
def test_number_settings_check_type_and_range(
    cluster: TestCluster, value: object, reason: str
) -> None:
    with pytest.raises(RequestError) as caught:
        cluster.client.cluster.put_settings(body={"transient": {MEMORY: value}})
    assert reason_of(caught.value) == reason


def test_a_bad_key_refuses_the_whole_request(cluster: TestCluster) -> None:
    client = cluster.client
    body = {"transient": {ACCESS: True, MEMORY: 1000}}
    with pytest.raises(RequestError):
        client.cluster.put_settings(body=body)
    assert ACCESS not in client.cluster.get_settings(flat_settings=True)["transient"]


def test_defaults_list_every_registered_setting(cluster: TestCluster) -> None:
    sandbox = cluster.require_sandbox()
    defaults = cluster.client.cluster.get_settings(flat_settings=True, include_defaults=True)[
        "defaults"
    ]
    ml = {key for key in defaults if key.startswith("plugins.ml_commons.")}
    assert ml == set(sandbox.profile.settings)
    assert defaults[MEMORY] == "90"


RATIO = "plugins.ml_commons.model_auto_redeploy_success_ratio"


@pytest.mark.parametrize(
    ("version", "body", "reason"),
    [
        # Declared in MLCommonsSettings but only registered by getSettings() from 2.12.
        ("2.11", {RATIO: 0.5}, f"persistent setting [{RATIO}], not recognized"),
        ("2.12", {RATIO: 1.5}, f"Failed to parse value [1.5] for setting [{RATIO}] must be <= 1.0"),
        (
            "2.19",
            {"plugins.ml_commons.multi_tenancy_enabled": True},
            "persistent setting [plugins.ml_commons.multi_tenancy_enabled], "
            "not dynamically updateable",
        ),
        (
            "2.19",
            {"plugins.ml_commons.remote_metadata_type": "AWSDynamoDB"},
            "final persistent setting [plugins.ml_commons.remote_metadata_type], not updateable",
        ),
        (
            "3.5",
            {"plugins.ml_commons.master_key_cache_ttl_minutes": None},
            "persistent setting [plugins.ml_commons.master_key_cache_ttl_minutes], "
            "not dynamically updateable",
        ),
        (
            "3.8",
            {"plugins.ml_commons.disk_free_space_threshold": 100},
            "failed to parse setting [plugins.ml_commons.disk_free_space_threshold] with value "
            "[100] as a size in bytes: unit is missing or unrecognized",
        ),
    ],
)
def test_per_release_registration_scope_and_type(
    sandbox_factory: Callable[..., Sandbox], version: str, body: dict[str, object], reason: str
) -> None:
    client = client_for(sandbox_factory(version))
    with pytest.raises(RequestError) as caught:
        client.cluster.put_settings(body={"persistent": body})
    assert reason_of(caught.value) == reason


def test_byte_size_and_ratio_accept_valid_values(sandbox_factory: Callable[..., Sandbox]) -> None:
    client = client_for(sandbox_factory("3.8"))
    body = {"plugins.ml_commons.disk_free_space_threshold": "10gb", RATIO: 0.5}
    answer = client.cluster.put_settings(body={"persistent": body}, flat_settings=True)
    assert answer["persistent"] == {
        "plugins.ml_commons.disk_free_space_threshold": "10gb",
        RATIO: "0.5",
    }
