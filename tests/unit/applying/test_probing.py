"""The probe check: `lifecycle.probe.expect` against predict answers, the JSONPath subset it
is written in, and the short description apply prints for a passed probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.applying import probing
from reconciler.errors import ManifestError
from reconciler.manifests import jsonpaths
from reconciler.manifests.loading import load_manifests


def embedding_answer(*sizes: int) -> dict[str, Any]:
    tensors = [
        {"name": "sentence_embedding", "data_type": "FLOAT32", "shape": [n], "data": [0.1] * n}
        for n in sizes
    ]
    return {"inference_results": [{"output": tensors, "status_code": 200}]}


def raw_answer(data: dict[str, Any]) -> dict[str, Any]:
    return {"inference_results": [{"output": [{"name": "response", "dataAsMap": data}]}]}


CHAT = raw_answer(
    {"choices": [{"message": {"role": "assistant", "content": "ready, and a few more words here"}}]}
)
CONTENT = "$.inference_results[0].output[0].dataAsMap.choices[0].message.content"


def test_a_matching_dimension_passes() -> None:
    assert probing.problems(embedding_answer(1024, 1024), {"embedding_dimension": 1024}) == []


def test_a_wrong_dimension_fails_with_both_numbers() -> None:
    found = probing.problems(embedding_answer(768), {"embedding_dimension": 1024})
    assert found == ["expected embeddings of 1024 dimensions, got 768"]


def test_a_chat_answer_has_no_embedding() -> None:
    found = probing.problems(CHAT, {"embedding_dimension": 1024})
    assert found == ["expected an embedding of 1024 dimensions, the answer has none"]


def test_a_raw_provider_answer_is_measured_by_its_first_vector() -> None:
    titan = raw_answer({"embedding": [0.5] * 1536, "inputTextTokenCount": 2})
    assert probing.embedding_dimensions(titan) == [1536]


def test_paths_that_exist_pass_and_missing_ones_fail() -> None:
    assert probing.problems(CHAT, {"exists": [CONTENT]}) == []
    missing = "$.inference_results[0].output[0].dataAsMap.choices[0].text"
    assert probing.problems(CHAT, {"exists": [CONTENT, missing]}) == [
        f"expected {missing} in the answer, it selects nothing"
    ]


def test_no_expectations_pass_any_answer() -> None:
    assert probing.problems({}, {}) == []


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (embedding_answer(384), "embedding of 384 dimensions"),
        (embedding_answer(1024, 1024), "2 embeddings of 1024 dimensions"),
        (CHAT, '"ready, and a few more words here"'),
        (
            raw_answer(
                {
                    "content": [
                        {"type": "text", "text": "one two three four five six seven eight nine"}
                    ]
                }
            ),
            '"one two three four five six seven eight ..."',
        ),
        (raw_answer({"status": "ok"}), "answered"),
    ],
)
def test_the_description_is_short(answer: dict[str, Any], text: str) -> None:
    assert probing.describe(answer) == text


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", [{"a": [{"b": 1}, {"b": 2}], "c-d": 3}]),
        ("$.a[0].b", [1]),
        ("$.a[-1].b", [2]),
        ("$.a[*].b", [1, 2]),
        ("$['c-d']", [3]),
        ('$["a"][1]["b"]', [2]),
        ("$.a.*.b", [1, 2]),
        ("$.a[5]", []),
        ("$.missing", []),
    ],
)
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    document = {"a": [{"b": 1}, {"b": 2}], "c-d": 3}
    assert jsonpaths.find(document, path) == expected


@pytest.mark.parametrize("path", ["a.b", "$.a[?(@.b)]", "$.a[0:2]", "$..b"])
def test_unsupported_jsonpaths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="JSONPath"):
        jsonpaths.parse(path)


MODEL = """apiVersion: osml/v1
kind: Model
metadata:
  name: m
spec:
  connector_id: abc
lifecycle:
  probe:
    parameters: {inputText: hi}
    expect:
{expect}
"""


def test_a_bad_expect_is_a_located_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        MODEL.replace("{expect}", "      exists: ['$..b']\n      embedding_dimension: 0")
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "m.yaml:1" in text and "Model/m" in text
    assert "JSONPath '$..b'" in text
    assert "embedding_dimension" in text


def test_a_good_expect_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        MODEL.replace("{expect}", f"      exists: ['{CONTENT}']\n      embedding_dimension: 8")
    )
    (loaded,) = load_manifests([path])
    probe = loaded.manifest.lifecycle.probe  # type: ignore[union-attr]
    assert probe.expect.embedding_dimension == 8


def agent_answer(*results: Any) -> dict[str, Any]:
    """An execute answer (CONS §4.8): one output tensor per result."""
    outputs = [{"name": "response", "result": r} for r in results]
    return {"inference_results": [{"output": outputs}]}


@pytest.mark.parametrize(
    ("answer", "expect", "found"),
    [
        (agent_answer("ready"), {"outputs": True}, []),
        (agent_answer(), {"outputs": True}, ["expected an output with a result, the answer has none"]),
        (agent_answer("  "), {"outputs": True}, ["expected an output with a result, the answer has none"]),
        ({"inference_results": []}, {}, []),
        (agent_answer("x"), {"exists": ["$.inference_results[0].output[0].result"]}, []),
        (
            agent_answer("x"),
            {"exists": ["$.inference_results[0].output[1]"]},
            ["expected $.inference_results[0].output[1] in the answer, it selects nothing"],
        ),
    ],
)
def test_agent_expectations(answer: dict[str, Any], expect: dict[str, Any], found: list[str]) -> None:
    assert probing.agent_problems(answer, expect) == found


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (agent_answer("The first words of a rather long answer from the agent"),
         '"The first words of a rather long answer ..."'),
        (agent_answer('[{"index":0,"message":{"role":"assistant","content":"ready"}}]'), '"ready"'),
        (agent_answer('{"no_text": 1}'), '"{"no_text": 1}"'),
        (agent_answer(), "answered with no output"),
    ],
)  # fmt: skip
def test_agent_answers_are_described_in_a_few_words(answer: dict[str, Any], shown: str) -> None:
    assert probing.describe_agent(answer) == shown
