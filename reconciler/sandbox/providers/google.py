"""Google Gemini (Generative Language API) and Vertex AI emulators.

Gemini: `POST /v1beta/models/{model}:generateContent` (and `/v1/...`) with the key in the
`key` query parameter or the `x-goog-api-key` header; `:embedContent` for embedding models.
Vertex AI: `POST /v1/projects/{project}/locations/{location}/publishers/google/models/
{model}:predict` (text embeddings: `instances` of `content`) or `:generateContent` (Gemini's
body and answer), with an OAuth bearer token. Errors are Google's `{"error": {"code",
"message", "status"}}` (docs/reference/providers.md).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.sandbox.providers import vectors
from reconciler.sandbox.providers.exchanges import Call, MalformedError, Reply, reply, require

RATE_LIMIT = "Resource has been exhausted (e.g. check quota)."
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error(status: int, message: str) -> Reply:
    return reply(
        status,
        {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}},
    )


def gemini(call: Call) -> Reply:
    """generativelanguage.googleapis.com."""
    if not (call.query.get("key") or call.header("x-goog-api-key")):
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )
    version, _, rest = call.path.strip("/").partition("/")
    model, _, method = rest.removeprefix("models/").partition(":")
    if version not in ("v1", "v1beta") or not rest.startswith("models/") or call.method != "POST":
        return error(404, f"Requested entity was not found: {call.path}")
    handlers = {"generateContent": _generate, "embedContent": _embed}
    handler = handlers.get(method)
    if handler is None:
        return error(404, f"Requested entity was not found: {call.path}")
    try:
        return handler(model, call.json())
    except MalformedError as exc:
        return error(400, f"Invalid JSON payload received. {exc}")


_VERTEX_PATH = re.compile(
    r"/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)"
)
_VERTEX_EMBEDDING_MODELS = {
    "textembedding-gecko": 768,
    "textembedding-gecko-multilingual": 768,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "text-multilingual-embedding-002": 768,
    "gemini-embedding-001": 3072,
}
"""Vertex AI text-embedding models (a `@00n` version suffix aside) and their dimensions."""


def vertex(call: Call) -> Reply:
    """{location}-aiplatform.googleapis.com."""
    if call.bearer() is None:
        return error(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
        )
    match = _VERTEX_PATH.fullmatch(call.path)
    if match is None or call.method != "POST":
        return error(404, f"Requested entity was not found: {call.path}")
    model, method = match["model"], match["method"]
    try:
        body = call.json()
        if method == "generateContent" and model.startswith("gemini"):
            return _generate(model, body)
        if method == "predict" and model.split("@", maxsplit=1)[0] in _VERTEX_EMBEDDING_MODELS:
            return _vertex_embeddings(model, body)
    except MalformedError as exc:
        return error(400, f"Invalid JSON payload received. {exc}")
    name = f"projects/{match['project']}/locations/{match['location']}/publishers/google/models"
    return error(404, f"Publisher Model `{name}/{model}` not found.")


def _vertex_embeddings(model: str, body: dict[str, Any]) -> Reply:
    instances = require(body, "instances")
    if not isinstance(instances, list) or not instances:
        raise MalformedError("instances: expected a non-empty array")
    parameters = body.get("parameters") or {}
    dimension = _VERTEX_EMBEDDING_MODELS[model.split("@", maxsplit=1)[0]]
    wanted = parameters.get("outputDimensionality") if isinstance(parameters, dict) else None
    if wanted is not None:
        if not isinstance(wanted, int) or not 1 <= wanted <= dimension:
            raise MalformedError(f"outputDimensionality must be between 1 and {dimension}")
        dimension = wanted
    predictions, characters = [], 0
    for instance in instances:
        content = instance.get("content") if isinstance(instance, dict) else None
        if not isinstance(content, str):
            raise MalformedError("instances[].content: expected a string")
        characters += len(content.replace(" ", ""))
        statistics = {"token_count": vectors.tokens(content), "truncated": False}
        values = vectors.embed(content, model=model, dimension=dimension)
        predictions.append({"embeddings": {"values": values, "statistics": statistics}})
    return reply(
        200, {"predictions": predictions, "metadata": {"billableCharacterCount": characters}}
    )


def _generate(model: str, body: dict[str, Any]) -> Reply:
    contents = require(body, "contents")
    if not isinstance(contents, list) or not contents or not isinstance(contents[-1], dict):
        raise MalformedError("contents: expected a non-empty array of Content")
    parts = contents[-1].get("parts") or []
    prompt = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    text = vectors.answer(prompt, provider="Gemini")
    candidate = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
    }
    usage = {
        "promptTokenCount": vectors.tokens(prompt),
        "candidatesTokenCount": vectors.tokens(text),
    }
    usage["totalTokenCount"] = usage["promptTokenCount"] + usage["candidatesTokenCount"]
    return reply(200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})


def _embed(model: str, body: dict[str, Any]) -> Reply:
    content = require(body, "content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise MalformedError("content.parts: expected a non-empty array")
    text = " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    dimension = body.get("outputDimensionality") or vectors.DIMENSIONS.get(model, 768)
    return reply(
        200, {"embedding": {"values": vectors.embed(text, model=model, dimension=int(dimension))}}
    )
