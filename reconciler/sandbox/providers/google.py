"""Google Gemini (Generative Language API) emulator.

`POST /v1beta/models/{model}:generateContent` (and `/v1/...`) with the key in the `key`
query parameter or the `x-goog-api-key` header; `:embedContent` for embedding models.
Errors are Google's `{"error": {"code", "message", "status"}}` (docs/reference/providers.md).
"""

from __future__ import annotations

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
