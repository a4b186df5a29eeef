"""Predict through the sandbox over HTTP with the provider emulators: the connector's request
is rendered, signed (AWS) and answered as the provider would, so a probe works offline.

Every call goes through opensearch-py to a real sandbox. The AWS cases show that the
sandbox signs what it sends (the emulator verifies the signature with the connector's keys)
and that a signing mistake, here a region that does not match the URL, fails as AWS fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

AWS_CREDENTIAL = {"access_key": "AKIDSANDBOX", "secret_key": "sandbox-secret-value"}


def openai_chat(url: str = "https://api.openai.com/v1/chat/completions") -> dict[str, Any]:
    return {
        "name": "chat",
        "description": "chat",
        "version": 1,
        "protocol": "http",
        "parameters": {"model": "gpt-4o-mini"},
        "credential": {"openAI_key": "sk-dummy"},
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": url,
                "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                "request_body": '{"model": "${parameters.model}", "messages": ${parameters.messages}}',
            }
        ],
    }


def titan(*, region: str = "us-east-1", session_token: str | None = None) -> dict[str, Any]:
    credential = dict(AWS_CREDENTIAL, **({"session_token": session_token} if session_token else {}))
    return {
        "name": "titan",
        "description": "titan",
        "version": 1,
        "protocol": "aws_sigv4",
        "parameters": {"region": region, "service_name": "bedrock"},
        "credential": credential,
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v1/invoke",
                "headers": {"content-type": "application/json", "x-amz-content-sha256": "required"},
                "request_body": '{ "inputText": "${parameters.inputText}" }',
                "pre_process_function": "connector.pre_process.bedrock.embedding",
                "post_process_function": "connector.post_process.bedrock.embedding",
            }
        ],
    }


def model_for(client: OpenSearch, connector: dict[str, Any]) -> str:
    """Create the connector and a deployed remote model on it; the model ID."""
    connector_id = client.plugins.ml.create_connector(body=connector)["connector_id"]
    body = {"name": connector["name"], "function_name": "remote", "connector_id": connector_id}
    task_id = client.transport.perform_request(
        "POST", "/_plugins/_ml/models/_register", params={"deploy": "true"}, body=body
    )["task_id"]
    for _ in range(200):
        task = client.plugins.ml.get_task(task_id=task_id)
        if task.get("model_id"):
            return str(task["model_id"])
        time.sleep(0.02)
    raise AssertionError("register did not finish")


def predict(client: OpenSearch, model_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
    answer = client.plugins.ml.predict_model(model_id=model_id, body={"parameters": parameters})
    return dict(answer["inference_results"][0])


@pytest.fixture
def client(sandbox_factory: Callable[..., Sandbox]) -> OpenSearch:
    return client_for(sandbox_factory("3.x"))


MESSAGES = [{"role": "user", "content": "Reply with the single word ready."}]


def test_an_openai_chat_probe_is_answered_offline(client: OpenSearch) -> None:
    result = predict(client, model_for(client, openai_chat()), {"messages": MESSAGES})
    assert result["status_code"] == 200
    answer = result["output"][0]["dataAsMap"]
    assert answer["object"] == "chat.completion"
    assert "Reply with the single word ready." in answer["choices"][0]["message"]["content"]


@pytest.mark.parametrize("session_token", [None, "FQoGZXIvYXdzSANDBOXTOKEN"])
def test_a_bedrock_titan_predict_is_signed_and_verified(
    client: OpenSearch, session_token: str | None
) -> None:
    model_id = model_for(client, titan(session_token=session_token))
    result = predict(client, model_id, {"inputText": "hello world"})
    tensor = result["output"][0]
    assert (tensor["name"], tensor["shape"]) == ("sentence_embedding", [1536])


def test_a_signature_for_the_wrong_region_is_refused_as_aws_refuses_it(
    client: OpenSearch,
) -> None:
    model_id = model_for(client, titan(region="eu-west-1"))
    with pytest.raises(TransportError) as caught:
        predict(client, model_id, {"inputText": "hello world"})
    assert caught.value.status_code == 403
    assert "Credential should be scoped to a valid region" in str(caught.value.info)


def test_an_injected_rate_limit_is_the_providers_429(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    faults = {
        "rules": [{"route": "POST https://api.openai.com/*", "refuse_next": 1, "status": 429}]
    }
    sandbox = sandbox_factory("3.x", faults=faults)
    client = client_for(sandbox)
    model_id = model_for(client, openai_chat())
    with pytest.raises(TransportError) as caught:
        predict(client, model_id, {"messages": MESSAGES})
    assert caught.value.status_code == 429
    assert "rate_limit_exceeded" in str(caught.value.info)
    assert predict(client, model_id, {"messages": MESSAGES})["status_code"] == 200


def test_without_emulators_a_provider_host_gets_a_real_call(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    """Ollama's default address is emulated; with the emulators off the sandbox really
    connects to 127.0.0.1:11434, where nothing listens in the test."""
    url = "http://127.0.0.1:11434/v1/chat/completions"
    for emulators, expected in ((True, 200), (False, None)):
        sandbox = sandbox_factory("3.x", emulators=emulators)
        client = client_for(sandbox)
        client.cluster.put_settings(
            body={
                "persistent": {
                    "plugins.ml_commons.connector.private_ip_enabled": True,
                    "plugins.ml_commons.trusted_connector_endpoints_regex": [".*"],
                }
            }
        )
        model_id = model_for(client, openai_chat(url))
        if expected is not None:
            assert predict(client, model_id, {"messages": MESSAGES})["status_code"] == expected
            continue
        with pytest.raises(TransportError) as caught:
            predict(client, model_id, {"messages": MESSAGES})
        assert "Connection refused" in str(caught.value.info)


SELF_HOSTED = "http://10.0.0.12:8000/v1/chat/completions"
SELF_HOSTED_TRUST = r"^http://10\.0\.0\.12:8000/v1/.*$"


def allow_private(client: OpenSearch, *, private_ip: bool, trusted: list[str]) -> None:
    client.cluster.put_settings(
        body={
            "persistent": {
                "plugins.ml_commons.connector.private_ip_enabled": private_ip,
                "plugins.ml_commons.trusted_connector_endpoints_regex": trusted,
            }
        }
    )


def test_a_mapped_private_host_is_answered_by_its_emulator(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory("3.x", emulate_hosts={"10.0.0.12:8000": "openai"})
    client = client_for(sandbox)
    allow_private(client, private_ip=True, trusted=[SELF_HOSTED_TRUST])
    model_id = model_for(client, openai_chat(SELF_HOSTED))
    result = predict(client, model_id, {"messages": MESSAGES})
    assert result["status_code"] == 200
    answer = result["output"][0]["dataAsMap"]
    assert answer["object"] == "chat.completion"
    assert "Reply with the single word ready." in answer["choices"][0]["message"]["content"]


def test_a_mapped_private_host_still_needs_the_private_ip_setting_and_the_trust(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory("3.x", emulate_hosts={"10.0.0.12:8000": "openai"})
    client = client_for(sandbox)
    allow_private(client, private_ip=False, trusted=[SELF_HOSTED_TRUST])
    model_id = model_for(client, openai_chat(SELF_HOSTED))
    with pytest.raises(TransportError) as caught:
        predict(client, model_id, {"messages": MESSAGES})
    assert caught.value.status_code == 400
    assert "Remote inference host name has private ip address: 10.0.0.12" in str(caught.value.info)
    # 3.7+ re-checks the trusted endpoints at predict time: without the pattern it is refused.
    allow_private(client, private_ip=True, trusted=["^https://api\\.openai\\.com/.*$"])
    with pytest.raises(TransportError) as caught:
        predict(client, model_id, {"messages": MESSAGES})
    assert caught.value.status_code == 400
    assert "Connector URL is not matching the trusted connector endpoint regex" in str(
        caught.value.info
    )


def test_the_openai_family_wants_a_bearer_key_as_api_openai_com_does(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory("3.x", emulate_hosts={"10.0.0.12:8000": "openai"})
    client = client_for(sandbox)
    allow_private(client, private_ip=True, trusted=[SELF_HOSTED_TRUST])
    connector = openai_chat(SELF_HOSTED)
    connector["actions"][0]["headers"] = {}
    with pytest.raises(TransportError) as caught:
        predict(client, model_for(client, connector), {"messages": MESSAGES})
    assert caught.value.status_code == 401
    assert "provide an API key" in str(caught.value.info)


def test_the_ollama_family_answers_without_a_key_even_with_the_emulators_off(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    # A loopback port: were the mapping ignored, the real call would stay on this machine.
    sandbox = sandbox_factory("3.x", emulators=False, emulate_hosts={"127.0.0.1:9": "ollama"})
    client = client_for(sandbox)
    allow_private(client, private_ip=True, trusted=[".*"])
    connector = openai_chat("http://127.0.0.1:9/v1/chat/completions")
    connector["actions"][0]["headers"] = {}
    result = predict(client, model_for(client, connector), {"messages": MESSAGES})
    assert result["status_code"] == 200
    assert result["output"][0]["dataAsMap"]["object"] == "chat.completion"


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ({"10.0.0.12:8000": "vllm"}, "unknown emulator family 'vllm'"),
        ({"http://10.0.0.12": "openai"}, "expected HOST[:PORT]=FAMILY"),
    ],
)
def test_a_bad_mapping_is_refused_when_the_sandbox_is_made(
    hosts: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Sandbox("3.x", emulate_hosts=hosts)
