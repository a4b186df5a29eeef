"""`response_filter` JSONPath as Jayway reads it (definite paths fail, indefinite ones collect)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.ml import jsonpath

DOC = {
    "data": [{"embedding": [1, 2], "i": 0}, {"embedding": [3], "i": 1}, {"i": 2}],
    "choices": [{"message": {"content": "hi"}}],
    "a b": {"c": True},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.choices[0].message.content", "hi"),
        ("$['choices'][0]['message']['content']", "hi"),
        ('$["a b"].c', True),
        ("$.data[-1].i", 2),
        ("$.data[*].embedding", [[1, 2], [3]]),
        ("$.data[*].i", [0, 1, 2]),
        ("$.data[0,2].i", [0, 2]),
        ("$.data[1:].i", [1, 2]),
        ("$..content", ["hi"]),
        ("$.choices[0].message.*", ["hi"]),
        ("$[*]", list(DOC.values())),
    ],
)
def test_paths(path: str, expected: Any) -> None:
    assert jsonpath.read(DOC, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.nope", "No results for path: $['nope']"),
        ("$.nope.x", "Missing property in path $['nope']"),
        ("$.data[9]", "Index out of bounds when evaluating path $['data'][9]"),
    ],
)
def test_definite_paths_that_find_nothing(path: str, message: str) -> None:
    with pytest.raises(jsonpath.PathNotFoundError) as caught:
        jsonpath.read(DOC, path)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "named"),
    [("$.data[?(@.i > 0)]", "filter"), ("$.data.length()", "functions"), ("data", "'$'")],
)
def test_unsupported_paths_are_named(path: str, named: str) -> None:
    with pytest.raises(jsonpath.InvalidPathError) as caught:
        jsonpath.read(DOC, path)
    assert named in str(caught.value)
