"""Conformance of the connector API (reference §2): one row per error text and response shape.

Runs on every sandbox profile and, with `OSML_TEST_CLUSTER_URL`, against a real cluster; every
expectation is keyed on the version the cluster reports (`cluster.version`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.sandbox.testing import gate_cases
from tests.support.conformance import (
    ML,
    OPENAI_URL,
    Expect,
    World,
    call,
    connector_body,
    err,
    ok,
    reason,
    release,
)

Rel = tuple[int, int]
CREATE = f"{ML}/connectors/_create"


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


def _action(**overrides: Any) -> dict[str, Any]:
    action = {"action_type": "PREDICT", "method": "POST", "url": OPENAI_URL}
    action.update(overrides)
    return {key: value for key, value in action.items() if value is not None}


def _without(key: str) -> dict[str, Any]:
    body = connector_body()
    del body[key]
    return body


def _null_word(rel: Rel) -> str:
    return "can't be null" if rel >= (2, 19) else "can't null"


def _trusted(rel: Rel, url: str) -> str:
    text = "Connector URL is not matching the trusted connector endpoint regex"
    return f"{text}, URL is: {url}" if rel <= (3, 1) else text


def _enum(value: str) -> str:
    return f"No enum constant org.opensearch.ml.common.connector.ConnectorAction.ActionType.{value}"


def _protocol(rel: Rel) -> Expect:
    if rel >= (3, 5):
        return err(
            400,
            "Unsupported connector protocol. Please use one of "
            "[aws_sigv4, http, mcp_sse, mcp_streamable_http]",
        )
    return err(400, "Can't find class for type grpc")


def _created(rel: Rel) -> Expect:
    return Expect(200, keys=("connector_id",))


def _safe_text(rel: Rel, label: str) -> Expect:
    if rel < (3, 1):
        return _created(rel)
    return err(
        400,
        f"Validation Failed: 1: {label} can only contain letters, numbers, spaces, "
        "and basic punctuation (.,!?():@-_'/\");",
    )


AWS = {
    "name": "aws",
    "version": "1",
    "protocol": "aws_sigv4",
    "actions": [_action(url="https://runtime.sagemaker.us-east-1.amazonaws.com/x")],
}
ACCESS_OFF = (
    "You cannot specify connector access control parameters because the Security "
    "plugin or connector access control is disabled on your cluster."
)


@dataclass(frozen=True)
class Row:
    id: str
    section: str
    body: Any
    expect: Callable[[Rel], Expect]
    gates: tuple[str, ...] = ()
    """Releases where `expect` changes: the row runs on the releases around each (§11)."""


CREATE_ROWS = [
    Row("name-null", "§2.5", _without("name"), lambda r: err(400, "Connector name is null")),
    Row(
        "version-null", "§2.5", _without("version"), lambda r: err(400, "Connector version is null")
    ),
    Row(
        "protocol-null",
        "§2.5",
        _without("protocol"),
        lambda r: err(400, "Connector protocol is null"),
    ),
    Row(
        "credential-null",
        "§2.5",
        _without("credential"),
        lambda r: (
            err(400, "Connector credential is null or empty list") if r >= (2, 19) else _created(r)
        ),
        gates=("2.19",),
    ),
    Row("protocol-unknown", "§2.5", connector_body(protocol="grpc"), _protocol, gates=("3.5",)),
    Row(
        "action-type-null",
        "§2.3",
        connector_body(actions=[_action(action_type=None)]),
        lambda r: err(400, f"action type {_null_word(r)}"),
        gates=("2.19",),
    ),
    Row(
        "method-null",
        "§2.3",
        connector_body(actions=[_action(method=None)]),
        lambda r: err(400, f"method {_null_word(r)}"),
        gates=("2.19",),
    ),
    Row(
        "url-null",
        "§2.3",
        connector_body(actions=[_action(url=None)]),
        lambda r: err(400, f"url {_null_word(r)}"),
        gates=("2.19",),
    ),
    Row(
        "action-type-invalid",
        "§2.3",
        connector_body(actions=[_action(action_type="foo")]),
        lambda r: err(400, _enum("FOO")),
    ),
    Row(
        "action-type-execute",
        "§2.3",
        connector_body(actions=[_action(action_type="execute")]),
        lambda r: _created(r) if r >= (2, 15) else err(400, _enum("EXECUTE")),
        gates=("2.15",),
    ),
    Row(
        "action-type-batch-predict",
        "§2.3",
        connector_body(actions=[_action(action_type="batch_predict")]),
        lambda r: _created(r) if r >= (2, 16) else err(400, _enum("BATCH_PREDICT")),
        gates=("2.16",),
    ),
    Row(
        "action-type-cancel-batch-predict",
        "§2.3",
        connector_body(actions=[_action(action_type="cancel_batch_predict")]),
        lambda r: _created(r) if r >= (2, 17) else err(400, _enum("CANCEL_BATCH_PREDICT")),
        gates=("2.17",),
    ),
    Row(
        "name-unsafe",
        "§2.5",
        connector_body(name="bad;name"),
        lambda r: _safe_text(r, "Model connector name"),
        gates=("3.1",),
    ),
    Row(
        "description-unsafe",
        "§2.5",
        connector_body(description="a <b>"),
        lambda r: _safe_text(r, "Model connector description"),
        gates=("3.1",),
    ),
    Row(
        "url-untrusted",
        "§2.5",
        connector_body(actions=[_action(url="https://evil.example/v1")]),
        lambda r: err(400, _trusted(r, "https://evil.example/v1")),
        gates=("3.2",),
    ),
    Row(
        "url-untrusted-after-parameters",
        "§3.1",
        connector_body(
            parameters={"host": "evil.example"},
            actions=[_action(url="https://${parameters.host}/v1")],
        ),
        lambda r: err(400, _trusted(r, "https://evil.example/v1")),
        gates=("3.2",),
    ),
    Row(
        "url-trusted-through-parameters",
        "§3.1",
        connector_body(
            parameters={"endpoint": "api.openai.com"},
            actions=[_action(url="https://${parameters.endpoint}/v1/chat")],
        ),
        _created,
    ),
    Row(
        "no-actions",
        "§2.2",
        connector_body(actions=[]),
        lambda r: err(400, "No actions configured for this connector"),
    ),
    Row(
        "aws-missing-credential",
        "§2.2",
        {**AWS, "credential": {"region": "us-east-1"}},
        lambda r: err(400, "Missing credential"),
    ),
    Row(
        "aws-missing-service",
        "§2.2",
        {
            **AWS,
            "credential": {"access_key": "a", "secret_key": "b"},
            "parameters": {"region": "us-east-1"},
        },
        lambda r: err(400, "Missing service name"),
    ),
    Row(
        "aws-missing-region",
        "§2.2",
        {
            **AWS,
            "credential": {"access_key": "a", "secret_key": "b"},
            "parameters": {"service_name": "sagemaker"},
        },
        lambda r: err(400, "Missing region"),
    ),
    Row(
        "access-mode-without-security",
        "§2.5",
        connector_body(access_mode="public"),
        lambda r: err(400, ACCESS_OFF),
    ),
    Row(
        "add-all-false-without-security",
        "§2.5",
        connector_body(add_all_backend_roles=False),
        lambda r: err(400, ACCESS_OFF),
    ),
    Row(
        "backend-roles-without-security",
        "§2.5",
        connector_body(backend_roles=["ml"]),
        lambda r: err(400, ACCESS_OFF),
    ),
    Row(
        "header-parameter-sensitive",
        "§2.3",
        connector_body(actions=[_action(headers={"Authorization": "Bearer ${parameters.k}"})]),
        lambda r: (
            err(
                400,
                "Header 'Authorization' cannot use ${parameters.*} placeholders for "
                "security reasons. Use ${credential.*} instead.",
            )
            if r >= (3, 7)
            else _created(r)
        ),
        gates=("3.7",),
    ),
    Row(
        "action-name-invalid",
        "§2.3",
        connector_body(actions=[_action(name="bad name")]),
        lambda r: (
            err(
                400,
                "Action name contains invalid characters. Only alphanumeric "
                "characters, hyphens, and underscores are allowed",
            )
            if r >= (3, 5)
            else _created(r)
        ),
        gates=("3.5",),
    ),
    Row(
        "action-name-is-a-type",
        "§2.3",
        connector_body(actions=[_action(name="predict")]),
        lambda r: (
            err(
                400,
                "name can't be one of action type [PREDICT, EXECUTE, BATCH_PREDICT, "
                "CANCEL_BATCH_PREDICT, BATCH_PREDICT_STATUS]",
            )
            if r >= (3, 5)
            else _created(r)
        ),
        gates=("3.5",),
    ),
    Row(
        "provisioned-by-unsafe",
        "§2.5",
        connector_body(provisioned_by="osml;x"),
        lambda r: (
            _safe_text(r, "Model connector provisioned_by field") if r >= (3, 7) else _created(r)
        ),
        gates=("3.7",),
    ),
    Row(
        "name-blank",
        "§2.5",
        connector_body(name="  "),
        lambda r: (
            err(
                400,
                "Validation Failed: 1: Model connector name is required and cannot "
                "be null or blank;",
            )
            if r >= (3, 1)
            else _created(r)
        ),
        gates=("3.1",),
    ),
    Row(
        "mcp-url-missing",
        "§2.5",
        {"name": "mcp", "version": "1", "protocol": "mcp_streamable_http"},
        lambda r: (
            err(400, "MCP Connector url is null or blank")
            if r >= (3, 3)
            else err(400, "Can't find class for type mcp_streamable_http")
        ),
        gates=("3.3",),
    ),
    Row(
        "mcp-sse-disabled",
        "§2.5",
        {"name": "mcp", "version": "1", "protocol": "mcp_sse", "url": "https://mcp.example/sse"},
        lambda r: (
            err(
                500,
                "The MCP connector is not enabled. To enable, please update the "
                "setting plugins.ml_commons.mcp_connector_enabled",
            )
            if r >= (3, 0)
            else err(400, "Can't find class for type mcp_sse")
        ),
        gates=("3.0",),
    ),
    Row(
        "dry-run",
        "§2.6",
        {"dry_run": True, "actions": [_action()]},
        lambda r: ok(connector_id="dryRunConnector"),
    ),
    Row("created", "§2.6", connector_body(), _created),
]


@pytest.mark.parametrize(("cluster", "row"), gate_cases(CREATE_ROWS), indirect=["cluster"])
def test_create_connector(cluster: Any, world: World, row: Row) -> None:
    status, body = call(cluster.client, "POST", CREATE, row.body)
    if status == 200 and body.get("connector_id") not in (None, "dryRunConnector"):
        world.connectors.append(body["connector_id"])
    row.expect(release(cluster.version)).check(status, body)


def test_create_with_empty_body_fails(cluster: Any) -> None:
    status, body = call(cluster.client, "POST", CREATE)
    assert status == 500
    assert reason(body) == "Create Connector request has empty body"


@pytest.mark.gates("2.18")
def test_get_returns_the_normalised_connector_without_id_or_credential(
    cluster: Any, world: World
) -> None:
    rel = release(cluster.version)
    connector_id = world.connector(
        version=2,
        parameters={"n": 3, "flag": True},
        actions=[_action(action_type="predict", method="post")],
    )
    status, body = call(cluster.client, "GET", f"{ML}/connectors/{connector_id}")
    assert status == 200
    assert "credential" not in body and "connector_id" not in body
    assert body["version"] == "2"
    assert body["parameters"] == {"n": "3", "flag": "true"}
    assert body["actions"][0]["action_type"] == "PREDICT"
    assert body["actions"][0]["method"] == "post"
    assert ("created_time" in body) is (rel >= (2, 18))
    expected_order = ["name", "version", "description", "protocol", "parameters", "actions"]
    assert [k for k in body if k in expected_order] == expected_order


@pytest.mark.gates("2.10")
def test_parameter_values_of_any_json_type_from_2_10(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    body = connector_body(parameters={"obj": {"a": [1, 2]}, "list": [1]})
    status, answer = call(cluster.client, "POST", CREATE, body)
    if rel < (2, 10):  # mapStrings(): parser.text() on an object (§2.2)
        assert status == 500, answer
        assert str(reason(answer)).startswith("Can't get text on a START_OBJECT at ")
        return
    assert status == 200, answer
    world.connectors.append(answer["connector_id"])
    stored = call(cluster.client, "GET", f"{ML}/connectors/{answer['connector_id']}")[1]
    assert stored["parameters"] == {"obj": '{"a":[1,2]}', "list": "[1]"}


@pytest.mark.gates("3.7")
def test_provisioned_by_and_structured_output_are_kept_from_3_7(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    connector_id = world.connector(
        provisioned_by="osml", actions=[_action(supports_structured_output=True)]
    )
    body = call(cluster.client, "GET", f"{ML}/connectors/{connector_id}")[1]
    # Unknown fields before 3.7, skipped by the parser (§1.4).
    assert (body.get("provisioned_by") == "osml") is (rel >= (3, 7))
    assert body["actions"][0].get("supports_structured_output", False) is (rel >= (3, 7))


@pytest.mark.gates("2.13", "2.15", "3.5", "3.6")
def test_client_config_is_filled_with_defaults(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    connector_id = world.connector(client_config={"max_connection": 5})
    body = call(cluster.client, "GET", f"{ML}/connectors/{connector_id}")[1]
    if rel < (2, 13):
        assert "client_config" not in body
        return
    config = body["client_config"]
    # §2.4 says the seconds-based defaults start at 3.7; the 3.6.0.0 tag already has them.
    timeout = 30 if rel >= (3, 6) else 30000
    assert config["max_connection"] == 5
    assert config["connection_timeout"] == config["read_timeout"] == timeout
    assert ("retry_backoff_policy" in config) is (rel >= (2, 15))
    if rel >= (2, 15):
        assert config["retry_backoff_policy"] == "constant"
        assert config["max_retry_times"] == 0
    assert ("skip_ssl_verification" in config) is (rel >= (3, 5))


@pytest.mark.gates("2.12")
def test_get_unknown_connector(cluster: Any, world: World) -> None:
    world.connector()  # the index exists
    status, body = call(cluster.client, "GET", f"{ML}/connectors/does-not-exist")
    text = "Failed to find connector with the provided connector id: does-not-exist"
    assert (status, reason(body)) == (404 if release(cluster.version) >= (2, 12) else 400, text)


def test_search_never_returns_credentials(cluster: Any, world: World) -> None:
    name = connector_body()["name"]
    connector_id = world.connector(name=name)
    query = {"query": {"term": {"name.keyword": name}}}
    status, body = call(cluster.client, "POST", f"{ML}/connectors/_search", query)
    assert status == 200
    hits = body["hits"]["hits"]
    assert [hit["_id"] for hit in hits] == [connector_id]
    assert "credential" not in hits[0]["_source"]
    assert {"_version", "_seq_no", "_primary_term"} <= set(hits[0])


def _update(cluster: Any, connector_id: str, body: Any) -> tuple[int, Any]:
    return call(cluster.client, "PUT", f"{ML}/connectors/{connector_id}", body)


@pytest.mark.gates("2.11", "2.12")
def test_update_availability_and_result(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    connector_id = world.connector(parameters={"a": "1"})
    status, body = _update(cluster, connector_id, {"parameters": {"b": 2}, "version": 3})
    if rel < (2, 11):
        assert status == 405
        assert str(reason(body)).startswith("Incorrect HTTP method for uri")
        return
    if rel < (2, 12):
        assert status == 500
        return
    assert status == 200 and body["result"] == "updated" and body["_id"] == connector_id
    stored = call(cluster.client, "GET", f"{ML}/connectors/{connector_id}")[1]
    # Partial document update: old keys survive in every version (§1.5, §2.9).
    assert stored["parameters"] == {"a": "1", "b": "2"}
    assert stored["version"] == "3"


@pytest.mark.gates("2.16")
def test_update_merges_parameters_from_2_16(cluster: Any, world: World) -> None:
    """The stored document keeps old parameter keys in every version (partial update), so
    the merge shows where the in-memory connector is used: the trusted-endpoint check on the
    updated connector resolves `${parameters.host}` only when `host` survived (§2.9, §3.1)."""
    rel = release(cluster.version)
    url = "https://${parameters.host}/v1/chat/completions"
    connector_id = world.connector(
        parameters={"host": "api.openai.com", "model": "gpt-4o-mini"},
        actions=[_action(url=url, request_body='{"model": "${parameters.model}"}')],
    )
    status, body = _update(cluster, connector_id, {"parameters": {"model": "gpt-4o"}})
    stored = call(cluster.client, "GET", f"{ML}/connectors/{connector_id}")[1]
    if rel < (2, 16):
        # 2.11-2.15 replace the map: `host` is gone, the URL keeps its placeholder.
        assert (status, reason(body)) == (400, _trusted(rel, url))
        assert stored["parameters"] == {"host": "api.openai.com", "model": "gpt-4o-mini"}
        return
    assert status == 200 and body["result"] == "updated", body
    assert stored["parameters"] == {"host": "api.openai.com", "model": "gpt-4o"}


UPDATE_ROWS = [
    Row(
        "unknown-id",
        "§2.9",
        {"name": "x"},
        lambda r: err(404, "Failed to find connector with the provided connector id: nope"),
    ),
    Row(
        "empty-body",
        "§2.9",
        None,
        lambda r: err(400, "Failed to update connector: Request body is empty"),
    ),
    Row(
        "untrusted-merged-url",
        "§2.9",
        {"actions": [_action(url="https://evil.example/x")]},
        lambda r: err(400, _trusted(r, "https://evil.example/x")),
        gates=("3.2",),
    ),
    Row(
        "name-unsafe",
        "§2.9",
        {"name": "bad;name"},
        lambda r: _safe_text(r, "Model connector name") if r >= (3, 1) else ok(result="updated"),
        gates=("3.1",),
    ),
]


@pytest.mark.parametrize(("cluster", "row"), gate_cases(UPDATE_ROWS), indirect=["cluster"])
def test_update_connector(cluster: Any, world: World, row: Row) -> None:
    rel = release(cluster.version)
    if rel < (2, 12):
        pytest.skip("update connector is GA from 2.12")
    connector_id = "nope" if row.id == "unknown-id" else world.connector()
    if row.id == "unknown-id":
        world.connector()
    status, body = _update(cluster, connector_id, row.body)
    row.expect(rel).check(status, body)


@pytest.mark.gates("3.3")
def test_update_an_mcp_connector_credential(cluster: Any) -> None:
    """An MCP connector has a `url` and no actions: an update re-sending its credential
    is not refused for want of actions (§2.9; `McpConnector` checks its own url)."""
    if release(cluster.version) < (3, 3):
        pytest.skip("mcp_streamable_http is 3.3+")
    enable = {"persistent": {"plugins.ml_commons.mcp_connector_enabled": True}}
    cluster.client.cluster.put_settings(body=enable)
    body = {
        "name": "mcp tools",
        "version": "1",
        "protocol": "mcp_streamable_http",
        "url": "https://mcp.example/mcp",
        "headers": {"Authorization": "Bearer ${credential.token}"},
        "credential": {"token": "first"},
    }
    status, created = call(cluster.client, "POST", CREATE, body)
    assert status == 200, created
    status, answer = _update(cluster, created["connector_id"], {"credential": {"token": "second"}})
    assert status == 200 and answer["result"] == "updated", answer


def test_update_refused_while_a_model_is_deployed(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    if rel < (2, 12):
        pytest.skip("update connector is GA from 2.12")
    connector_id = world.connector()
    model_id = world.model(connector_id)
    world.deploy(model_id)
    status, body = _update(cluster, connector_id, {"description": "changed"})
    text = (
        f"1 models are still using this connector, please undeploy the models first: [{model_id}]"
    )
    assert (status, reason(body)) == (400, text)


@pytest.mark.gates("2.11", "2.12")
def test_delete_blocked_while_a_model_references_it(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    connector_id = world.connector()
    model_id = world.model(connector_id)
    status, body = call(cluster.client, "DELETE", f"{ML}/connectors/{connector_id}")
    base = "1 models are still using this connector, please delete or update the models first"
    if rel < (2, 11):
        assert (status, reason(body)) == (500, f"{base}!")
    else:
        assert (status, reason(body)) == (409 if rel >= (2, 12) else 500, f"{base}: [{model_id}]")


def test_delete_unknown_and_existing(cluster: Any, world: World) -> None:
    connector_id = world.connector()
    status, body = call(cluster.client, "DELETE", f"{ML}/connectors/unknown-connector")
    assert status == 200 and body["result"] == "not_found"
    status, body = call(cluster.client, "DELETE", f"{ML}/connectors/{connector_id}")
    assert status == 200 and body["result"] == "deleted" and body["_id"] == connector_id


@pytest.mark.gates("2.10", "3.5")
def test_remote_inference_disabled(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    if rel < (2, 10):
        pytest.skip("the setting exists from 2.10")
    key = "plugins.ml_commons.remote_inference.enabled"
    cluster.client.cluster.put_settings(body={"transient": {key: False}})
    try:
        status, body = call(cluster.client, "POST", CREATE, connector_body())
    finally:
        cluster.client.cluster.put_settings(body={"transient": {key: None}})
    text = (
        "Remote Inference is currently disabled. To enable it, update the setting "
        '"plugins.ml_commons.remote_inference_enabled" to true.'
    )
    assert (status, reason(body)) == (400 if rel >= (3, 5) else 500, text)


def test_search_needs_a_body(cluster: Any, world: World) -> None:
    world.connector()
    status, body = call(cluster.client, "GET", f"{ML}/connectors/_search")
    assert (status, reason(body)) == (400, "request body or source parameter is required")
    assert body["error"]["type"] == "parse_exception"


@pytest.mark.gates("2.12")
def test_search_before_the_index_exists(cluster: Any) -> None:
    cluster.require_sandbox()  # a real cluster may already hold connectors
    status, body = call(
        cluster.client, "POST", f"{ML}/connectors/_search", {"query": {"match_all": {}}}
    )
    if release(cluster.version) >= (2, 12):
        assert status == 200
        assert body["hits"] == {
            "total": {"value": 0, "relation": "eq"},
            "max_score": None,
            "hits": [],
        }
    else:
        assert status == 404 and body["error"]["type"] == "index_not_found_exception"


@pytest.mark.gates("2.11", "2.12")
def test_update_behind_the_2_11_flag(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    flag = "plugins.ml_commons.update_connector.enabled"
    connector_id = world.connector()
    if rel != (2, 11):
        # The flag exists in 2.11 only (§9): before, no update API; after, always on.
        status, body = call(
            cluster.client, "PUT", "/_cluster/settings", {"transient": {flag: True}}
        )
        assert (status, reason(body)) == (400, f"transient setting [{flag}], not recognized")
        return
    status, body = _update(cluster, connector_id, {"description": "d"})
    assert (status, reason(body)) == (
        500,
        "Update connector API is currently disabled. To enable it, update the setting "
        '"plugins.ml_commons.update_connector.enabled" to true.',
    )
    cluster.client.cluster.put_settings(body={"transient": {flag: True}})
    try:
        status, body = _update(cluster, connector_id, {"description": "d"})
    finally:
        cluster.client.cluster.put_settings(body={"transient": {flag: None}})
    assert status == 200 and body["result"] == "updated"


@pytest.mark.gates("2.12")
def test_missing_index_answers(cluster: Any) -> None:
    cluster.require_sandbox()  # a fresh sandbox has no connector index yet
    rel = release(cluster.version)
    status, body = call(cluster.client, "GET", f"{ML}/connectors/any")
    if rel >= (2, 12):
        assert (status, reason(body)) == (404, "Failed to find connector")
    else:
        assert (status, reason(body)) == (500, "Fail to find connector")
    status, body = call(cluster.client, "DELETE", f"{ML}/connectors/any")
    assert (status, reason(body)) == (404, "Failed to find connector")


@pytest.mark.gates("3.2", "3.7")
def test_empty_trusted_list(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    key = "plugins.ml_commons.trusted_connector_endpoints_regex"
    cluster.client.cluster.put_settings(body={"transient": {key: []}})
    try:
        status, body = call(cluster.client, "POST", CREATE, connector_body())
    finally:
        cluster.client.cluster.put_settings(body={"transient": {key: None}})
    if rel >= (3, 7):
        text = (
            "Trusted connector endpoints regex is not configured. Please set "
            "plugins.ml_commons.trusted_connector_endpoints_regex."
        )
    else:
        text = _trusted(rel, OPENAI_URL)
    assert (status, reason(body)) == (400, text)
