"""The provider emulators, call by call: real response shapes and dimensions, the errors
each provider documents (401 without a key, 400 for a malformed body, 429 when a fault is
injected), SigV4 checks on AWS hosts, and None for hosts that are not emulated."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from reconciler.sandbox.providers import emulating, sigv4
from reconciler.sandbox.providers.exchanges import Call, Reply

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
KEYS = sigv4.Keys("AKIDSANDBOX", "sandbox-secret-key")
BEARER = {"Authorization": "Bearer sk-dummy", "Content-Type": "application/json"}


def call(url: str, body: Any, headers: dict[str, str] | None = None) -> Call:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Call("POST", url, BEARER if headers is None else headers, raw)


def send(c: Call, *, keys: sigv4.Keys | None = None, fault: int | None = None) -> Reply:
    target = emulating.find(c)
    assert target is not None, c.url
    return emulating.respond(target, c, aws_keys=keys, now=NOW, fault=fault)


def signed(url: str, body: Any, *, region: str, service: str, keys: sigv4.Keys = KEYS) -> Call:
    raw = json.dumps(body).encode()
    headers = sigv4.sign(
        method="POST",
        url=url,
        headers={"Content-Type": "application/json", "x-amz-content-sha256": "required"},
        body=raw,
        keys=keys,
        scope=sigv4.Scope(region=region, service=service),
        when=NOW,
    )
    return Call("POST", url, headers, raw)


# -- OpenAI and compatible --------------------------------------------------------------


def test_openai_chat_answers_in_the_chat_completion_shape() -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say ready"}]}
    answer = send(call("https://api.openai.com/v1/chat/completions", body))
    data = answer.json()
    assert answer.status == 200
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-4o-mini"
    assert data["choices"][0]["message"]["role"] == "assistant"
    assert "Say ready" in data["choices"][0]["message"]["content"]
    assert data["choices"][0]["finish_reason"] == "stop"
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_openai_completions_answer_text_choices() -> None:
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test", "max_tokens": 5}
    data = send(call("https://api.openai.com/v1/completions", body)).json()
    assert data["object"] == "text_completion"
    assert "Say this is a test" in data["choices"][0]["text"]


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("text-embedding-3-small", 1536),
        ("text-embedding-3-large", 3072),
        ("text-embedding-ada-002", 1536),
    ],
)
def test_openai_embeddings_have_the_model_dimension(model: str, dimension: int) -> None:
    body = {"model": model, "input": ["hello world", "bye"]}
    data = send(call("https://api.openai.com/v1/embeddings", body)).json()
    assert data["object"] == "list"
    assert [item["index"] for item in data["data"]] == [0, 1]
    assert all(len(item["embedding"]) == dimension for item in data["data"])


def test_embeddings_are_deterministic_per_text_and_unit_length() -> None:
    def vector(text: str) -> list[float]:
        body = {"model": "text-embedding-3-small", "input": text}
        data = send(call("https://api.openai.com/v1/embeddings", body)).json()
        return list(data["data"][0]["embedding"])

    first, again, other = vector("hello"), vector("hello"), vector("goodbye")
    assert first == again
    assert first != other
    assert abs(sum(v * v for v in first) - 1.0) < 1e-3


def test_openai_dimensions_parameter_shortens_v3_embeddings() -> None:
    body = {"model": "text-embedding-3-large", "input": "x", "dimensions": 256}
    data = send(call("https://api.openai.com/v1/embeddings", body)).json()
    assert len(data["data"][0]["embedding"]) == 256


def test_openai_without_a_key_is_401() -> None:
    answer = send(call("https://api.openai.com/v1/chat/completions", {}, headers={}))
    assert answer.status == 401
    assert answer.json()["error"]["message"].startswith("You didn't provide an API key")


def test_openai_malformed_body_is_400() -> None:
    answer = send(call("https://api.openai.com/v1/chat/completions", b"{not json"))
    assert answer.status == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_openai_missing_messages_is_400() -> None:
    answer = send(call("https://api.openai.com/v1/chat/completions", {"model": "gpt-4o"}))
    assert answer.status == 400
    assert "messages" in answer.json()["error"]["message"]


def test_openai_unknown_embedding_model_is_404() -> None:
    body = {"model": "no-such-model", "input": "x"}
    answer = send(call("https://api.openai.com/v1/embeddings", body))
    assert (answer.status, answer.json()["error"]["code"]) == (404, "model_not_found")


def test_openai_injected_rate_limit_is_openai_429() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}
    answer = send(call("https://api.openai.com/v1/chat/completions", body), fault=429)
    assert answer.status == 429
    assert answer.json()["error"]["code"] == "rate_limit_exceeded"


def test_azure_openai_uses_the_deployment_and_the_api_key_header() -> None:
    url = "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    data = send(call(url, body, headers={"api-key": "k"})).json()
    assert data["model"] == "gpt-4o"
    missing = send(call(url, body, headers={}))
    assert missing.status == 401
    assert missing.json()["error"]["code"] == "401"
    no_version = send(call(url.split("?", maxsplit=1)[0], body, headers={"api-key": "k"}))
    assert no_version.status == 404


def test_deepseek_chat_is_openai_compatible() -> None:
    body = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
    data = send(call("https://api.deepseek.com/chat/completions", body)).json()
    assert data["choices"][0]["message"]["content"]


# -- Cohere ------------------------------------------------------------------------------


def test_cohere_v1_embed_answers_float_arrays_of_1024() -> None:
    body = {"texts": ["a", "b"], "model": "embed-english-v3.0", "input_type": "search_document"}
    data = send(call("https://api.cohere.ai/v1/embed", body)).json()
    assert data["response_type"] == "embeddings_floats"
    assert data["texts"] == ["a", "b"]
    assert [len(v) for v in data["embeddings"]] == [1024, 1024]


def test_cohere_v2_embed_needs_embedding_types_and_answers_by_type() -> None:
    body = {"texts": ["a"], "model": "embed-english-light-v3.0", "input_type": "search_query"}
    assert send(call("https://api.cohere.com/v2/embed", body)).status == 400
    body["embedding_types"] = ["float"]
    data = send(call("https://api.cohere.com/v2/embed", body)).json()
    assert data["response_type"] == "embeddings_by_type"
    assert len(data["embeddings"]["float"][0]) == 384


def test_cohere_v3_embed_without_input_type_is_400() -> None:
    body = {"texts": ["a"], "model": "embed-english-v3.0"}
    answer = send(call("https://api.cohere.ai/v1/embed", body))
    assert answer.status == 400
    assert "input_type" in answer.json()["message"]


def test_cohere_chat_v1_and_v2() -> None:
    v1 = send(call("https://api.cohere.ai/v1/chat", {"message": "hello"})).json()
    assert v1["finish_reason"] == "COMPLETE" and "hello" in v1["text"]
    body = {"model": "command-r", "messages": [{"role": "user", "content": "hello"}]}
    v2 = send(call("https://api.cohere.com/v2/chat", body)).json()
    assert v2["message"]["content"][0]["type"] == "text"


def test_cohere_rerank_orders_results_by_relevance() -> None:
    body = {"query": "blue sky", "documents": ["green grass", "blue sky today"], "top_n": 2}
    data = send(call("https://api.cohere.ai/v1/rerank", body)).json()
    assert [r["index"] for r in data["results"]] == [1, 0]
    assert data["results"][0]["relevance_score"] > data["results"][1]["relevance_score"]


def test_cohere_errors_without_key_and_under_rate_limit() -> None:
    assert send(call("https://api.cohere.ai/v1/embed", {}, headers={})).status == 401
    limited = send(call("https://api.cohere.ai/v1/embed", {}), fault=429)
    assert limited.status == 429 and "message" in limited.json()


PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg=="


def jpeg(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, an APP0 segment, then the SOF0 frame header."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    frame = b"\xff\xc0\x00\x11\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return b"\xff\xd8" + app0 + frame + b"\x03" + bytes(9)


def test_cohere_embeds_one_image_data_uri_and_describes_it() -> None:
    body = {
        "model": "embed-english-v3.0",
        "input_type": "image",
        "images": [f"data:image/png;base64,{PNG_1X1}"],
    }
    data = send(call("https://api.cohere.ai/v1/embed", body)).json()
    assert len(data["embeddings"]) == 1 and len(data["embeddings"][0]) == 1024
    assert data["texts"] == []
    assert data["images"] == [{"width": 1, "height": 1, "format": "png", "bit_depth": 8}]
    photo = "data:image/jpeg;base64," + base64.b64encode(jpeg(640, 480)).decode()
    v2 = {**body, "images": [photo], "embedding_types": ["float"]}
    data = send(call("https://api.cohere.ai/v2/embed", v2)).json()
    assert data["images"][0]["width"] == 640 and data["images"][0]["height"] == 480
    assert len(data["embeddings"]["float"][0]) == 1024


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"images": []}, "exactly one image"),
        ({"texts": ["x"]}, "only one of 'texts' or 'images'"),
        ({"input_type": "search_document"}, "input_type must be 'image'"),
        ({"model": "embed-english-v2.0"}, "does not support image embeddings"),
        ({"images": ["data:image/gif;base64,R0lGODlh"]}, "image/png or image/jpeg"),
        ({"images": ["data:image/png;base64,aGVsbG8="]}, "not a PNG or JPEG"),
    ],
)
def test_cohere_refuses_image_input_it_cannot_take(change: dict[str, Any], text: str) -> None:
    body = {
        "model": "embed-english-v3.0",
        "input_type": "image",
        "images": [f"data:image/png;base64,{PNG_1X1}"],
        **change,
    }
    answer = send(call("https://api.cohere.ai/v1/embed", body))
    assert answer.status == 400
    assert text in answer.json()["message"]


# -- Amazon Bedrock ----------------------------------------------------------------------

BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com/model/{}/{}"


def bedrock(model: str, body: Any, *, operation: str = "invoke") -> Reply:
    url = BEDROCK.format(model, operation)
    return send(signed(url, body, region="us-east-1", service="bedrock"), keys=KEYS)


@pytest.mark.parametrize(
    ("model", "dimension"),
    [("amazon.titan-embed-text-v1", 1536), ("amazon.titan-embed-text-v2:0", 1024)],
)
def test_titan_text_embeddings(model: str, dimension: int) -> None:
    data = bedrock(model, {"inputText": "hello world"}).json()
    assert len(data["embedding"]) == dimension
    assert data["inputTextTokenCount"] == 2


def test_titan_v2_dimensions_and_a_malformed_body() -> None:
    data = bedrock("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 256}).json()
    assert len(data["embedding"]) == 256
    bad = bedrock("amazon.titan-embed-text-v1", {"text": "x"})
    assert bad.status == 400
    assert bad.headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert bad.json()["message"].startswith("Malformed input request")


@pytest.mark.parametrize(
    ("model", "key"),
    [("amazon.titan-embed-text-v1", "embeddingTypes"), ("amazon.titan-embed-text-v2:0", "texts")],
)
def test_titan_refuses_a_key_its_generation_does_not_take(model: str, key: str) -> None:
    answer = bedrock(model, {"inputText": "x", key: ["float"]})
    assert answer.status == 400
    assert f"extraneous key [{key}] is not permitted" in answer.json()["message"]


def test_titan_multimodal_embeddings() -> None:
    body = {"inputText": "a cat", "embeddingConfig": {"outputEmbeddingLength": 384}}
    assert len(bedrock("amazon.titan-embed-image-v1", body).json()["embedding"]) == 384


def test_cohere_embed_on_bedrock() -> None:
    body = {"texts": ["hi"], "input_type": "search_document"}
    data = bedrock("cohere.embed-english-v3", body).json()
    assert len(data["embeddings"][0]) == 1024
    assert data["response_type"] == "embeddings_floats"


def test_claude_messages_on_bedrock() -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    }
    data = bedrock("anthropic.claude-3-haiku-20240307-v1:0", body).json()
    assert data["type"] == "message" and data["stop_reason"] == "end_turn"
    assert data["content"][0]["type"] == "text"
    no_version = bedrock(
        "anthropic.claude-3-haiku-20240307-v1:0", {"messages": [], "max_tokens": 1}
    )
    assert no_version.status == 400


def test_converse_and_nova() -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "hello"}]}]}
    converse = bedrock("anthropic.claude-3-haiku-20240307-v1:0", body, operation="converse").json()
    assert converse["output"]["message"]["role"] == "assistant"
    assert converse["stopReason"] == "end_turn"
    assert set(converse["usage"]) == {"inputTokens", "outputTokens", "totalTokens"}
    nova = bedrock("amazon.nova-lite-v1:0", body).json()
    assert nova["output"]["message"]["content"][0]["text"]


def test_ai21_jurassic_on_bedrock_answers_completions() -> None:
    body = {"prompt": "What is the meaning of life?", "maxTokens": 200, "temperature": 0.7}
    data = bedrock("ai21.j2-mid-v1", body).json()
    assert isinstance(data["id"], int)
    assert data["prompt"]["text"] == body["prompt"]
    completion = data["completions"][0]
    assert "What is the meaning of life?" in completion["data"]["text"]
    assert completion["finishReason"] == {"reason": "endoftext"}
    token = completion["data"]["tokens"][0]
    assert set(token) == {"generatedToken", "topTokens", "textRange"}
    assert bedrock("ai21.j2-ultra-v1", {"maxTokens": 5}).status == 400


def test_ai21_jamba_meta_llama_mistral_and_gpt_oss_on_bedrock() -> None:
    chat = {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 50}
    jamba = bedrock("ai21.jamba-1-5-mini-v1:0", chat).json()
    assert jamba["choices"][0]["message"]["role"] == "assistant"
    assert "hello there" in jamba["choices"][0]["message"]["content"]
    assert set(jamba["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|> hello llama <|eot_id|>"
    llama = bedrock("meta.llama3-8b-instruct-v1:0", {"prompt": prompt, "max_gen_len": 64}).json()
    assert set(llama) == {
        "generation",
        "prompt_token_count",
        "generation_token_count",
        "stop_reason",
    }
    assert llama["generation"].endswith("You said: hello llama")
    mistral = bedrock("mistral.mistral-7b-instruct-v0:2", {"prompt": "<s>[INST] hi [/INST]"})
    assert mistral.json()["outputs"][0]["stop_reason"] == "stop"
    assert mistral.json()["outputs"][0]["text"].endswith("You said: hi")
    large = bedrock("mistral.mistral-large-2407-v1:0", chat).json()
    assert large["choices"][0]["message"]["content"].endswith("You said: hello there")
    oss = bedrock("openai.gpt-oss-120b-1:0", chat).json()
    assert oss["object"] == "chat.completion"
    url = "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions"
    body = {"model": "openai.gpt-oss-20b-1:0", **chat}
    compatible = send(signed(url, body, region="us-west-2", service="bedrock"), keys=KEYS)
    assert compatible.json()["choices"][0]["message"]["content"].endswith("You said: hello there")
    assert bedrock("meta.llama3-8b-instruct-v1:0", {"max_gen_len": 5}).status == 400


def test_an_unknown_bedrock_model_is_a_validation_error() -> None:
    answer = bedrock("acme.unknown-v1", {"inputText": "x"})
    assert answer.status == 400
    assert answer.json()["message"] == "The provided model identifier is invalid."


def test_bedrock_refuses_a_wrong_secret_key() -> None:
    wrong = sigv4.Keys(KEYS.access_key, "another-secret")
    c = signed(
        BEDROCK.format("amazon.titan-embed-text-v1", "invoke"),
        {"inputText": "x"},
        region="us-east-1",
        service="bedrock",
        keys=wrong,
    )
    answer = send(c, keys=KEYS)
    assert answer.status == 403
    assert answer.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
    assert answer.json()["message"].startswith("The request signature we calculated")


def test_bedrock_refuses_a_tampered_body() -> None:
    c = signed(
        BEDROCK.format("amazon.titan-embed-text-v1", "invoke"),
        {"inputText": "x"},
        region="us-east-1",
        service="bedrock",
    )
    tampered = Call(c.method, c.url, c.headers, b'{"inputText": "y"}')
    assert send(tampered, keys=KEYS).status in (400, 403)


def test_bedrock_refuses_a_signature_for_another_region_or_service() -> None:
    url = BEDROCK.format("amazon.titan-embed-text-v1", "invoke")
    for region, service in (("eu-west-1", "bedrock"), ("us-east-1", "sagemaker")):
        answer = send(signed(url, {"inputText": "x"}, region=region, service=service), keys=KEYS)
        assert answer.status == 403
        assert "Credential should be scoped" in answer.json()["message"]


def test_bedrock_refuses_an_unsigned_request() -> None:
    answer = send(
        call(BEDROCK.format("amazon.titan-embed-text-v1", "invoke"), {"inputText": "x"}, headers={})
    )
    assert (answer.status, answer.json()["message"]) == (403, "Missing Authentication Token")


def test_bedrock_injected_rate_limit_is_a_throttling_exception() -> None:
    c = signed(
        BEDROCK.format("amazon.titan-embed-text-v1", "invoke"),
        {"inputText": "x"},
        region="us-east-1",
        service="bedrock",
    )
    answer = send(c, keys=KEYS, fault=429)
    assert answer.status == 429
    assert answer.headers["x-amzn-ErrorType"].startswith("ThrottlingException")


# -- SageMaker, Comprehend, Textract -----------------------------------------------------


def sagemaker(endpoint: str, body: Any) -> Reply:
    url = f"https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/{endpoint}/invocations"
    return send(signed(url, body, region="us-east-1", service="sagemaker"), keys=KEYS)


def test_sagemaker_embeds_an_array_of_texts_with_the_endpoint_dimension() -> None:
    data = sagemaker("minilm-embedding", ["hello world", "x"]).json()
    assert [len(v) for v in data] == [384, 384]
    assert [len(v) for v in sagemaker("my-embedder", {"inputs": ["x"]}).json()] == [768]


def test_sagemaker_generates_text_for_a_string_input() -> None:
    data = sagemaker("llama", {"inputs": "hello", "parameters": {}}).json()
    assert "hello" in data[0]["generated_text"]


def test_sagemaker_model_error_for_a_body_the_container_cannot_read() -> None:
    answer = sagemaker("minilm", {"unexpected": 1})
    assert answer.status == 424
    assert answer.headers["x-amzn-ErrorType"] == "ModelError"


def test_sagemaker_colpali_answers_multi_vector_embeddings() -> None:
    data = sagemaker("colpali", {"queries": ["hello world"]}).json()
    assert data["query_tokens"] == [
        {
            "raw": "<bos>Query: hello world",
            "tokens": ["<bos>", "Query", ":", "\u2581hello", "\u2581world"],
        }
    ]
    assert [len(v) for v in data["query_embeddings"][0]] == [128] * 5
    both = sagemaker("colpali", {"queries": ["hello world"], "images": [PNG_1X1]}).json()
    assert both["query_embeddings"] == data["query_embeddings"]
    assert len(both["image_embeddings"][0]) == 1024
    assert {len(v) for v in both["image_embeddings"][0]} == {128}
    assert both["patch_shape"]["total"] == 1024.0
    assert both["patch_shape"]["image_size"] == [1.0, 1.0]
    assert len(both["scores"]) == 1 and len(both["scores"][0]) == 1
    assert sagemaker("colpali", {"images": ["aGVsbG8="]}).status == 424


def test_sagemaker_semantic_highlighter_marks_the_answering_sentences() -> None:
    context = "The sky is blue. Heart failure causes fatigue and swelling. Cats purr."
    single = {"question": "What does heart failure cause?", "context": context, "inputs": []}
    data = sagemaker("highlighter", single).json()
    assert data["highlights"] == [{"start": 17, "end": 59}]
    assert context[17:59] == "Heart failure causes fatigue and swelling."
    assert set(data) == {"highlights", "processing_time_ms", "device"}
    batch = {
        "question": "",
        "context": "",
        "inputs": [
            {"question": "What colour is the sky?", "context": context},
            {"question": "Do cats purr?", "context": context},
        ],
    }
    spans = sagemaker("highlighter", batch).json()["highlights"]
    assert spans == [[{"start": 0, "end": 16}], [{"start": 60, "end": 70}]]
    empty = sagemaker("highlighter", {"question": "", "context": "", "inputs": []})
    assert empty.status == 424 and "Invalid input format" in empty.json()["message"]


def comprehend(operation: str, body: Any) -> Reply:
    url = "https://comprehend.us-east-1.amazonaws.com"
    raw = json.dumps(body).encode()
    headers = {
        "X-Amz-Target": f"Comprehend_20171127.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
    }
    signed_headers = sigv4.sign(
        method="POST",
        url=url,
        headers=headers,
        body=raw,
        keys=KEYS,
        scope=sigv4.Scope("us-east-1", "comprehend"),
        when=NOW,
    )
    return send(Call("POST", url, signed_headers, raw), keys=KEYS)


def test_comprehend_detects_entities_by_a_fixed_rule() -> None:
    text = "Bob ordered two sandwiches and three ice cream cones today from a store in Seattle."
    found = comprehend("DetectEntities", {"Text": text, "LanguageCode": "en"}).json()["Entities"]
    assert [(e["Type"], e["Text"], e["BeginOffset"], e["EndOffset"]) for e in found] == [
        ("PERSON", "Bob", 0, 3),
        ("QUANTITY", "two sandwiches", 12, 26),
        ("QUANTITY", "three ice cream cones", 31, 52),
        ("DATE", "today", 53, 58),
        ("LOCATION", "Seattle", 75, 82),
    ]


@pytest.mark.parametrize("operation", ["DetectEntities", "DetectSentiment", "DetectKeyPhrases"])
def test_comprehend_needs_a_language_code_where_aws_does(operation: str) -> None:
    answer = comprehend(operation, {"Text": "hello"})
    assert answer.status == 400
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "languageCode" in answer.json()["message"]
    assert comprehend("DetectDominantLanguage", {"Text": "hello"}).status == 200


def test_comprehend_and_textract_by_target_header() -> None:
    url = "https://comprehend.us-east-1.amazonaws.com"
    raw = json.dumps({"Text": "hello world"}).encode()
    scope = sigv4.Scope("us-east-1", "comprehend")
    headers = {
        "X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage",
        "Content-Type": "application/x-amz-json-1.1",
    }
    signed_headers = sigv4.sign(
        method="POST", url=url, headers=headers, body=raw, keys=KEYS, scope=scope, when=NOW
    )
    data = send(Call("POST", url, signed_headers, raw), keys=KEYS).json()
    assert data["Languages"][0]["LanguageCode"] == "en"
    url = "https://textract.us-east-1.amazonaws.com"
    raw = json.dumps({"Document": {"Bytes": "aGVsbG8="}}).encode()
    headers = {"X-Amz-Target": "Textract.DetectDocumentText"}
    signed_headers = sigv4.sign(
        method="POST",
        url=url,
        headers=headers,
        body=raw,
        keys=KEYS,
        scope=sigv4.Scope("us-east-1", "textract"),
        when=NOW,
    )
    data = send(Call("POST", url, signed_headers, raw), keys=KEYS).json()
    assert [b["BlockType"] for b in data["Blocks"]] == ["PAGE", "LINE"]


# -- the rest ----------------------------------------------------------------------------


def test_gemini_generate_content_needs_a_key() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    assert send(call(url, body, headers={})).status == 403
    data = send(call(url + "?key=k", body, headers={})).json()
    assert data["candidates"][0]["content"]["parts"][0]["text"]


VERTEX = (
    "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1"
    "/publishers/google/models/{}"
)


def test_vertex_ai_text_embeddings_answer_predictions() -> None:
    body = {"instances": [{"content": "hello world"}, {"content": "bye"}]}
    data = send(call(VERTEX.format("textembedding-gecko@003:predict"), body)).json()
    assert [len(p["embeddings"]["values"]) for p in data["predictions"]] == [768, 768]
    assert data["predictions"][0]["embeddings"]["statistics"] == {
        "token_count": 2,
        "truncated": False,
    }
    assert data["metadata"] == {"billableCharacterCount": 13}
    short = {**body, "parameters": {"outputDimensionality": 256}}
    data = send(call(VERTEX.format("gemini-embedding-001:predict"), short)).json()
    assert len(data["predictions"][0]["embeddings"]["values"]) == 256


def test_vertex_ai_gemini_and_its_errors() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    data = send(call(VERTEX.format("gemini-1.5-pro:generateContent"), body)).json()
    assert data["candidates"][0]["content"]["parts"][0]["text"].endswith("You said: hello")
    unauthenticated = send(call(VERTEX.format("text-embedding-005:predict"), {}, headers={}))
    assert unauthenticated.status == 401
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
    unknown = send(call(VERTEX.format("acme-embed:predict"), {"instances": []}))
    assert unknown.status == 404 and "Publisher Model" in unknown.json()["error"]["message"]
    bad = send(call(VERTEX.format("text-embedding-005:predict"), {"instances": [{"x": 1}]}))
    assert bad.status == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


YANDEX_KEY = {"Authorization": "Api-Key dummy"}
MODEL_URI = "emb://b1gfolder/text-search-doc/latest"


def test_yandex_text_embedding_legacy_and_openai_compatible() -> None:
    url = "https://llm.api.cloud.yandex.net/foundationModels/v1/textEmbedding"
    data = send(call(url, {"modelUri": MODEL_URI, "text": "hello world"}, YANDEX_KEY)).json()
    assert len(data["embedding"]) == 256
    assert data["numTokens"] == "2" and isinstance(data["modelVersion"], str)
    openai_form = {"model": MODEL_URI, "input": ["hello world"]}
    url = "https://ai.api.cloud.yandex.net/v1/embeddings"
    listed = send(call(url, openai_form, YANDEX_KEY)).json()
    assert listed["object"] == "list" and listed["data"][0]["embedding"] == data["embedding"]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"modelUri": MODEL_URI, "text": "x"}, {}, 401),
        ({"modelUri": MODEL_URI, "text": "x"}, {"Authorization": "Api-Key "}, 401),
        ({"modelUri": "gpt://b1gfolder/yandexgpt", "text": "x"}, YANDEX_KEY, 400),
        ({"modelUri": MODEL_URI}, YANDEX_KEY, 400),
    ],
)
def test_yandex_refusals(body: dict[str, Any], headers: dict[str, str], status: int) -> None:
    url = "https://llm.api.cloud.yandex.net/foundationModels/v1/textEmbedding"
    answer = send(call(url, body, headers))
    assert answer.status == status
    assert answer.json()["error"]["httpCode"] == status


def test_ollama_chat_and_embed_on_its_default_port() -> None:
    body = {"model": "llama3", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    data = send(call("http://localhost:11434/api/chat", body, headers={})).json()
    assert data["done"] is True and data["message"]["role"] == "assistant"
    embed = send(
        call(
            "http://127.0.0.1:11434/api/embed",
            {"model": "nomic-embed-text", "input": "x"},
            headers={},
        )
    )
    assert len(embed.json()["embeddings"][0]) == 768


def test_aleph_alpha_semantic_embed() -> None:
    body = {
        "model": "luminous-base",
        "prompt": "x",
        "representation": "symmetric",
        "compress_to_size": 128,
    }
    data = send(call("https://api.aleph-alpha.com/semantic_embed", body)).json()
    assert len(data["embedding"]) == 128


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/v1/chat/completions",
        "http://10.0.0.12:8000/v1/chat/completions",
        "http://localhost:8000/api/chat",
        "https://api.openai.com.evil.example/v1/embeddings",
    ],
)
def test_other_hosts_are_not_emulated(url: str) -> None:
    assert emulating.find(call(url, {})) is None


@pytest.mark.parametrize(
    ("url", "hosts", "expected"),
    [
        ("http://10.0.0.12:8000/v1/chat/completions", {"10.0.0.12:8000": "openai"}, "OpenAI"),
        ("http://10.0.0.12:8001/v1/chat/completions", {"10.0.0.12:8000": "openai"}, None),
        ("http://10.0.0.12:8001/v1/chat/completions", {"10.0.0.12": "openai"}, "OpenAI"),
        ("http://llm.internal/v1/chat/completions", {"llm.internal:80": "openai"}, "OpenAI"),
        ("https://LLM.internal/v1/chat/completions", {"llm.internal:443": "ollama"}, "Ollama"),
        ("https://llm.internal/v1/chat/completions", {"llm.internal:80": "openai"}, None),
        # A mapping wins over the well-known host it names.
        ("https://api.openai.com/v1/chat/completions", {"api.openai.com": "ollama"}, "Ollama"),
    ],
)
def test_a_mapped_host_is_found_by_host_and_port(
    url: str, hosts: dict[str, str], expected: str | None
) -> None:
    target = emulating.find(call(url, {}), hosts=emulating.check_hosts(hosts))
    assert (target.emulator.name if target else None) == expected


def test_without_the_well_known_hosts_only_the_mapping_answers() -> None:
    hosts = {"10.0.0.12:8000": "openai"}
    assert (
        emulating.find(
            call("https://api.openai.com/v1/embeddings", {}), hosts=hosts, well_known=False
        )
        is None
    )
    mapped = emulating.find(
        call("http://10.0.0.12:8000/v1/embeddings", {}), hosts=hosts, well_known=False
    )
    assert mapped is not None


def test_the_openai_family_answers_a_mapped_host_like_api_openai_com() -> None:
    c = call(
        "http://10.0.0.12:8000/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}
    )
    target = emulating.find(c, hosts={"10.0.0.12:8000": "openai"})
    assert target is not None
    answer = json.loads(emulating.respond(target, c, aws_keys=None, now=NOW).body)
    assert len(answer["data"][0]["embedding"]) == 1536


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.12:8000=openai", ("10.0.0.12:8000", "openai")),
        (" GPU-1.Internal : =x", None),
        ("gpu-1.internal:08000=OLLAMA", ("gpu-1.internal:8000", "ollama")),
        ("gpu-1=ollama", ("gpu-1", "ollama")),
        ("gpu-1:=ollama", None),
        ("-gpu=ollama", None),
        ("a b=openai", None),
        ("10.0.0.12:8000=", None),
    ],
)
def test_parse_host(text: str, expected: tuple[str, str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            emulating.parse_host(text)
    else:
        assert emulating.parse_host(text) == expected
