"""Helpers of the ML conformance suite (`tests/live/test_conformance_*.py`).

The suite runs the same tables against the sandbox (every profile) and against a real cluster
(`OSML_TEST_CLUSTER_URL`), so everything here goes through opensearch-py over HTTP and keys
expectations on the version the cluster reports, never on sandbox internals. `World` creates
uniquely named resources and removes them at teardown so a real cluster is left clean.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from opensearchpy import OpenSearch, TransportError

OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ML = "/_plugins/_ml"


def release(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as `2.19.1`."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def call(
    client: OpenSearch, method: str, path: str, body: Any = None, params: Any = None
) -> tuple[int, Any]:
    """(status, parsed body) of one request; errors are answers too, not exceptions."""
    try:
        answer = client.transport.perform_request(method, path, body=body, params=params)
    except TransportError as err:
        status = err.status_code if isinstance(err.status_code, int) else 0
        return status, err.info
    return 200, answer


def reason(body: Any) -> str | None:
    """The error reason of an OpenSearch error envelope (or a bare `error` string)."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    error = body["error"]
    return error.get("reason") if isinstance(error, dict) else str(error)


def error_type(body: Any) -> str | None:
    """The error type of an OpenSearch error envelope."""
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def private_refusal(rel: tuple[int, int], host: str) -> str:
    """The reason a call to a private address is refused with (reference §3.2): 2.9-2.13
    name only the host (`IllegalArgumentException(hostName)` in the sync HTTP client)."""
    return f"Remote inference host name has private ip address: {host}" if rel >= (2, 14) else host


def unique(prefix: str) -> str:
    """A name no other test (or earlier run on a real cluster) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def connector_body(**overrides: Any) -> dict[str, Any]:
    """A valid OpenAI chat connector body (trusted on every version's default list)."""
    body: dict[str, Any] = {
        "name": unique("conformance-connector"),
        "description": "conformance suite",
        "version": "1",
        "protocol": "http",
        "parameters": {"model": "gpt-4o-mini"},
        "credential": {"openAI_key": "sk-not-a-real-key"},
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": OPENAI_URL,
                "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                "request_body": '{"model": "${parameters.model}", "messages": '
                '[{"role": "user", "content": "${parameters.prompt}"}]}',
            }
        ],
    }
    body.update(overrides)
    return body


class World:
    """Resources created by one test, removed (models undeployed first) at teardown."""

    def __init__(self, client: OpenSearch, version: str) -> None:
        self.client = client
        self.release = release(version)
        self.connectors: list[str] = []
        self.groups: list[str] = []
        self.models: list[str] = []

    def connector(self, **overrides: Any) -> str:
        status, body = call(
            self.client, "POST", f"{ML}/connectors/_create", connector_body(**overrides)
        )
        assert status == 200, body
        self.connectors.append(body["connector_id"])
        return str(body["connector_id"])

    def group(self, name: str | None = None) -> str:
        status, body = call(
            self.client,
            "POST",
            f"{ML}/model_groups/_register",
            {"name": name or unique("conformance-group")},
        )
        assert status == 200, body
        self.groups.append(body["model_group_id"])
        return str(body["model_group_id"])

    def model(
        self,
        connector_id: str | None = None,
        *,
        group_id: str | None = None,
        deploy: bool = False,
        **overrides: Any,
    ) -> str:
        body: dict[str, Any] = {
            "name": unique("conformance-model"),
            "function_name": "remote",
            "connector_id": connector_id or self.connector(),
            "model_group_id": group_id or self.group(),
        }
        body.update(overrides)
        params = {"deploy": "true"} if deploy else None
        status, answer = call(self.client, "POST", f"{ML}/models/_register", body, params)
        assert status == 200, answer
        model_id = answer.get("model_id") or self.task_model_id(answer["task_id"])
        self.models.append(model_id)
        return str(model_id)

    def task_model_id(self, task_id: str) -> str:
        """2.9-2.10: registration is asynchronous; poll the task for `model_id`."""
        for _ in poll():
            status, task = call(self.client, "GET", f"{ML}/tasks/{task_id}")
            if status == 200 and task.get("model_id"):
                return str(task["model_id"])
        raise AssertionError(f"task {task_id} never produced a model_id")

    def wait_state(self, model_id: str, *states: str) -> dict[str, Any]:
        """Poll GET model until `model_state` is one of `states`."""
        for _ in poll():
            status, model = call(self.client, "GET", f"{ML}/models/{model_id}")
            if status == 200 and model.get("model_state") in states:
                return dict(model)
        raise AssertionError(f"model {model_id} never reached {states}")

    def deploy(self, model_id: str) -> dict[str, Any]:
        call(self.client, "POST", f"{ML}/models/{model_id}/_deploy")
        return self.wait_state(model_id, "DEPLOYED")

    def close(self) -> None:
        for model_id in self.models:
            call(self.client, "POST", f"{ML}/models/{model_id}/_undeploy")
            call(self.client, "DELETE", f"{ML}/models/{model_id}")
        for connector_id in self.connectors:
            call(self.client, "DELETE", f"{ML}/connectors/{connector_id}")
        for group_id in self.groups:
            call(self.client, "DELETE", f"{ML}/model_groups/{group_id}")


def poll(*, timeout: float = 30.0, interval: float = 0.05) -> Iterator[int]:
    """Yield attempts until `timeout` seconds passed (live tests may wait; unit tests never)."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        yield attempt
        attempt += 1
        time.sleep(interval)


class Expect:
    """What a conformance row expects: a status and an error reason, or a body subset."""

    def __init__(
        self,
        status: int,
        *,
        text: str | None = None,
        prefix: str | None = None,
        subset: dict[str, Any] | None = None,
        keys: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.text = text
        self.prefix = prefix
        self.subset = subset or {}
        self.keys = keys

    def check(self, status: int, body: Any) -> None:
        assert status == self.status, (status, body)
        if self.text is not None:
            assert reason(body) == self.text, body
        if self.prefix is not None:
            assert str(reason(body)).startswith(self.prefix), body
        for key, value in self.subset.items():
            assert body.get(key) == value, (key, body)
        for key in self.keys:
            assert key in body, (key, body)


def err(status: int, text: str) -> Expect:
    """An error answer with exactly this reason."""
    return Expect(status, text=text)


def ok(**subset: Any) -> Expect:
    """A 200 whose body contains `subset`."""
    return Expect(200, subset=subset)
