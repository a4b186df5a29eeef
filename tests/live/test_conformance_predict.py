"""Conformance of predict (reference §8, §3.2, §6.9) against the loopback model stub.

Rows that need the stub to be reachable from the cluster call `cluster.require_sandbox()`: a
real cluster in a container cannot reach the test runner's loopback. Rows that fail before any
outbound call (private address, placeholders, disabled model) run everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.conformance import (
    ML,
    OPENAI_URL,
    World,
    call,
    error_type,
    private_refusal,
    reason,
    release,
)
from tests.support.model_server import ModelServer, vector

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE = "plugins.ml_commons.connector.private_ip_enabled"
AUTO_DEPLOY = "plugins.ml_commons.model_auto_deploy.enable"
CHAT_BODY = (
    '{"model": "${parameters.model}", "messages": [{"role": "user", '
    '"content": "${parameters.prompt}"}]}'
)


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


@pytest.fixture
def stub() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture
def loopback(cluster: Any) -> Iterator[None]:
    """Trust the loopback stub (and allow private addresses where the setting exists)."""
    settings: dict[str, Any] = {
        TRUSTED: [r"^http://127\.0\.0\.1:[0-9]+/.*$", r"^https://api\.openai\.com/.*$"]
    }
    if release(cluster.version) >= (2, 15):
        settings[PRIVATE] = True
    cluster.client.cluster.put_settings(body={"transient": settings})
    yield
    cluster.client.cluster.put_settings(body={"transient": dict.fromkeys(settings)})


def _chat_model(world: World, url: str, *, deploy: bool = True, **model: Any) -> str:
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": url + "/v1/chat/completions",
        "headers": {"Authorization": "Bearer ${credential.key}"},
        "request_body": CHAT_BODY,
    }
    connector_id = world.connector(credential={"key": "sk-conformance-secret"}, actions=[action])
    model_id = world.model(connector_id, **model)
    if deploy:
        world.deploy(model_id)
    return model_id


def _predict(cluster: Any, model_id: str, parameters: dict[str, Any]) -> tuple[int, Any]:
    return call(
        cluster.client, "POST", f"{ML}/models/{model_id}/_predict", {"parameters": parameters}
    )


@pytest.mark.gates("2.14", "2.15")
def test_private_address_refused(cluster: Any, world: World, loopback: None) -> None:
    rel = release(cluster.version)
    if rel >= (2, 15):
        cluster.client.cluster.put_settings(body={"transient": {PRIVATE: False}})
    model_id = _chat_model(world, "http://127.0.0.1:9")
    status, body = _predict(cluster, model_id, {"prompt": "hi"})
    assert (status, reason(body)) == (400, private_refusal(rel, "127.0.0.1"))


def test_predict_round_trip(cluster: Any, world: World, loopback: None, stub: ModelServer) -> None:
    cluster.require_sandbox()
    rel = release(cluster.version)
    if rel < (2, 15):
        pytest.skip("private addresses are always refused before 2.15")
    model_id = _chat_model(world, stub.url)
    status, body = _predict(cluster, model_id, {"prompt": 'say "hi"'})
    assert status == 200
    result = body["inference_results"][0]
    assert result["status_code"] == 200
    output = result["output"][0]
    assert output["name"] == "response"
    assert output["dataAsMap"]["choices"][0]["message"]["content"] == 'echo: say "hi"'
    sent = stub.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-conformance-secret"
    assert "sk-conformance-secret" not in json.dumps(sent.body)
    assert sent.body["messages"][0]["content"] == 'say "hi"'


def test_missing_placeholder(cluster: Any, world: World, loopback: None) -> None:
    rel = release(cluster.version)
    model_id = _chat_model(world, OPENAI_URL.removesuffix("/v1/chat/completions"))
    status, body = _predict(cluster, model_id, {})
    assert (status, reason(body)) == (
        400,
        "Some parameter placeholder not filled in payload: prompt",
    )
    assert rel >= (2, 9)


# Rows that must run before 2.15, where private addresses are always refused, call an emulated
# provider (api.openai.com, answered inside the sandbox) instead of the loopback stub. Against
# a real cluster the same call would reach the real provider, so those rows (or their pre-gate
# side) call `cluster.require_sandbox()`.
OPENAI_KEY_HEADER = {"Authorization": "Bearer ${credential.openAI_key}"}


@pytest.mark.gates("2.11")
def test_status_code_and_remote_errors_from_2_11(cluster: Any, world: World) -> None:
    cluster.require_sandbox()
    rel = release(cluster.version)
    model_id = world.model(deploy=True)
    world.wait_state(model_id, "DEPLOYED")
    status, body = _predict(cluster, model_id, {"prompt": "hi"})
    assert status == 200, body
    result = body["inference_results"][0]
    assert result["output"][0]["dataAsMap"]["object"] == "chat.completion"
    # `status_code` in the output from 2.11 (§8.1).
    assert result.get("status_code") == (200 if rel >= (2, 11) else None)
    # No Authorization header: OpenAI answers 401 with its error envelope.
    keyless = {"action_type": "PREDICT", "method": "POST", "url": OPENAI_URL}
    keyless["request_body"] = CHAT_BODY
    keyless_id = world.model(world.connector(actions=[keyless]))
    world.deploy(keyless_id)
    status, body = _predict(cluster, keyless_id, {"prompt": "hi"})
    if rel < (2, 11):
        # 2.9-2.10 did not fail on a non-2xx answer: the error is the output (§8.1).
        assert status == 200, body
        answer = body["inference_results"][0]["output"][0]["dataAsMap"]
    else:
        assert status == 401, body
        prefix = "Error from remote service: "
        assert str(reason(body)).startswith(prefix), body
        answer = json.loads(str(reason(body)).removeprefix(prefix))
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["message"].startswith("You didn't provide an API key.")


@pytest.mark.gates("2.12")
def test_invalid_payload(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    if rel < (2, 12):
        cluster.require_sandbox()  # the body goes out to the provider before 2.12
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": OPENAI_URL,
        "headers": OPENAI_KEY_HEADER,
        "request_body": "text ${parameters.prompt}",
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    if rel >= (2, 12):
        assert (status, reason(body)) == (400, "Invalid payload: text x")
        return
    # 2.11 sends the text as it stands; OpenAI refuses a body that is not JSON.
    assert status == 400, body
    prefix = "Error from remote service: "
    answer = json.loads(str(reason(body)).removeprefix(prefix))
    assert answer["error"]["message"].startswith("We could not parse the JSON body")


@pytest.mark.gates("2.12")
def test_disabled_model(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    model_id = world.model(is_enabled=False)
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    if rel >= (2, 12):
        assert (status, reason(body)) == (403, "Model is disabled.")
        return
    # Before 2.12 `is_enabled` is no model field: the model is only not deployed yet ...
    assert (status, reason(body)) == (
        400,
        f"Model not ready yet. Please run this first: POST /_plugins/_ml/models/{model_id}/_deploy",
    )
    # ... and once deployed it answers.
    cluster.require_sandbox()
    world.deploy(model_id)
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    assert status == 200, body


@pytest.mark.gates("2.14")
def test_transport_errors_are_wrapped_from_2_14(cluster: Any, world: World) -> None:
    sandbox = cluster.require_sandbox()
    model_id = world.model()
    world.deploy(model_id)
    sandbox.faults.configure({"rules": [{"route": f"POST {OPENAI_URL}", "reset_rate": 1.0}]})
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    # 2.14 moved HTTP connectors to the async client, whose error handler names the transport
    # failure (`Connection reset` in the sandbox); §8.1 says 3.0, but the wrapper is in
    # MLSdkAsyncHttpResponseHandler from tag 2.14.0.0. Before, the sync client's failure is
    # rethrown as a bare MLException.
    text = (
        "Error communicating with remote model: Connection reset"
        if release(cluster.version) >= (2, 14)
        else "Fail to execute http connector"
    )
    assert (status, reason(body), error_type(body)) == (500, text, "m_l_exception")


@pytest.mark.gates("2.13", "2.14")
def test_undeployed_model_without_auto_deploy(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    model_id = world.model()
    if rel < (2, 13):
        status, body = _predict(cluster, model_id, {"prompt": "x"})
        assert (status, reason(body)) == (
            400,
            f"Model not ready yet. Please run this first: POST "
            f"/_plugins/_ml/models/{model_id}/_deploy",
        )
        return
    if rel < (2, 14):
        pytest.skip("2.13 wording is not in the reference")
    cluster.client.cluster.put_settings(body={"transient": {AUTO_DEPLOY: False}})
    try:
        status, body = _predict(cluster, model_id, {"prompt": "x"})
    finally:
        cluster.client.cluster.put_settings(body={"transient": {AUTO_DEPLOY: None}})
    assert (status, reason(body)) == (400, "Model not ready yet. Please deploy the model first.")


def test_model_opted_out_of_auto_deploy(cluster: Any, world: World) -> None:
    if release(cluster.version) < (2, 14):
        pytest.skip("deploy_setting wording from 2.14")
    model_id = world.model(deploy_setting={"is_auto_deploy_enabled": False})
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    assert (status, reason(body)) == (
        400,
        "Auto deployment disabled for this model, please deploy model first",
    )


def test_auto_deploy_on_predict(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    model_id = _chat_model(world, stub.url, deploy=False)
    status, _ = _predict(cluster, model_id, {"prompt": "x"})
    assert status == 200
    assert world.wait_state(model_id, "DEPLOYED")["model_state"] == "DEPLOYED"


def test_remote_error_status(cluster: Any, world: World, loopback: None, stub: ModelServer) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    model_id = _chat_model(world, stub.url)
    stub.behaviour.status = 429
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    assert status == 429
    assert reason(body) == f"Error from remote service: {json.dumps(stub.behaviour.error_body)}"


def test_embedding_post_process(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": stub.url + "/v1/embeddings",
        "request_body": '{"input": ${parameters.input}}',
        "pre_process_function": "connector.pre_process.openai.embedding",
        "post_process_function": "connector.post_process.openai.embedding",
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = call(
        cluster.client,
        "POST",
        f"{ML}/_predict/text_embedding/{model_id}",
        {"text_docs": ["a", "bb"]},
    )
    assert status == 200
    tensors = body["inference_results"][0]["output"]
    assert [t["data"] for t in tensors] == [vector("a"), vector("bb")]
    assert {t["name"] for t in tensors} == {"sentence_embedding"}


def test_unknown_post_process_function_is_a_script(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": stub.url + "/v1/embeddings",
        "request_body": '{"input": ["${parameters.prompt}"]}',
        "post_process_function": "connector.post_process.openai.embeding",
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    assert status == 400 and body["error"]["type"] == "script_exception"


@pytest.mark.gates("3.7")
def test_trusted_endpoints_rechecked_at_predict(cluster: Any, world: World, loopback: None) -> None:
    if release(cluster.version) < (3, 7):
        pytest.skip("the predict-time re-check exists from 3.7")
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": "https://${parameters.host}/v1/chat/completions",
        "request_body": '{"q": "${parameters.prompt}"}',
    }
    model_id = world.model(world.connector(parameters={"host": "api.openai.com"}, actions=[action]))
    world.deploy(model_id)
    status, body = _predict(cluster, model_id, {"prompt": "x", "host": "evil.example"})
    assert (status, reason(body)) == (
        400,
        "Connector URL is not matching the trusted connector endpoint regex",
    )


@pytest.mark.gates("3.7")
def test_private_endpoint_regex(cluster: Any, world: World, loopback: None) -> None:
    if release(cluster.version) < (3, 7):
        pytest.skip("trusted_connector_private_endpoints_regex exists from 3.7")
    key = "plugins.ml_commons.trusted_connector_private_endpoints_regex"
    model_id = _chat_model(world, "http://127.0.0.1:9")
    cluster.client.cluster.put_settings(body={"transient": {key: [r"^http://10\.1\.2\.3/.*$"]}})
    try:
        status, body = _predict(cluster, model_id, {"prompt": "x"})
    finally:
        cluster.client.cluster.put_settings(body={"transient": {key: None}})
    assert (status, reason(body)) == (
        400,
        "Connector URL is not matching the trusted connector private endpoint regex",
    )


@pytest.mark.gates("2.17")
def test_skip_validating_missing_parameters_from_2_17(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    model_id = _chat_model(world, stub.url)
    status, body = _predict(cluster, model_id, {"skip_validating_missing_parameters": "true"})
    if release(cluster.version) < (2, 17):
        text = "Some parameter placeholder not filled in payload: prompt"
        assert (status, reason(body)) == (400, text)
        return
    assert status == 200, body
    # The placeholder is sent as it stands (§8.2 rule 6).
    assert stub.requests[-1].body["messages"][0]["content"] == "${parameters.prompt}"


@pytest.mark.gates("3.2")
def test_empty_remote_bodies_from_3_2(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    rel = release(cluster.version)
    model_id = _chat_model(world, stub.url)
    stub.behaviour.empty = True
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    if rel >= (3, 2):
        assert (status, reason(body)) == (502, "Remote service returned empty response body")
    else:
        assert status == 200, body
    stub.behaviour.status = 500
    status, body = _predict(cluster, model_id, {"prompt": "x"})
    text = (
        "Remote service returned error status 500 with empty body"
        if rel >= (3, 2)
        else "Error from remote service: "
    )
    assert (status, reason(body)) == (500, text)


@pytest.mark.gates("3.5")
def test_put_and_delete_methods_from_3_5(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    action = {
        "action_type": "PREDICT",
        "method": "PUT",
        "url": stub.url + "/v1/chat/completions",
        "request_body": CHAT_BODY,
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = _predict(cluster, model_id, {"prompt": "x", "model": "m"})
    if release(cluster.version) < (3, 5):
        assert (status, reason(body)) == (400, "unsupported http method")
        return
    assert status == 200, body
    assert stub.requests[-1].method == "PUT"


def _embedding_model(world: World, url: str, **functions: str) -> str:
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": url + "/v1/embeddings",
        "request_body": '{"input": ${parameters.input}}',
        **functions,
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    return model_id


# A post-process script in the shape the official blueprints use (§4.2): tensor JSON by hand.
TENSOR_SCRIPT = (
    'def e = params.data[0].embedding; return "{\\"name\\":\\"sentence_embedding\\",'
    '\\"data_type\\":\\"FLOAT32\\",\\"shape\\":[" + e.length + "],\\"data\\":" + e + "}";'
)
# A pre-process script building the request parameters from the JSON-escaped text documents.
DOCS_SCRIPT = (
    'StringBuilder b = new StringBuilder("[");'
    "for (int i = 0; i < params.text_docs.length; i++) {"
    " if (i > 0) { b.append(','); } b.append('\"' + params.text_docs[i] + '\"'); }"
    "b.append(']'); return '{\"parameters\":{\"input\":' + b + '}}';"
)


def test_painless_process_functions_run_at_predict(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    model_id = _embedding_model(
        world, stub.url, pre_process_function=DOCS_SCRIPT, post_process_function=TENSOR_SCRIPT
    )
    status, body = call(
        cluster.client,
        "POST",
        f"{ML}/_predict/text_embedding/{model_id}",
        {"text_docs": ['say "a"', "bb"]},
    )
    assert status == 200, body
    # A script pre-process function sends one document per remote call (§4.2).
    assert [r["output"] for r in body["inference_results"]] == [
        [{"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [4], "data": v}]
        for v in (vector('say "a"'), vector("bb"))
    ]
    assert [r.body["input"] for r in stub.requests] == [['say "a"'], ["bb"]]


def test_painless_beyond_the_subset_is_named_at_predict(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    script = "def n = params.data.size();\nswitch (n) { default: return null; }"
    model_id = _embedding_model(world, stub.url, post_process_function=script)
    status, body = _predict(cluster, model_id, {"input": ["x"]})
    assert status == 400 and body["error"]["type"] == "script_exception"
    assert str(reason(body)).startswith(
        "unsupported Painless construct [switch statement] (switch) at line 2, column 1"
    )
    assert body["error"]["lang"] == "painless"


def test_response_filter_applies_at_predict(
    cluster: Any, world: World, loopback: None, stub: ModelServer
) -> None:
    cluster.require_sandbox()
    if release(cluster.version) < (2, 15):
        pytest.skip("needs private addresses (2.15+) to reach the stub")
    model_id = _chat_model(world, stub.url)
    status, body = _predict(
        cluster,
        model_id,
        {"prompt": "hi", "model": "m", "response_filter": "$.choices[0].message.content"},
    )
    assert status == 200, body
    assert body["inference_results"][0]["output"] == [
        {"name": "response", "dataAsMap": {"response": "echo: hi"}}
    ]
