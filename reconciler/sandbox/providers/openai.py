"""OpenAI, Azure OpenAI and DeepSeek (OpenAI-compatible) emulators.

OpenAI: `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings` with
`Authorization: Bearer`. Azure OpenAI: the same bodies under
`/openai/deployments/{deployment}/...?api-version=...` with an `api-key` header (or a bearer
token), where the deployment stands for the model. DeepSeek: `/chat/completions` (and
`/v1/chat/completions`). Answers and errors have the providers' documented shapes
(docs/reference/providers.md). Called by `emulating.answer`; no network.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.sandbox.providers import vectors
from reconciler.sandbox.providers.exchanges import (
    Call,
    MalformedError,
    Reply,
    reply,
    require,
    texts,
)

_CREATED = 1_700_000_000
"""A fixed `created` timestamp: answers are deterministic."""


def error(
    status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None
) -> Reply:
    """OpenAI's error envelope."""
    return reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


def rate_limited() -> Reply:
    return error(
        429,
        "Rate limit reached for requests. Limit: 3 / min. Please try again in 20s.",
        kind="requests",
        code="rate_limit_exceeded",
    )


def openai(call: Call) -> Reply:
    """api.openai.com."""
    if call.bearer() is None:
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
            "or as the password field (with blank username) if you're accessing the API "
            "from your browser and are prompted for a username and password. You can "
            "obtain an API key from https://platform.openai.com/account/api-keys.",
        )
    routes = {
        "/v1/chat/completions": _chat,
        "/v1/completions": _completion,
        "/v1/embeddings": _embeddings,
    }
    return _route(call, routes, model=None, provider="OpenAI")


def azure(call: Call) -> Reply:
    """{resource}.openai.azure.com: the deployment name is the model."""
    if not (call.header("api-key") or call.bearer()):
        return _azure_error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
            "to provide a valid key for an active subscription and use a correct regional "
            "API endpoint for your resource.",
        )
    parts = call.path.strip("/").split("/")
    if len(parts) < 4 or parts[:2] != ["openai", "deployments"]:
        return _azure_error(404, "Resource not found")
    if "api-version" not in call.query:
        return _azure_error(
            404, "Missing required query parameter api-version, or the API version is invalid."
        )
    deployment, operation = parts[2], "/" + "/".join(parts[3:])
    routes = {"/chat/completions": _chat, "/completions": _completion, "/embeddings": _embeddings}
    handler = routes.get(operation)
    if handler is None:
        return _azure_error(404, "Resource not found")
    return _run(call, handler, model=deployment, provider="Azure OpenAI")


def deepseek(call: Call) -> Reply:
    """api.deepseek.com: OpenAI's chat API under `/chat/completions`."""
    if call.bearer() is None:
        return error(
            401,
            "Authentication Fails, Your api key: ****None is invalid",
            kind="authentication_error",
        )
    routes = {"/chat/completions": _chat, "/v1/chat/completions": _chat}
    return _route(call, routes, model=None, provider="DeepSeek")


def keyless_chat(call: Call, *, provider: str) -> Reply:
    """OpenAI's chat API without a key, as OpenAI-compatible local servers serve it."""
    return _route(call, {"/v1/chat/completions": _chat}, model=None, provider=provider)


def _azure_error(status: int, message: str) -> Reply:
    return reply(status, {"error": {"code": str(status), "message": message}})


def _route(call: Call, routes: dict[str, Any], *, model: str | None, provider: str) -> Reply:
    handler = routes.get(call.path.rstrip("/"))
    if handler is None or call.method != "POST":
        return error(404, f"Invalid URL ({call.method} {call.path})")
    return _run(call, handler, model=model, provider=provider)


def _run(call: Call, handler: Any, *, model: str | None, provider: str) -> Reply:
    try:
        body = call.json()
    except MalformedError:
        return error(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means "
            "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
            "payload, but what was sent was not valid JSON.)",
        )
    try:
        name = model or str(require(body, "model"))
        return handler(body, model=name, provider=provider)  # type: ignore[no-any-return]
    except MalformedError as exc:
        return error(400, str(exc).replace("missing required field", "Missing required parameter:"))


def _ident(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def _usage(prompt: str, completion: str) -> dict[str, int]:
    p, c = vectors.tokens(prompt), vectors.tokens(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def chat(body: dict[str, Any], *, model: str, provider: str) -> Reply:
    """The chat completion answer to an OpenAI chat body (also OpenAI models on Bedrock)."""
    return _chat(body, model=model, provider=provider)


def _chat(body: dict[str, Any], *, model: str, provider: str) -> Reply:
    messages = require(body, "messages")
    if not isinstance(messages, list) or not messages:
        raise MalformedError("Invalid type for 'messages': expected a non-empty array of messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise MalformedError(f"Missing required parameter: 'messages[{index}].role'.")
    prompt = _message_text(messages[-1].get("content"))
    text = vectors.answer(prompt, provider=provider)
    return reply(
        200,
        {
            "id": _ident("chatcmpl", prompt),
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(prompt, text),
        },
    )


def _message_text(content: Any) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _completion(body: dict[str, Any], *, model: str, provider: str) -> Reply:
    prompt = " ".join(texts(require(body, "prompt"), field="prompt"))
    text = vectors.answer(prompt, provider=provider)
    return reply(
        200,
        {
            "id": _ident("cmpl", prompt),
            "object": "text_completion",
            "created": _CREATED,
            "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(prompt, text),
        },
    )


def _embeddings(body: dict[str, Any], *, model: str, provider: str) -> Reply:
    inputs = texts(require(body, "input"), field="input")
    dimension = _dimension(model, body.get("dimensions"), azure=provider == "Azure OpenAI")
    if dimension is None:
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": vectors.embed(t, model=model, dimension=dimension),
        }
        for i, t in enumerate(inputs)
    ]
    used = vectors.tokens(*inputs)
    return reply(
        200,
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": used, "total_tokens": used},
        },
    )


def _dimension(model: str, wanted: Any, *, azure: bool) -> int | None:
    # An Azure deployment may carry any name; one that does not name a model is taken for
    # ada-002, the most common embedding deployment (docs/reference/providers.md: inferred).
    known = vectors.DIMENSIONS.get(model, 1536 if azure else None)
    if known is None:
        return None
    if wanted is not None and "text-embedding-3" in model:
        if not isinstance(wanted, int) or not 1 <= wanted <= known:
            raise MalformedError(f"Invalid value for 'dimensions': must be between 1 and {known}.")
        return wanted
    return known
