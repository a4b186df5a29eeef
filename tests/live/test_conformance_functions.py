"""Conformance of the built-in pre/post-process function sets (reference §4, §11).

Create and update never check a function name (§4.2); a name the release does not know is
compiled as a Painless script at predict, which refuses it as an unknown symbol. So each row
names a function introduced at release R and predicts on R-1 (the script compile error) and
on R (the built-in runs). Pre-process rows need no remote answer: the action points at a
private address, refused only after pre-processing, so they run on a real cluster too and no
request leaves it. Post-process functions run on the remote answer, which comes from the
loopback model stub (`tests/support/model_server.py`): those rows are sandbox-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.sandbox.testing import gate_cases
from tests.support.conformance import (
    ML,
    World,
    call,
    error_type,
    private_refusal,
    reason,
    release,
)
from tests.support.model_server import ModelServer

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE = "plugins.ml_commons.connector.private_ip_enabled"
PRIVATE_URL = "http://127.0.0.1:9/embed"


@dataclass(frozen=True)
class PreRow:
    """A pre-process function, the release that introduced it and a body using its output."""

    function: str
    since: str
    request_body: str

    @property
    def id(self) -> str:
        return self.function.removeprefix("connector.pre_process.")

    @property
    def gates(self) -> tuple[str, ...]:
        return (self.since,)


PRE_ROWS = [
    PreRow("connector.pre_process.default.embedding", "2.11", '{"input": ${parameters.input}}'),
    PreRow(
        "connector.pre_process.bedrock.embedding",
        "2.12",
        '{"inputText": "${parameters.inputText}"}',
    ),
    PreRow(
        "connector.pre_process.bedrock.multimodal_embedding",
        "2.16",
        '{"inputText": "${parameters.inputText}"}',
    ),
    PreRow(
        "connector.pre_process.cohere.multimodal_embedding",
        "2.19",
        '{"images": ${parameters.images}, "input_type": "image"}',
    ),
    PreRow(
        "connector.pre_process.bedrock.nova.text_embedding",
        "3.4",
        '{"inputText": "${parameters.inputText}"}',
    ),
    PreRow("connector.pre_process.bedrock.nova.embedding", "3.5", '{"text": "${parameters.text}"}'),
]


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


@pytest.fixture
def private_url(cluster: Any) -> Iterator[None]:
    """Trust `PRIVATE_URL` (private addresses stay refused: the default of every release)."""
    cluster.client.cluster.put_settings(
        body={"transient": {TRUSTED: [r"^http://127\.0\.0\.1:9/.*$"]}}
    )
    yield
    cluster.client.cluster.put_settings(body={"transient": {TRUSTED: None}})


def assert_unknown_symbol(status: int, body: Any, function: str) -> None:
    """The Painless compile error of a function name the release does not have (§4.2)."""
    assert (status, error_type(body), reason(body)) == (400, "script_exception", "compile error")
    assert body["error"]["lang"] == "painless"
    assert body["error"]["script"] == function
    assert body["error"]["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": f"cannot resolve symbol [{function}]",
    }


@pytest.mark.parametrize(("cluster", "row"), gate_cases(PRE_ROWS), indirect=["cluster"])
def test_pre_process_functions_exist_from_their_release(
    cluster: Any, world: World, private_url: None, row: PreRow
) -> None:
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": PRIVATE_URL,
        "request_body": row.request_body,
        "pre_process_function": row.function,
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = call(
        cluster.client,
        "POST",
        f"{ML}/_predict/text_embedding/{model_id}",
        {"text_docs": ["aGVsbG8="]},
    )
    rel = release(cluster.version)
    if rel < release(row.since):
        assert_unknown_symbol(status, body, row.function)
        return
    # The built-in filled the body; the call itself is then refused at the private address.
    assert (status, reason(body)) == (400, private_refusal(rel, "127.0.0.1")), body


@dataclass(frozen=True)
class PostRow:
    """A post-process function, its release, a remote answer and the tensors it makes."""

    function: str
    since: str
    answer: dict[str, Any]
    output: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.function.removeprefix("connector.post_process.")

    @property
    def gates(self) -> tuple[str, ...]:
        return (self.since,)


JOB_ARN = "arn:aws:bedrock:us-east-1:111122223333:model-invocation-job/abc123"
POST_ROWS = [
    PostRow(
        "connector.post_process.bedrock.batch_job_arn",
        "2.18",
        {"jobArn": JOB_ARN},
        [
            {
                "name": "response",
                "dataAsMap": {"jobArn": JOB_ARN, "processedJobArn": JOB_ARN.replace("/", "%2F")},
            }
        ],
    ),
    PostRow(
        "connector.post_process.cohere_v2.embedding.float",
        "3.0",
        {"embeddings": {"float": [[0.5, -0.25]]}},
        [
            {
                "name": "sentence_embedding",
                "data_type": "FLOAT32",
                "shape": [2],
                "data": [0.5, -0.25],
            }
        ],
    ),
    PostRow(
        "connector.post_process.mlcommons.passthrough",
        "3.3",
        {"inference_results": [{"output": [{"name": "response", "dataAsMap": {"a": 1}}]}]},
        [{"name": "response", "dataAsMap": {"a": 1}}],
    ),
]


@pytest.fixture
def stub() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.mark.parametrize(("cluster", "row"), gate_cases(POST_ROWS), indirect=["cluster"])
def test_post_process_functions_exist_from_their_release(
    cluster: Any, world: World, stub: ModelServer, row: PostRow
) -> None:
    cluster.require_sandbox()  # the cluster must reach the stub on the test runner's loopback
    settings = {TRUSTED: [r"^http://127\.0\.0\.1:[0-9]+/.*$"], PRIVATE: True}
    cluster.client.cluster.put_settings(body={"transient": settings})
    stub.behaviour.success_body = row.answer
    action = {
        "action_type": "PREDICT",
        "method": "POST",
        "url": stub.url + "/v1/embeddings",
        "request_body": '{"input": ["${parameters.prompt}"]}',
        "post_process_function": row.function,
    }
    model_id = world.model(world.connector(actions=[action]))
    world.deploy(model_id)
    status, body = call(
        cluster.client, "POST", f"{ML}/models/{model_id}/_predict", {"parameters": {"prompt": "x"}}
    )
    if release(cluster.version) < release(row.since):
        assert_unknown_symbol(status, body, row.function)
        return
    assert status == 200, body
    assert body["inference_results"][0]["output"] == row.output
