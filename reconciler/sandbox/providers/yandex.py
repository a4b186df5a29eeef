"""Yandex Cloud AI Studio embeddings emulator.

Hosts llm.api.cloud.yandex.net and ai.api.cloud.yandex.net, `Authorization: Api-Key <key>`
or `Bearer <IAM token>`. `POST /foundationModels/v1/textEmbedding` takes `modelUri` and
`text` and answers `{"embedding", "numTokens", "modelVersion"}` (numbers as strings, as
its gRPC gateway prints int64); `POST /v1/embeddings` is the OpenAI-compatible form, one
text per call. Models are `emb://<folder>/text-search-doc|text-search-query/latest`, 256
dimensions. Errors are the gateway's `{"error": {"grpcCode", "httpCode", "message",
"httpStatus", "details"}}` (docs/reference/providers.md).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.sandbox.providers import vectors
from reconciler.sandbox.providers.exchanges import Call, MalformedError, Reply, reply, require

DIMENSION = 256
RATE_LIMIT = "ai.textEmbeddingsRequestsPerSecond.rate exceeded"
_MODEL_URI = re.compile(r"emb://(?P<folder>[a-z0-9]+)/(?P<model>[a-z0-9-]+)(?:/(?P<tag>[\w.-]+))?")
_MODELS = ("text-search-doc", "text-search-query", "text-embeddings")
_HTTP = {
    400: ("Bad Request", 3),
    401: ("Unauthorized", 16),
    404: ("Not Found", 5),
    429: ("Too Many Requests", 8),
    500: ("Internal Server Error", 13),
    503: ("Service Unavailable", 14),
}


def error(status: int, message: str) -> Reply:
    text, grpc = _HTTP.get(status, ("Internal Server Error", 13))
    body = {"grpcCode": grpc, "httpCode": status, "message": message, "httpStatus": text}
    return reply(status, {"error": {**body, "details": []}})


def yandex(call: Call) -> Reply:
    """llm.api.cloud.yandex.net / ai.api.cloud.yandex.net."""
    scheme, _, key = (call.header("authorization") or "").strip().partition(" ")
    if scheme not in ("Api-Key", "Bearer") or not key.strip():
        return error(401, "Unknown api key or IAM token")
    routes = {
        "/foundationModels/v1/textEmbedding": _text_embedding,
        "/v1/embeddings": _openai_embeddings,
    }
    handler = routes.get(call.path.rstrip("/"))
    if handler is None or call.method != "POST":
        return error(404, f"Not found: {call.method} {call.path}")
    try:
        return handler(call.json())
    except MalformedError as exc:
        return error(400, str(exc))


def _model(uri: Any) -> str:
    match = _MODEL_URI.fullmatch(str(uri))
    if match is None or match["model"] not in _MODELS:
        raise MalformedError(f"Model {uri} is not supported: expected emb://<folder>/<model>")
    return match["model"]


def _text_embedding(body: dict[str, Any]) -> Reply:
    model = _model(require(body, "modelUri"))
    text = require(body, "text")
    if not isinstance(text, str) or not text:
        raise MalformedError("text: must not be empty")
    return reply(
        200,
        {
            "embedding": vectors.embed(text, model=model, dimension=DIMENSION),
            "numTokens": str(vectors.tokens(text)),
            "modelVersion": "28.02.2024",
        },
    )


def _openai_embeddings(body: dict[str, Any]) -> Reply:
    model = _model(require(body, "model"))
    given = require(body, "input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or len(texts) != 1 or not isinstance(texts[0], str):
        raise MalformedError("input: expected a string or an array of exactly one string")
    if not texts[0]:
        raise MalformedError("input: must not be empty")
    used = vectors.tokens(texts[0])
    data = [
        {
            "object": "embedding",
            "index": 0,
            "embedding": vectors.embed(texts[0], model=model, dimension=DIMENSION),
        }
    ]
    return reply(
        200,
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": used, "total_tokens": used},
        },
    )
