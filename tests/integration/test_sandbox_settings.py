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
