"""The built-in connector pre/post-process functions of ML Commons (reference §4.1).

`processing.py` looks names up here after checking that the profile's release has them
(`Profile.functions`). Pre-process functions turn text documents (or a query and documents)
into request parameters, as values before the server's string conversion; post-process
functions turn what their JSONPath selected into model tensors, validating it with the
server's messages. Which path a post-process function reads is `POST_PATHS`. Pure functions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.sandbox.http import ApiError

Tensor = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What a predict request carries besides parameters (reference §8.1)."""

    kind: str
    """`parameters` (a REST `{"parameters": ...}` body), `text_docs` or `text_similarity`."""
    docs: tuple[str, ...] = ()
    """`text_docs` as sent."""
    query: str | None = None
    """`query_text` of a text-similarity (rerank) request."""


def illegal(reason: str) -> ApiError:
    """Java `IllegalArgumentException`, 400."""
    return ApiError(400, reason, error_type="illegal_argument_exception")


def _text_docs(inputs: Inputs) -> Sequence[str]:
    if inputs.kind != "text_docs":
        raise illegal(
            "This pre_process_function can only support TextDocsInputDataSet which including "
            "a list of string with key 'text_docs'"
        )
    return inputs.docs


def _similarity(inputs: Inputs) -> Inputs:
    if inputs.kind != "text_similarity":
        raise illegal("This pre_process_function can only support TextSimilarityInputDataSet")
    return inputs


def _first(inputs: Inputs, name: str, empty: str | None = None) -> dict[str, Any]:
    docs = _text_docs(inputs)
    if not docs:
        if empty is None:
            raise ApiError(
                500,
                "Index 0 out of bounds for length 0",
                error_type="index_out_of_bounds_exception",
            )
        raise illegal(empty)
    return {name: docs[0]}


def _multimodal(inputs: Inputs) -> dict[str, Any]:
    docs = _text_docs(inputs)
    if not docs or (len(docs) == 1 and docs[0] is None):
        raise illegal("No input text or image provided")
    produced: dict[str, Any] = {"inputText": docs[0]}
    if len(docs) > 1:
        produced["inputImage"] = docs[1]
    return produced


def _nova(inputs: Inputs) -> dict[str, Any]:
    docs = _text_docs(inputs)
    if not docs or (len(docs) == 1 and docs[0] is None):
        raise illegal("No input provided")
    text = docs[0]
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for modality in ("text", "image", "video", "audio"):
            if modality in parsed:
                return {modality: _as_text(parsed[modality])}
    return {"text": text}


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _cohere_images(inputs: Inputs) -> dict[str, Any]:
    docs = _text_docs(inputs)
    if not docs or docs[0] is None:
        raise illegal("No image provided")
    return {"images": list(docs)}


def _cohere_rerank(inputs: Inputs) -> dict[str, Any]:
    data = _similarity(inputs)
    return {"query": data.query, "documents": list(data.docs), "top_n": len(data.docs)}


def _bedrock_rerank(inputs: Inputs) -> dict[str, Any]:
    data = _similarity(inputs)
    sources = [
        {
            "inlineDocumentSource": {"textDocument": {"text": doc}, "type": "TEXT"},
            "type": "INLINE",
        }
        for doc in data.docs
    ]
    return {
        "queries": [{"textQuery": {"text": data.query}, "type": "TEXT"}],
        "sources": sources,
        "numberOfResults": len(data.docs),
    }


