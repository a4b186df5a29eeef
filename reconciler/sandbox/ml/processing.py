"""The built-in connector pre/post-process functions (reference §4.1) in Python.

Predicting calls `pre_process` for text-document inputs and `post_process` on every remote
answer. Built-ins turn text documents into request parameters and remote JSON into model
tensors; any other name would be a Painless script on a real cluster, which the sandbox cannot
run, so a post-process script fails at predict with a `script_exception`, as a script that
does not compile would. Pure functions: no store, no network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.sandbox.http import ApiError

Tensor = dict[str, Any]


def _json_list(texts: Sequence[str]) -> str:
    return json.dumps(list(texts), ensure_ascii=False, separators=(",", ":"))


# §4.1 pre-process: which parameter each provider's request template expects.
_PRE: dict[str, Callable[[Sequence[str]], dict[str, str]]] = {
    "connector.pre_process.openai.embedding": lambda docs: {"input": _json_list(docs)},
    "connector.pre_process.cohere.embedding": lambda docs: {"texts": _json_list(docs)},
    "connector.pre_process.default.embedding": lambda docs: {"input": _json_list(docs)},
    "connector.pre_process.bedrock.embedding": lambda docs: {"inputText": docs[0] if docs else ""},
}


def pre_process(name: str | None, texts: Sequence[str]) -> dict[str, str]:
    """Parameters produced from text documents; the default embedding function when unset."""
    function = _PRE.get(name or "connector.pre_process.default.embedding")
    if function is None:
        raise script_failure(name or "")
    return function(texts)


def embedding(vector: Sequence[Any]) -> Tensor:
    """One `sentence_embedding` tensor as ML Commons emits it."""
    return {
        "name": "sentence_embedding",
        "data_type": "FLOAT32",
        "shape": [len(vector)],
        "data": list(vector),
    }


def _embeddings(vectors: Any) -> list[Tensor]:
    if not isinstance(vectors, list):
        raise ApiError(
            400,
            "Embedding post-process expects a list of vectors",
            error_type="illegal_argument_exception",
        )
    return [embedding(vector) for vector in vectors]


def _openai(answer: Any) -> list[Tensor]:
    return _embeddings([item.get("embedding") for item in answer.get("data", [])])


def _rerank(results: Any) -> list[Tensor]:
    ordered = sorted(results, key=lambda item: item.get("index", 0))
    return [
        {
            "name": "similarity",
            "data_type": "FLOAT32",
            "shape": [1],
            "data": [item.get("relevance_score")],
        }
        for item in ordered
    ]


_POST: dict[str, Callable[[Any], list[Tensor]]] = {
    "connector.post_process.openai.embedding": _openai,
    "connector.post_process.cohere.embedding": lambda a: _embeddings(a.get("embeddings")),
    "connector.post_process.default.embedding": _embeddings,
    "connector.post_process.bedrock.embedding": lambda a: [embedding(a.get("embedding", []))],
    "connector.post_process.cohere.rerank": lambda a: _rerank(a.get("results", [])),
    "connector.post_process.default.rerank": _rerank,
    "connector.post_process.bedrock.rerank": lambda a: _rerank(a.get("results", [])),
    "connector.post_process.mlcommons.passthrough": lambda a: [
        {"name": "response", "dataAsMap": a if isinstance(a, dict) else {"response": a}}
    ],
}


def post_process(name: str | None, answer: Any, *, known: frozenset[str]) -> list[Tensor]:
    """Model tensors for a remote answer: `response`/`dataAsMap` when no function is set."""
    if not name:
        data = answer if isinstance(answer, dict) else {"response": answer}
        return [{"name": "response", "dataAsMap": data}]
    function = _POST.get(name)
    if function is None or name not in known:
        raise script_failure(name)
    try:
        return function(answer)
    except (AttributeError, TypeError) as exc:
        raise ApiError(
            400,
            f"Failed to process response with {name}: {exc}",
            error_type="illegal_argument_exception",
        ) from None


def script_failure(name: str) -> ApiError:
    """What a function name that is not a built-in becomes: a Painless compile failure."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    return ApiError(
        400,
        f"compile error: [{shown}] is not a built-in function of this version and the sandbox "
        "cannot run Painless scripts",
        error_type="script_exception",
    )
