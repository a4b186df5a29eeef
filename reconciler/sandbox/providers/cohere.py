"""Cohere emulator: embed (v1, v2), chat (v1, v2) and rerank (v1, v2).

Hosts api.cohere.ai and api.cohere.com, `Authorization: Bearer`. Embeddings have the
model's dimension; `embedding_types` (required on v2) gives the `embeddings_by_type` shape.
Embed takes `texts` or, for v3+ models with `input_type: image`, one PNG or JPEG data URI
in `images` (the answer then lists the image's size under `images`).
Errors are Cohere's `{"message": ...}` (docs/reference/providers.md). Also used for Cohere
models on Bedrock, whose embed body and answer are Cohere's. Called by `emulating.answer`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.sandbox.providers import images, vectors
from reconciler.sandbox.providers.exchanges import (
    Call,
    MalformedError,
    Reply,
    reply,
    require,
    texts,
)

_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")


def error(status: int, message: str) -> Reply:
    return reply(status, {"message": message})


RATE_LIMIT = "You are using a Trial key, which is limited to 10 API calls / minute."


def cohere(call: Call) -> Reply:
    """api.cohere.ai / api.cohere.com."""
    if call.bearer() is None:
        return error(401, "no api key supplied")
    routes = {
        "/v1/embed": lambda b: embed_v1(b, model=None),
        "/v2/embed": embed_v2,
        "/v1/chat": _chat_v1,
        "/v2/chat": _chat_v2,
        "/v1/rerank": rerank,
        "/v2/rerank": rerank,
    }
    handler = routes.get(call.path.rstrip("/"))
    if handler is None or call.method != "POST":
        return error(404, f"no such endpoint: {call.method} {call.path}")
    try:
        return handler(call.json())
    except MalformedError as exc:
        return error(400, f"invalid request: {exc}")


def _ident(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _meta(*inputs: str, output: str = "") -> dict[str, Any]:
    units: dict[str, int] = {"input_tokens": vectors.tokens(*inputs)}
    if output:
        units["output_tokens"] = vectors.tokens(output)
    return {"api_version": {"version": "1"}, "billed_units": units}


def _image_billing() -> dict[str, Any]:
    return {"api_version": {"version": "1"}, "billed_units": {"images": 1}}


def _dimension(model: str) -> int:
    dimension = vectors.DIMENSIONS.get(model)
    if dimension is None:
        raise MalformedError(f"model '{model}' not found, make sure the correct model ID was used")
    return dimension


def _vectors(body: dict[str, Any], *, model: str) -> tuple[list[str], list[list[float]]]:
    if "images" in body:
        return _image_vectors(body, model=model)
    inputs = texts(require(body, "texts"), field="texts")
    input_type = body.get("input_type")
    if input_type is not None and input_type not in _INPUT_TYPES:
        raise MalformedError(f"input_type must be one of {', '.join(_INPUT_TYPES)}")
    if model.startswith(("embed-", "cohere.embed-")) and "v3" in model and input_type is None:
        raise MalformedError("'input_type' is required for embed-v3 models and later")
    dimension = _dimension(model)
    return inputs, [vectors.embed(t, model=model, dimension=dimension) for t in inputs]


def _image_vectors(body: dict[str, Any], *, model: str) -> tuple[list[str], list[list[float]]]:
    # One image per call, as a data URI; texts and images are exclusive; image embeddings
    # need a v3+ model and input_type "image" (docs/reference/providers.md).
    if body.get("texts"):
        raise MalformedError("only one of 'texts' or 'images' can be provided")
    given = body["images"]
    if not isinstance(given, list) or len(given) != 1:
        raise MalformedError("'images' must be an array of exactly one image data URI")
    if body.get("input_type") != "image":
        raise MalformedError("input_type must be 'image' when embedding images")
    if not any(v in model for v in ("v3", "v4")):
        raise MalformedError(f"model '{model}' does not support image embeddings")
    image = images.decode(given[0], data_uri=True)
    digest = hashlib.sha256(image.raw).hexdigest()
    return [], [vectors.embed(f"image:{digest}", model=model, dimension=_dimension(model))]


def _image_meta(body: dict[str, Any]) -> list[dict[str, Any]]:
    image = images.decode(body["images"][0], data_uri=True)
    return [
        {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "bit_depth": image.bit_depth,
        }
    ]


def embed_v1(body: dict[str, Any], *, model: str | None) -> Reply:
    """`POST /v1/embed`; `model` is given for Bedrock, where the URL names it."""
    name = model or str(body.get("model") or "embed-english-v2.0")
    inputs, floats = _vectors(body, model=name)
    types = body.get("embedding_types")
    answer: dict[str, Any] = {"id": _ident(" ".join(inputs) or str(body.get("images")))}
    answer["texts"] = inputs
    if "images" in body:
        answer["images"] = _image_meta(body)
    if types:
        answer["embeddings"] = _by_type(floats, types)
        answer["response_type"] = "embeddings_by_type"
    else:
        answer["embeddings"] = floats
        answer["response_type"] = "embeddings_floats"
    answer["meta"] = _meta(*inputs) if inputs else _image_billing()
    return reply(200, answer)


def embed_v2(body: dict[str, Any]) -> Reply:
    """`POST /v2/embed`: model, input_type and embedding_types are required."""
    model = str(require(body, "model"))
    require(body, "input_type")
    types = require(body, "embedding_types")
    inputs, floats = _vectors(body, model=model)
    answer: dict[str, Any] = {
        "id": _ident(" ".join(inputs) or str(body.get("images"))),
        "embeddings": _by_type(floats, types),
        "texts": inputs,
    }
    if "images" in body:
        answer["images"] = _image_meta(body)
    answer["meta"] = _meta(*inputs) if inputs else _image_billing()
    answer["response_type"] = "embeddings_by_type"
    return reply(200, answer)


def _by_type(floats: list[list[float]], types: Any) -> dict[str, Any]:
    if not isinstance(types, list) or not types:
        raise MalformedError("embedding_types must be a non-empty array")
    out: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            out["float"] = floats
        elif kind in ("int8", "uint8"):
            offset = 0 if kind == "int8" else 128
            out[kind] = [
                [max(-128, min(127, round(v * 127))) + offset for v in vec] for vec in floats
            ]
        else:
            raise MalformedError(f"embedding_types: unsupported type '{kind}'")
    return out


def _chat_v1(body: dict[str, Any]) -> Reply:
    message = str(require(body, "message"))
    text = vectors.answer(message, provider="Cohere")
    return reply(
        200,
        {
            "response_id": _ident(message),
            "text": text,
            "generation_id": _ident(text),
            "chat_history": [
                *body.get("chat_history", []),
                {"role": "USER", "message": message},
                {"role": "CHATBOT", "message": text},
            ],
            "finish_reason": "COMPLETE",
            "meta": _meta(message, output=text),
        },
    )


def _chat_v2(body: dict[str, Any]) -> Reply:
    require(body, "model")
    messages = require(body, "messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise MalformedError("messages must be a non-empty array of messages")
    content = messages[-1].get("content")
    prompt = (
        content
        if isinstance(content, str)
        else " ".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
    )
    text = vectors.answer(prompt, provider="Cohere")
    return reply(
        200,
        {
            "id": _ident(prompt),
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
            "finish_reason": "COMPLETE",
            "usage": {
                "billed_units": {
                    "input_tokens": vectors.tokens(prompt),
                    "output_tokens": vectors.tokens(text),
                },
                "tokens": {
                    "input_tokens": vectors.tokens(prompt),
                    "output_tokens": vectors.tokens(text),
                },
            },
        },
    )


def rerank(body: dict[str, Any]) -> Reply:
    """`POST /v1|v2/rerank` (and Cohere Rerank on Bedrock): results by descending score."""
    query = str(require(body, "query"))
    documents = require(body, "documents")
    if not isinstance(documents, list) or not documents:
        raise MalformedError("documents must be a non-empty array")
    words = set(query.lower().split())
    scored = []
    for index, doc in enumerate(documents):
        text = doc if isinstance(doc, str) else str((doc or {}).get("text", ""))
        overlap = len(words & set(text.lower().split())) / (len(words) or 1)
        scored.append({"index": index, "relevance_score": round(0.05 + 0.9 * overlap, 6)})
    scored.sort(key=lambda r: (-r["relevance_score"], r["index"]))
    top = body.get("top_n")
    results = scored[: int(top)] if isinstance(top, int) and top > 0 else scored
    return reply(200, {"id": _ident(query), "results": results, "meta": _meta(query)})