PRE: dict[str, Callable[[Inputs], dict[str, Any]]] = {
    "connector.pre_process.openai.embedding": lambda i: {"input": list(_text_docs(i))},
    "connector.pre_process.default.embedding": lambda i: {"input": list(_text_docs(i))},
    "connector.pre_process.cohere.embedding": lambda i: {"texts": list(_text_docs(i))},
    "connector.pre_process.bedrock.embedding": lambda i: _first(i, "inputText"),
    "connector.pre_process.bedrock.nova.text_embedding": lambda i: _first(i, "inputText"),
    "connector.pre_process.bedrock.nova.image_embedding": lambda i: _first(
        i, "inputImage", "No input image provided"
    ),
    "connector.pre_process.bedrock.nova.video_embedding": lambda i: _first(
        i, "inputVideo", "No input video provided"
    ),
    "connector.pre_process.bedrock.nova.audio_embedding": lambda i: _first(
        i, "inputAudio", "No input audio provided"
    ),
    "connector.pre_process.bedrock.nova.embedding": _nova,
    "connector.pre_process.bedrock.multimodal_embedding": _multimodal,
    "connector.pre_process.cohere.multimodal_embedding": _cohere_images,
    "connector.pre_process.cohere.rerank": _cohere_rerank,
    "connector.pre_process.default.rerank": _cohere_rerank,
    "connector.pre_process.bedrock.rerank": _bedrock_rerank,
}
"""Pre-process functions by name; each returns the `parameters` it produces."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tensor(vector: Sequence[Any], data_type: str | None) -> Tensor:
    return {
        "name": "sentence_embedding",
        "data_type": data_type or "FLOAT32",
        "shape": [len(vector)],
        "data": list(vector),
    }


def _embeddings(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, list):
        raise illegal("Post process function input is not a List.")
    if value:
        if not isinstance(value[0], list):
            raise illegal(
                "The embedding should be a non-empty List containing List of Float values."
            )
        if not value[0] or not _is_number(value[0][0]):
            raise illegal("The embedding should be a non-empty List containing Float values.")
    return [_tensor(vector, data_type) for vector in value]


def _embedding(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, list):
        raise illegal("Post process function input is not a List.")
    if value and not _is_number(value[0]):
        raise illegal("The embedding should be a non-empty List containing Float values.")
    return [_tensor(value, data_type)]


def _similarities(scores: Sequence[Any]) -> list[Tensor]:
    return [
        {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [score]}
        for score in scores
    ]


def _placed(results: list[dict[str, Any]], field: str) -> list[Tensor]:
    scores: list[Any] = [None] * len(results)
    for result in results:
        index = result.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise ApiError(
                500,
                f"class {type(index).__name__} cannot be cast to class java.lang.Integer",
                error_type="class_cast_exception",
            )
        if not 0 <= index < len(scores):
            raise ApiError(
                500,
                f"Index {index} out of bounds for length {len(scores)}",
                error_type="array_index_out_of_bounds_exception",
            )
        scores[index] = result.get(field)
    return _similarities(scores)


def _cohere_rerank_post(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, list):
        raise illegal("Post process function input is not a List.")
    if value:
        if not isinstance(value[0], dict):
            raise illegal("Post process function input is not a List of Map.")
        first = value[0]
        if not first or "index" not in first or "relevance_score" not in first:
            raise illegal("The rerank result should contain index and relevance_score.")
    return _placed(value, "relevance_score")


def _bedrock_rerank_post(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, list):
        raise illegal("Post process function input is not a List.")
    if not value:
        raise illegal("Post process function input is empty.")
    for item in value:
        if not isinstance(item, dict):
            raise illegal("Rerank result is not a Map.")
        if not item:
            raise illegal("Rerank result is empty.")
        if "index" not in item or "relevanceScore" not in item:
            raise illegal("Rerank result should have both index and relevanceScore.")
        if not isinstance(item["relevanceScore"], float):
            raise illegal("relevanceScore is not BigDecimal or Double.")
    return _placed(value, "relevanceScore")


def _batch_job_arn(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, dict):
        raise illegal("Post process function input is not a Map.")
    if "jobArn" not in value:
        raise illegal("job arn is missing.")
    data = {**value, "processedJobArn": str(value["jobArn"]).replace("/", "%2F")}
    return [{"name": "response", "dataAsMap": data}]


def _passthrough(value: Any, data_type: str | None) -> list[Tensor]:
    if not isinstance(value, dict | list):
        raise illegal("Post process function input must be a Map or List")
    results = value.get("inference_results") if isinstance(value, dict) else None
    if not isinstance(results, list):
        return [{"name": "response", "dataAsMap": value}]
    tensors: list[Tensor] = []
    for result in results:
        outputs = result.get("output") if isinstance(result, dict) else None
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, dict) and output:
                tensors.append(_inner_tensor(output))
    return tensors


DATA_TYPES = (
    "FLOAT32",
    "FLOAT64",
    "FLOAT16",
    "UINT8",
    "INT32",
    "INT8",
    "INT64",
    "BOOLEAN",
    "UNKNOWN",
    "STRING",
    "BINARY",
    "UBINARY",
)
"""`MLResultDataType` members in declaration order."""


def _inner_tensor(output: dict[str, Any]) -> Tensor:
    name = output.get("name")
    tensor: Tensor = {"name": name if isinstance(name, str) else "output"}
    data_type = output.get("data_type")
    if isinstance(data_type, str) and data_type in DATA_TYPES:
        tensor["data_type"] = data_type
    for field in ("shape", "data"):
        if isinstance(output.get(field), list):
            tensor[field] = [v if _is_number(v) else None for v in output[field]]
    if output.get("result") is not None:
        tensor["result"] = output["result"]
    if output.get("dataAsMap") is not None:
        tensor["dataAsMap"] = output["dataAsMap"]
    return tensor


def data_type_of(response_filter: str) -> str | None:
    """`parseMLResultDataTypeFromResponseFilter`: the first type whose `.NAME` occurs in the
    filter, ignoring case (`$.embeddings.int8` -> INT8)."""
    lowered = response_filter.lower()
    return next((t for t in DATA_TYPES if "." + t.lower() in lowered), None)


_EMBEDDINGS = "connector.post_process.cohere_v2.embedding."
POST_PATHS: dict[str, str] = {
    "connector.post_process.openai.embedding": "$.data[*].embedding",
    "connector.post_process.cohere.embedding": "$.embeddings",
    **{_EMBEDDINGS + kind: f"$.embeddings.{kind}" for kind in ("int8", "uint8", "binary")},
    _EMBEDDINGS + "float": "$.embeddings.float",
    _EMBEDDINGS + "ubinary": "$.embeddings.ubinary",
    "connector.post_process.default.embedding": "$[*]",
    "connector.post_process.bedrock.embedding": "$.embedding",
    "connector.post_process.bedrock_v2.embedding.float": "$.embeddingsByType.float",
    "connector.post_process.bedrock_v2.embedding.binary": "$.embeddingsByType.binary",
    "connector.post_process.bedrock.nova.embedding": "$.embeddings[*].embedding",
    "connector.post_process.bedrock.batch_job_arn": "$",
    "connector.post_process.cohere.rerank": "$.results",
    "connector.post_process.bedrock.rerank": "$.results",
    "connector.post_process.default.rerank": "$[*]",
    "connector.post_process.mlcommons.passthrough": "$",
}
"""Each post-process function's default JSONPath (`MLPostProcessFunction`)."""

PostFunction = Callable[[Any, "str | None"], list[Tensor]]
_LIST_OF_VECTORS = (
    "connector.post_process.openai.embedding",
    "connector.post_process.cohere.embedding",
    "connector.post_process.default.embedding",
    "connector.post_process.bedrock.nova.embedding",
    *(_EMBEDDINGS + kind for kind in ("float", "int8", "uint8", "binary", "ubinary")),
)
POST: dict[str, PostFunction] = dict.fromkeys(_LIST_OF_VECTORS, _embeddings)
POST |= {
    "connector.post_process.bedrock.embedding": _embedding,
    "connector.post_process.bedrock_v2.embedding.float": _embedding,
    "connector.post_process.bedrock_v2.embedding.binary": _embedding,
    "connector.post_process.bedrock.batch_job_arn": _batch_job_arn,
    "connector.post_process.cohere.rerank": _cohere_rerank_post,
    "connector.post_process.default.rerank": _cohere_rerank_post,
    "connector.post_process.bedrock.rerank": _bedrock_rerank_post,
    "connector.post_process.mlcommons.passthrough": _passthrough,
}
"""Post-process functions by name: (what the JSONPath selected, data type) -> tensors."""
