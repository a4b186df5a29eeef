"""Amazon SageMaker runtime, Comprehend and Textract emulators.

SageMaker: `POST /endpoints/{name}/invocations` passes the body to the model container; the
emulator plays the common Hugging Face containers: an array of texts (top level, or under
`inputs` / `text_inputs`) is embedded, one vector per text, with a dimension read from the
endpoint name (`minilm` 384, `mpnet` 768, `bge-large` 1024, ...; 768 otherwise), and
`{"inputs": "<prompt>"}` is text generation. Comprehend and Textract are AWS JSON 1.1
services: the operation is the `X-Amz-Target` header. Errors follow each protocol
(docs/reference/providers.md). The SigV4 check happens before this module.
"""

from __future__ import annotations

import base64
import binascii
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

_ENDPOINT_DIMENSIONS = (
    ("minilm", 384),
    ("bge-small", 384),
    ("e5-small", 384),
    ("gte-small", 384),
    ("bge-large", 1024),
    ("e5-large", 1024),
    ("gte-large", 1024),
    ("mpnet", 768),
    ("bge-base", 768),
    ("e5-base", 768),
)
DEFAULT_DIMENSION = 768
"""For an endpoint whose name does not tell (BERT-base sized models are the common case)."""


def json11_error(status: int, code: str, message: str) -> Reply:
    """An AWS JSON 1.1 error (Comprehend, Textract)."""
    return reply(status, {"__type": code, "message": message}, {"x-amzn-ErrorType": code})


def rest_error(status: int, code: str, message: str) -> Reply:
    """An AWS REST-JSON error (SageMaker runtime)."""
    return reply(status, {"message": message}, {"x-amzn-ErrorType": code})


def sagemaker(call: Call) -> Reply:
    """runtime.sagemaker.{region}.amazonaws.com."""
    parts = call.path.strip("/").split("/")
    if (
        call.method != "POST"
        or len(parts) != 3
        or parts[0] != "endpoints"
        or parts[2] != "invocations"
    ):
        return rest_error(404, "UnknownOperationException", "Unknown operation")
    endpoint = parts[1]
    try:
        body = call.any_json()
        return reply(200, _invoke(endpoint, body))
    except MalformedError as exc:
        return rest_error(
            424,
            "ModelError",
            f'Received client error (400) from primary with message "{exc}". See '
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint} in account "
            "123456789012 for more information.",
        )


def dimension_for(endpoint: str) -> int:
    """The embedding dimension an endpoint name suggests."""
    name = endpoint.lower()
    return next((d for part, d in _ENDPOINT_DIMENSIONS if part in name), DEFAULT_DIMENSION)


def _invoke(endpoint: str, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("inputs"), str):
        text = vectors.answer(body["inputs"], provider="SageMaker")
        return [{"generated_text": text}]
    if isinstance(body, dict):
        key = "inputs" if "inputs" in body else "text_inputs"
        body = require(body, key)
    inputs = texts(body, field="inputs")
    dimension = dimension_for(endpoint)
    return [vectors.embed(t, model=endpoint, dimension=dimension) for t in inputs]


def comprehend(call: Call) -> Reply:
    """comprehend.{region}.amazonaws.com: DetectDominantLanguage, DetectSentiment, ..."""
    target = call.header("x-amz-target") or ""
    service, _, operation = target.partition(".")
    if service != "Comprehend_20171127":
        return json11_error(400, "UnknownOperationException", "")
    try:
        text = str(require(call.json(), "Text"))
    except MalformedError as exc:
        return json11_error(400, "ValidationException", f"1 validation error detected: {exc}")
    answers: dict[str, Any] = {
        "DetectDominantLanguage": {"Languages": [{"LanguageCode": "en", "Score": 0.99}]},
        "DetectSentiment": {
            "Sentiment": "NEUTRAL",
            "SentimentScore": {"Positive": 0.1, "Negative": 0.05, "Neutral": 0.8, "Mixed": 0.05},
        },
        "DetectKeyPhrases": {
            "KeyPhrases": [
                {
                    "Score": 0.99,
                    "Text": word,
                    "BeginOffset": text.find(word),
                    "EndOffset": text.find(word) + len(word),
                }
                for word in text.split()[:3]
            ]
        },
    }
    if operation not in answers:
        return json11_error(400, "UnknownOperationException", "")
    return reply(200, answers[operation])


def textract(call: Call) -> Reply:
    """textract.{region}.amazonaws.com: DetectDocumentText."""
    if (call.header("x-amz-target") or "") != "Textract.DetectDocumentText":
        return json11_error(400, "UnknownOperationException", "")
    try:
        document = require(call.json(), "Document")
        raw = base64.b64decode(str(require(document, "Bytes")), validate=True)
    except (MalformedError, binascii.Error, TypeError) as exc:
        return json11_error(
            400, "InvalidParameterException", f"Request has invalid parameters: {exc}"
        )
    line = f"(sandbox Textract emulator) document of {len(raw)} bytes"
    box = {"Width": 0.5, "Height": 0.05, "Left": 0.1, "Top": 0.1}
    geometry = {
        "BoundingBox": box,
        "Polygon": [
            {"X": 0.1, "Y": 0.1},
            {"X": 0.6, "Y": 0.1},
            {"X": 0.6, "Y": 0.15},
            {"X": 0.1, "Y": 0.15},
        ],
    }
    blocks = [
        {
            "BlockType": "PAGE",
            "Geometry": geometry,
            "Id": "page-1",
            "Relationships": [{"Type": "CHILD", "Ids": ["line-1"]}],
        },
        {
            "BlockType": "LINE",
            "Confidence": 99.5,
            "Text": line,
            "Geometry": geometry,
            "Id": "line-1",
        },
    ]
    return reply(
        200,
        {
            "DocumentMetadata": {"Pages": 1},
            "Blocks": blocks,
            "DetectDocumentTextModelVersion": "1.0",
        },
    )
