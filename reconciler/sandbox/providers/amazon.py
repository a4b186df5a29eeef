"""Amazon SageMaker runtime, Comprehend and Textract emulators.

SageMaker: `POST /endpoints/{name}/invocations` passes the body to the model container, so
the answer's shape is the model's. The emulator tells the model family from the request
shape, first match wins: `queries` / `images` is ColPali (multi-vector embeddings, the ML
Commons ColPali blueprint); `question` + `context` or `inputs` of such pairs is the
OpenSearch semantic highlighter; `{"inputs": "<prompt>"}` is a Hugging Face text
generation container; an array of texts (top level, or under `inputs` / `text_inputs`) is a
Hugging Face embedding container, one vector per text, with a dimension read from the
endpoint name (`minilm` 384, `mpnet` 768, `bge-large` 1024, ...; 768 otherwise). Anything
else is the container's 400, which SageMaker reports as a 424 ModelError. Comprehend and
Textract are AWS JSON 1.1 services: the operation is the `X-Amz-Target` header. Errors follow
each protocol (docs/reference/providers.md). The SigV4 check happens before this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
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
    if isinstance(body, dict) and ("queries" in body or "images" in body):
        return _colpali(body)
    if isinstance(body, dict) and _is_highlighting(body):
        return _highlight(body)
    if isinstance(body, dict) and isinstance(body.get("inputs"), str):
        text = vectors.answer(body["inputs"], provider="SageMaker")
        return [{"generated_text": text}]
    if isinstance(body, dict):
        key = "inputs" if "inputs" in body else "text_inputs"
        body = require(body, key)
    inputs = texts(body, field="inputs")
    dimension = dimension_for(endpoint)
    return [vectors.embed(t, model=endpoint, dimension=dimension) for t in inputs]


COLPALI_DIMENSION = 128
"""ColPali projects every query token and image patch to 128 dimensions."""
COLPALI_GRID = 32
"""PaliGemma-448 sees an image as 32 x 32 patches of 14 pixels."""


def _colpali(body: dict[str, Any]) -> dict[str, Any]:
    # The answer of the `visual-document-retrieval` container of the ML Commons ColPali
    # blueprint: per query one vector per token, per image one vector per patch, and the
    # late-interaction (MaxSim) scores when both are given.
    queries = texts(body["queries"], field="queries") if "queries" in body else []
    given = body.get("images", [])
    if not isinstance(given, list) or (not queries and not given):
        raise MalformedError("'queries' and 'images' must be non-empty arrays")
    pictures = [images.decode(i, data_uri=False) for i in given]
    answer: dict[str, Any] = {}
    query_vectors = [_query_vectors(q) for q in queries]
    if queries:
        answer["query_embeddings"] = query_vectors
        answer["query_tokens"] = [
            {"raw": f"<bos>Query: {q}", "tokens": _query_tokens(q)} for q in queries
        ]
    image_vectors = [_patch_vectors(p) for p in pictures]
    if pictures:
        total = COLPALI_GRID * COLPALI_GRID
        answer["image_embeddings"] = image_vectors
        answer["image_mask"] = [[1.0] * total for _ in pictures]
        answer["patch_shape"] = {
            "height": float(COLPALI_GRID),
            "width": float(COLPALI_GRID),
            "total": float(total),
            "image_size": [float(pictures[0].width), float(pictures[0].height)],
            "patch_size": 14.0,
        }
    if queries and pictures:
        answer["scores"] = [[_max_sim(q, i) for i in image_vectors] for q in query_vectors]
    return answer


def _query_tokens(query: str) -> list[str]:
    return ["<bos>", "Query", ":", *("\u2581" + word for word in query.split())]


def _query_vectors(query: str) -> list[list[float]]:
    return [
        vectors.embed(f"{i}\x00{token}\x00{query}", model="colpali", dimension=COLPALI_DIMENSION)
        for i, token in enumerate(_query_tokens(query))
    ]


def _patch_vectors(picture: images.Image) -> list[list[float]]:
    seed = hashlib.sha256(picture.raw).hexdigest()
    return [
        vectors.embed(f"{seed}\x00{n}", model="colpali", dimension=COLPALI_DIMENSION)
        for n in range(COLPALI_GRID * COLPALI_GRID)
    ]


def _max_sim(query: list[list[float]], image: list[list[float]]) -> float:
    total = sum(max(sum(a * b for a, b in zip(q, p, strict=True)) for p in image) for q in query)
    return round(total, 6)


def _is_highlighting(body: dict[str, Any]) -> bool:
    batch = body.get("inputs")
    pairs = isinstance(batch, list) and bool(batch) and all(isinstance(i, dict) for i in batch)
    return pairs or ("question" in body and "context" in body)


def _highlight(body: dict[str, Any]) -> dict[str, Any]:
    # The opensearch-py-ml semantic highlighter container (`predict_fn`): a non-empty
    # `inputs` is a batch, else `question` and `context` must both be non-empty.
    batch = body.get("inputs")
    if batch:
        spans: list[Any] = []
        for item in batch:
            if not isinstance(item, dict) or "question" not in item or "context" not in item:
                raise MalformedError("each input needs 'question' and 'context'")
            spans.append(_spans(str(item["question"]), str(item["context"])))
    elif body.get("question") and body.get("context"):
        spans = _spans(str(body["question"]), str(body["context"]))
    else:
        raise MalformedError(
            "Invalid input format. Expected one of: {'inputs': [{'question': '...', "
            "'context': '...'}, ...]} or {'question': '...', 'context': '...'}"
        )
    return {"highlights": spans, "processing_time_ms": 1.0, "device": "cpu"}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = _words(
    "a an and are as at be by can do does for from how in is it its of on or the this "
    "to what when where which who why with"
)


def _spans(question: str, context: str) -> list[dict[str, int]]:
    # Sentences sharing the most content words with the question; with none shared, the
    # first sentence (the container's "backoff" keeps one sentence when nothing passes).
    wanted = set(_WORD.findall(question.lower())) - _STOP_WORDS
    sentences = [
        (m.start() + len(m.group()) - len(m.group().lstrip()), m.end())
        for m in _SENTENCE.finditer(context)
        if m.group().strip()
    ]
    if not sentences:
        return []
    overlaps = [len(wanted & set(_WORD.findall(context[a:b].lower()))) for a, b in sentences]
    best = max(overlaps)
    chosen = [s for s, n in zip(sentences, overlaps, strict=True) if n == best and best > 0]
    return [{"start": a, "end": b} for a, b in (chosen or sentences[:1])]


_LANGUAGES = ("ar", "hi", "ko", "zh-TW", "ja", "zh", "de", "pt", "en", "it", "fr", "es")
_NEEDS_LANGUAGE = ("DetectSentiment", "DetectKeyPhrases", "DetectEntities")


def comprehend(call: Call) -> Reply:
    """comprehend.{region}.amazonaws.com: DetectDominantLanguage, DetectSentiment, ..."""
    target = call.header("x-amz-target") or ""
    service, _, operation = target.partition(".")
    operations: dict[str, Callable[[str], dict[str, Any]]] = {
        "DetectDominantLanguage": lambda text: {
            "Languages": [{"LanguageCode": "en", "Score": 0.99}]
        },
        "DetectSentiment": lambda text: {
            "Sentiment": "NEUTRAL",
            "SentimentScore": {"Positive": 0.1, "Negative": 0.05, "Neutral": 0.8, "Mixed": 0.05},
        },
        "DetectKeyPhrases": _key_phrases,
        "DetectEntities": lambda text: {"Entities": entities(text)},
    }
    if service != "Comprehend_20171127" or operation not in operations:
        return json11_error(400, "UnknownOperationException", "")
    try:
        body = call.json()
        text = str(require(body, "Text"))
        if operation in _NEEDS_LANGUAGE:
            _language(body)
    except MalformedError as exc:
        return json11_error(400, "ValidationException", f"1 validation error detected: {exc}")
    return reply(200, operations[operation](text))


def _language(body: dict[str, Any]) -> None:
    code = body.get("LanguageCode")
    if code not in _LANGUAGES:
        raise MalformedError(
            f"Value '{code}' at 'languageCode' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{', '.join(_LANGUAGES)}]"
        )


def _key_phrases(text: str) -> dict[str, Any]:
    return {
        "KeyPhrases": [
            {
                "Score": 0.99,
                "Text": word,
                "BeginOffset": text.find(word),
                "EndOffset": text.find(word) + len(word),
            }
            for word in text.split()[:3]
        ]
    }


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*|[^\sA-Za-z0-9]")
_NUMBERS = _words(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty "
    "hundred thousand million dozen"
)
_DATES = _words(
    "today tomorrow yesterday tonight monday tuesday wednesday thursday friday "
    "saturday sunday january february march april may june july august september "
    "october november december"
)
_PLACE_WORDS = frozenset({"in", "at", "from", "to", "near"})
_QUANTITY_ENDS = _STOP_WORDS | _DATES | {"today"}
_NOT_NAMES = frozenset({"The", "A", "An", "I", "It", "This", "That", "We", "They", "He", "She"})


def entities(text: str) -> list[dict[str, Any]]:
    """Named entities by a fixed rule (the emulator has no model): a number and the
    lower-case words after it up to a function word is a QUANTITY, a day, month or year a
    DATE, a run of capitalised words a LOCATION after in/at/from/to/near and a PERSON
    otherwise."""
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    found: list[dict[str, Any]] = []
    i = 0
    while i < len(tokens):
        word, start, end = tokens[i]
        lower = word.lower()
        kind, j = None, i + 1
        if lower in _DATES or re.fullmatch(r"(19|20)\d\d", word):
            kind = "DATE"
        elif lower in _NUMBERS or word.isdigit():
            while j < len(tokens) and tokens[j][0].isalpha() and tokens[j][0].islower():
                if tokens[j][0] in _QUANTITY_ENDS:
                    break
                j += 1
            kind = "QUANTITY"
        elif word[0].isupper() and word not in _NOT_NAMES:
            while j < len(tokens) and tokens[j][0][0].isupper():
                j += 1
            before = tokens[i - 1][0].lower() if i else ""
            kind = "LOCATION" if before in _PLACE_WORDS else "PERSON"
        if kind is not None:
            end = tokens[j - 1][2]
            found.append(
                {
                    "Score": 0.99,
                    "Type": kind,
                    "Text": text[start:end],
                    "BeginOffset": start,
                    "EndOffset": end,
                }
            )
        i = j
    return found


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
