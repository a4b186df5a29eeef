"""Aleph Alpha emulator: `POST /semantic_embed` (luminous models), bearer token.

The full embedding has 5120 dimensions for luminous-base; `compress_to_size: 128` gives
128. Errors are `{"error": ..., "code": ...}` (docs/reference/providers.md).
"""

from __future__ import annotations

from reconciler.sandbox.providers import vectors
from reconciler.sandbox.providers.exchanges import Call, MalformedError, Reply, reply, require


def error(status: int, message: str) -> Reply:
    codes = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS"}
    return reply(status, {"error": message, "code": codes.get(status, "INTERNAL_SERVER_ERROR")})


def aleph_alpha(call: Call) -> Reply:
    """api.aleph-alpha.com."""
    if call.bearer() is None:
        return error(401, "Unauthenticated: no token given")
    if call.path.rstrip("/") != "/semantic_embed" or call.method != "POST":
        return error(404, f"no such endpoint: {call.path}")
    try:
        body = call.json()
        model = str(require(body, "model"))
        prompt = require(body, "prompt")
        representation = require(body, "representation")
        if representation not in ("symmetric", "document", "query"):
            raise MalformedError("representation must be one of symmetric, document, query")
        size = body.get("compress_to_size")
        if size not in (None, 128):
            raise MalformedError("compress_to_size must be 128")
    except MalformedError as exc:
        return error(400, str(exc))
    dimension = 128 if size == 128 else vectors.DIMENSIONS.get(model, 5120)
    text = prompt if isinstance(prompt, str) else str(prompt)
    return reply(
        200,
        {
            "model_version": "2022-04",
            "embedding": vectors.embed(text, model=model, dimension=dimension),
        },
    )
