"""Amazon Bedrock runtime emulator: `POST /model/{modelId}/invoke`, `/converse` and the
OpenAI-compatible `POST /openai/v1/chat/completions`.

Invoke bodies are the model family's own: Titan text and multimodal embeddings, Titan text
generation, Cohere embed and rerank (Cohere's body, `cohere.py`), Anthropic Claude messages
and legacy text completions, Amazon Nova messages and Nova multimodal embeddings, AI21
Jurassic-2 completions and Jamba chat, Meta Llama and Mistral prompts (Mistral Large 2 also
takes chat messages), and OpenAI's gpt-oss models (OpenAI's chat body, `openai.py`).
Converse is one body for every model. The SigV4 check happens before this module (`emulating.py`);
errors here are Bedrock's `{"message": ...}` with the `x-amzn-ErrorType` header
(docs/reference/providers.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from reconciler.sandbox.providers import cohere, openai, vectors
from reconciler.sandbox.providers.exchanges import Call, MalformedError, Reply, reply, require

Handler = Callable[[str, dict[str, Any]], Reply]


def error(status: int, code: str, message: str) -> Reply:
    """An AWS REST-JSON error: `{"message"}` plus the error type header."""
    return reply(
        status,
        {"message": message},
        {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )


def bedrock(call: Call) -> Reply:
    """bedrock-runtime.{region}.amazonaws.com."""
    if call.method == "POST" and call.path.rstrip("/") == "/openai/v1/chat/completions":
        return _openai_chat(call)
    parts = call.path.strip("/").split("/")
    if call.method != "POST" or len(parts) != 3 or parts[0] != "model":
        return error(404, "UnknownOperationException", "Unknown operation")
    model, operation = parts[1], parts[2]
    handler = (
        _converse if operation == "converse" else _invoker(model) if operation == "invoke" else None
    )
    if handler is None:
        return error(400, "ValidationException", "The provided model identifier is invalid.")
    try:
        return handler(model, call.json())
    except MalformedError as exc:
        return error(
            400,
            "ValidationException",
            f"Malformed input request: {exc}, please reformat your input and try again.",
        )


def _openai_chat(call: Call) -> Reply:
    # Bedrock's OpenAI-compatible Chat Completions endpoint (OpenAI models such as gpt-oss):
    # OpenAI's body, with the Bedrock model ID as `model`.
    try:
        body = call.json()
        model = str(require(body, "model"))
        if _invoker(model) is None:
            return error(400, "ValidationException", "The provided model identifier is invalid.")
        return openai.chat(body, model=model, provider="Bedrock OpenAI")
    except MalformedError as exc:
        return error(400, "ValidationException", f"Malformed input request: {exc}")


def _invoker(model: str) -> Handler | None:
    base = (
        model.split(".", 1)[1]
        if model.split(".", 1)[0] in ("us", "eu", "apac", "global")
        else model
    )
    families: list[tuple[str, Handler]] = [
        ("amazon.titan-embed-image", _titan_multimodal),
        ("amazon.titan-embed", _titan_text_embedding),
        ("amazon.titan-text", _titan_text),
        ("amazon.nova-2-multimodal-embeddings", _nova_embedding),
        ("amazon.nova", _nova),
        ("cohere.embed", _cohere_embed),
        ("cohere.rerank", lambda m, b: cohere.rerank(b)),
        ("anthropic.claude", _claude),
        ("ai21.j2-", _jurassic),
        ("ai21.jamba", _jamba),
        ("meta.llama", _llama),
        ("mistral.", _mistral),
        ("openai.gpt-oss", lambda m, b: openai.chat(b, model=m, provider="Bedrock OpenAI")),
    ]
    return next((handler for prefix, handler in families if base.startswith(prefix)), None)


_TITAN_KEYS = {
    "v1": {"inputText"},
    "v2": {"inputText", "dimensions", "normalize", "embeddingTypes"},
}
"""The keys each Titan text-embedding generation accepts; others are refused by name."""


def _titan_text_embedding(model: str, body: dict[str, Any]) -> Reply:
    text = require(body, "inputText")
    if not isinstance(text, str) or not text:
        raise MalformedError("#/inputText: expected minLength: 1")
    extra = sorted(set(body) - _TITAN_KEYS["v2" if "v2" in model else "v1"])
    if extra:
        raise MalformedError(f"#: extraneous key [{extra[0]}] is not permitted")
    dimension = vectors.DIMENSIONS.get(model.removeprefix("us."), 1536)
    if "dimensions" in body:
        if body["dimensions"] not in (256, 512, 1024):
            raise MalformedError("#/dimensions: must be one of 256, 512, 1024")
        dimension = int(body["dimensions"])
    vector = vectors.embed(text, model=model, dimension=dimension)
    answer: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": vectors.tokens(text)}
    if "v2" in model:
        answer["embeddingsByType"] = {"float": vector}
    return reply(200, answer)


def _titan_multimodal(model: str, body: dict[str, Any]) -> Reply:
    text, image = body.get("inputText"), body.get("inputImage")
    if not text and not image:
        raise MalformedError("At least one of inputText or inputImage is required")
    config = body.get("embeddingConfig") or {}
    dimension = config.get("outputEmbeddingLength", 1024)
    if dimension not in (256, 384, 1024):
        raise MalformedError(
            "#/embeddingConfig/outputEmbeddingLength: must be one of 256, 384, 1024"
        )
    seed = f"{text or ''}\x00{hashlib.sha256(str(image or '').encode()).hexdigest()}"
    vector = vectors.embed(seed, model=model, dimension=int(dimension))
    return reply(
        200,
        {
            "embedding": vector,
            "inputTextTokenCount": vectors.tokens(str(text or "")),
            "message": None,
        },
    )


def _titan_text(model: str, body: dict[str, Any]) -> Reply:
    prompt = str(require(body, "inputText"))
    text = vectors.answer(prompt, provider="Bedrock Titan")
    result = {"tokenCount": vectors.tokens(text), "outputText": text, "completionReason": "FINISH"}
    return reply(200, {"inputTextTokenCount": vectors.tokens(prompt), "results": [result]})


def _cohere_embed(model: str, body: dict[str, Any]) -> Reply:
    answer = cohere.embed_v1({**body, "input_type": body.get("input_type")}, model=model).json()
    answer.pop("meta", None)
    return reply(200, answer)


def _claude(model: str, body: dict[str, Any]) -> Reply:
    if "messages" not in body and "prompt" in body:
        return _claude_text(body)
    version = require(body, "anthropic_version")
    if version != "bedrock-2023-05-31":
        raise MalformedError(f"anthropic_version: invalid value '{version}'")
    require(body, "max_tokens")
    prompt = _last_text(require(body, "messages"))
    text = vectors.answer(prompt, provider="Bedrock Claude")
    return reply(
        200,
        {
            "id": "msg_bdrk_" + hashlib.sha256(prompt.encode()).hexdigest()[:24],
            "type": "message",
            "role": "assistant",
            "model": model.split(".", 1)[-1],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": vectors.tokens(prompt),
                "output_tokens": vectors.tokens(text),
            },
        },
    )


def _claude_text(body: dict[str, Any]) -> Reply:
    prompt = str(body["prompt"])
    if not prompt.lstrip(" ").startswith("\n\nHuman:") or "\n\nAssistant:" not in prompt:
        raise MalformedError('prompt must start with "\\n\\nHuman:" and contain "\\n\\nAssistant:"')
    require(body, "max_tokens_to_sample")
    question = prompt.split("\n\nHuman:", 1)[1].split("\n\nAssistant:", 1)[0]
    text = vectors.answer(question.strip(), provider="Bedrock Claude")
    return reply(
        200,
        {
            "type": "completion",
            "completion": " " + text,
            "stop_reason": "stop_sequence",
            "stop": "\n\nHuman:",
        },
    )


def _jurassic(model: str, body: dict[str, Any]) -> Reply:
    prompt = require(body, "prompt")
    if not isinstance(prompt, str):
        raise MalformedError("#/prompt: expected type: String")
    text = vectors.answer(prompt, provider="Bedrock Jurassic")
    return reply(
        200,
        {
            "id": int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16),
            "prompt": {"text": prompt, "tokens": _ai21_tokens(prompt)},
            "completions": [
                {
                    "data": {"text": text, "tokens": _ai21_tokens(text)},
                    "finishReason": {"reason": "endoftext"},
                }
            ],
        },
    )


def _ai21_tokens(text: str) -> list[dict[str, Any]]:
    # AI21's token objects: the token (SentencePiece "▁" marks a leading space), its log
    # probabilities and its character range in the text.
    tokens, at = [], 0
    for word in text.split():
        start = text.index(word, at)
        at = start + len(word)
        tokens.append(
            {
                "generatedToken": {"token": "\u2581" + word, "logprob": -0.1, "raw_logprob": -0.1},
                "topTokens": None,
                "textRange": {"start": start, "end": at},
            }
        )
    return tokens


def _jamba(model: str, body: dict[str, Any]) -> Reply:
    prompt = _last_text(require(body, "messages"))
    text = vectors.answer(prompt, provider="Bedrock Jamba")
    used_in, used_out = vectors.tokens(prompt), vectors.tokens(text)
    return reply(
        200,
        {
            "id": "chatcmpl-" + hashlib.sha256(prompt.encode()).hexdigest()[:24],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": None},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": used_in,
                "completion_tokens": used_out,
                "total_tokens": used_in + used_out,
            },
            "meta": {"requestDurationMillis": 1},
            "model": model.split(".", 1)[-1],
        },
    )


def _llama(model: str, body: dict[str, Any]) -> Reply:
    prompt = str(require(body, "prompt"))
    text = vectors.answer(_instruction(prompt), provider="Bedrock Llama")
    return reply(
        200,
        {
            "generation": text,
            "prompt_token_count": vectors.tokens(prompt),
            "generation_token_count": vectors.tokens(text),
            "stop_reason": "stop",
        },
    )


def _mistral(model: str, body: dict[str, Any]) -> Reply:
    if "messages" in body:  # Mistral Large 2 (2407) takes chat messages
        prompt = _last_text(body["messages"])
        text = vectors.answer(prompt, provider="Bedrock Mistral")
        message = {"role": "assistant", "content": text, "tool_calls": None}
        return reply(200, {"choices": [{"index": 0, "message": message, "stop_reason": "stop"}]})
    prompt = str(require(body, "prompt"))
    text = vectors.answer(_instruction(prompt), provider="Bedrock Mistral")
    return reply(200, {"outputs": [{"text": text, "stop_reason": "stop"}]})


_PROMPT_MARKUP = (
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>",
    "<|start_header_id|>assistant<|end_header_id|>",
)


def _instruction(prompt: str) -> str:
    """The user's words of a Llama or Mistral prompt, without the chat-template markup."""
    for token in _PROMPT_MARKUP:
        prompt = prompt.replace(token, " ")
    return " ".join(prompt.split())


