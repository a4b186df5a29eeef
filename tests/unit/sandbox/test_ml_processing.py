"""Built-in pre/post-process functions (reference §4.1) and the script fallback (§4.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import processing
from reconciler.sandbox.ml.profiles import get_profile

ALL = get_profile("3.x").functions


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("connector.pre_process.openai.embedding", {"input": '["a","b"]'}),
        ("connector.pre_process.cohere.embedding", {"texts": '["a","b"]'}),
        ("connector.pre_process.default.embedding", {"input": '["a","b"]'}),
        (None, {"input": '["a","b"]'}),
        ("connector.pre_process.bedrock.embedding", {"inputText": "a"}),
    ],
)
def test_pre_process_turns_documents_into_parameters(
    name: str | None, parameters: dict[str, str]
) -> None:
    assert processing.pre_process(name, ["a", "b"]) == parameters


@pytest.mark.parametrize(
    ("name", "answer", "vectors"),
    [
        (
            "connector.post_process.openai.embedding",
            {"data": [{"embedding": [1, 2]}, {"embedding": [3, 4]}]},
            [[1, 2], [3, 4]],
        ),
        ("connector.post_process.cohere.embedding", {"embeddings": [[1, 2]]}, [[1, 2]]),
        ("connector.post_process.default.embedding", [[5, 6, 7]], [[5, 6, 7]]),
        ("connector.post_process.bedrock.embedding", {"embedding": [9]}, [[9]]),
    ],
)
def test_embedding_post_processors_emit_sentence_embeddings(
    name: str, answer: Any, vectors: list[list[float]]
) -> None:
    tensors = processing.post_process(name, answer, known=ALL)
    assert tensors == [
        {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [len(v)], "data": v}
        for v in vectors
    ]


def test_rerank_post_processor_orders_by_index() -> None:
    answer = {
        "results": [{"index": 1, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}]
    }
    tensors = processing.post_process("connector.post_process.cohere.rerank", answer, known=ALL)
    assert [t["data"] for t in tensors] == [[0.9], [0.2]]


def test_no_post_processor_wraps_the_answer_as_data_as_map() -> None:
    assert processing.post_process(None, {"a": 1}, known=ALL) == [
        {"name": "response", "dataAsMap": {"a": 1}}
    ]


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("connector.post_process.openai.embeding", "3.x"),  # misspelt: a Painless script
        ("return params['x'];", "3.x"),
        ("connector.post_process.bedrock.embedding", "2.9"),  # not built in before 2.12
    ],
)
def test_unknown_post_process_names_fail_like_a_script(name: str, profile: str) -> None:
    with pytest.raises(ApiError) as caught:
        processing.post_process(name, {}, known=get_profile(profile).functions)
    assert caught.value.error_type == "script_exception"
    assert caught.value.status == 400


def test_pre_process_output_is_json() -> None:
    produced = processing.pre_process("connector.pre_process.openai.embedding", ['say "x"'])
    assert json.loads(produced["input"]) == ['say "x"']
