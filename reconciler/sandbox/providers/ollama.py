"""Ollama emulator on its default port 11434: `/api/chat`, `/api/generate`, `/api/embed`
and the OpenAI-compatible `/v1/chat/completions`.

Ollama needs no key. Answers are non-streamed (`"stream": false`, which the ML Commons
blueprint sets); a streamed request gets the single final chunk. Errors are
`{"error": "..."}` (docs/reference/providers.md).
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.providers import openai, vectors
from reconciler.sandbox.providers.exchanges import (
    Call,
    MalformedError,
    Reply,
    reply,
    require,
    texts,
)

_CREATED_AT = "2024-01-01T00:00:00Z"


def error(status: int, message: str) -> Reply:
    return reply(status, {"error": message})


def ollama(call: Call) -> Reply:
    """localhost:11434."""
    if call.path.rstrip("/") == "/v1/chat/completions":
        return openai.keyless_chat(call, provider="Ollama")
    handlers = {"/api/chat": _chat, "/api/generate": _generate, "/api/embed": _embed}
    handler = handlers.get(call.path.rstrip("/"))
    if handler is None or call.method != "POST":
        return error(404, "404 page not found")
    try:
        return handler(call.json())
    except MalformedError as exc:
        return error(400, str(exc))


def _chat(body: dict[str, Any]) -> Reply:
    model = str(require(body, "model"))
    messages = require(body, "messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise MalformedError("messages must be a non-empty array")
    text = vectors.answer(str(messages[-1].get("content", "")), provider="Ollama")
    return reply(
        200,
        {
            "model": model,
            "created_at": _CREATED_AT,
            "message": {"role": "assistant", "content": text},
            "done_reason": "stop",
            "done": True,
        },
    )


def _generate(body: dict[str, Any]) -> Reply:
    model = str(require(body, "model"))
    text = vectors.answer(str(body.get("prompt", "")), provider="Ollama")
    return reply(
        200,
        {
            "model": model,
            "created_at": _CREATED_AT,
            "response": text,
            "done_reason": "stop",
            "done": True,
        },
    )


def _embed(body: dict[str, Any]) -> Reply:
    model = str(require(body, "model"))
    inputs = texts(require(body, "input"), field="input")
    dimension = vectors.DIMENSIONS.get(model.split(":", maxsplit=1)[0])
    if dimension is None:
        return error(404, f'model "{model}" not found, try pulling it first')
    embeddings = [vectors.embed(t, model=model, dimension=dimension) for t in inputs]
    return reply(200, {"model": model, "embeddings": embeddings})