def _last_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise MalformedError("messages: expected a non-empty array of messages")
    content = messages[-1].get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise MalformedError("messages.content: expected a string or an array of content blocks")
    return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))


def _nova(model: str, body: dict[str, Any]) -> Reply:
    prompt = _last_text(require(body, "messages"))
    return reply(
        200, {**_converse_output(prompt, provider="Bedrock Nova"), "usage": _usage(prompt)}
    )


def _nova_embedding(model: str, body: dict[str, Any]) -> Reply:
    if body.get("taskType") != "SINGLE_EMBEDDING":
        raise MalformedError("taskType: expected SINGLE_EMBEDDING")
    params = require(body, "singleEmbeddingParams")
    dimension = params.get("embeddingDimension", 3072) if isinstance(params, dict) else None
    if dimension not in (256, 384, 1024, 3072):
        raise MalformedError(
            "singleEmbeddingParams.embeddingDimension: must be one of 256, 384, 1024, 3072"
        )
    text = ((params.get("text") or {}).get("value")) or json.dumps(params, sort_keys=True)
    vector = vectors.embed(str(text), model=model, dimension=int(dimension))
    return reply(200, {"embeddings": [{"embeddingType": "TEXT", "embedding": vector}]})


def _converse(model: str, body: dict[str, Any]) -> Reply:
    messages = require(body, "messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise MalformedError("messages.content: expected an array of content blocks")
    prompt = _last_text(messages)
    answer = _converse_output(prompt, provider="Bedrock Converse")
    return reply(200, {**answer, "usage": _usage(prompt), "metrics": {"latencyMs": 1}})


def _converse_output(prompt: str, *, provider: str) -> dict[str, Any]:
    text = vectors.answer(prompt, provider=provider)
    message = {"role": "assistant", "content": [{"text": text}]}
    return {"output": {"message": message}, "stopReason": "end_turn"}


def _usage(prompt: str) -> dict[str, int]:
    used_in, used_out = vectors.tokens(prompt), 12
    return {"inputTokens": used_in, "outputTokens": used_out, "totalTokens": used_in + used_out}
