"""Placeholder syntax and the server's substitution (§8.2, §3.1)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.mlcommons.templates import (
    Namespace,
    find_placeholders,
    inside_json_string,
    stringify,
    substitute,
    unresolved,
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${parameters.model}", [("parameters", "model", None, False)]),
        ("${parameters.x:-default}", [("parameters", "x", "default", False)]),
        ("${parameters.x:-}", [("parameters", "x", "", False)]),
        ("${parameters.messages.toString()}", [("parameters", "messages", None, True)]),
        ("Bearer ${credential.openAI_key}", [("credential", "openAI_key", None, False)]),
        (
            "https://${parameters.host}/${parameters.path.x}",
            [("parameters", "host", None, False), ("parameters", "path.x", None, False)],
        ),
        ("${other.x} $parameters.y {parameters.z}", []),
    ],
)
def test_find(template: str, expected: list[tuple[str, str, str | None, bool]]) -> None:
    found = [
        (p.namespace.value, p.name, p.default, p.to_string) for p in find_placeholders(template)
    ]
    assert found == expected


def test_span_and_text() -> None:
    (placeholder,) = find_placeholders('{"a": ${parameters.x:-1}}')
    assert (placeholder.start, placeholder.end) == (6, 24)
    assert placeholder.text == "${parameters.x}"
    assert placeholder.namespace is Namespace.PARAMETERS


@pytest.mark.parametrize(
    ("template", "parameters", "expected"),
    [
        (
            "https://${parameters.endpoint}/v1",
            {"endpoint": "api.openai.com"},
            "https://api.openai.com/v1",
        ),
        ("https://${parameters.endpoint}/v1", {}, "https://${parameters.endpoint}/v1"),
        ("https://${parameters.h:-a.example}/v1", {}, "https://a.example/v1"),
        ("https://${parameters.h:-a.example}/v1", {"h": "b"}, "https://b/v1"),
        ("${parameters.x.toString()}", {"x": "1"}, "${parameters.x.toString()}"),
        ("${credential.key}", {"key": "no"}, "${credential.key}"),
        ("${parameters.a}${parameters.a}", {"a": "z"}, "zz"),
    ],
)
def test_substitute(template: str, parameters: dict[str, str], expected: str) -> None:
    assert substitute(template, parameters) == expected


def test_unresolved() -> None:
    left = unresolved("https://${parameters.a}/${credential.b}")
    assert [p.name for p in left] == ["a"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (100, "100"),
        (1.5, "1.5"),
        (True, "true"),
        (None, "null"),
        ({"a": [1, 2], "b": "é"}, '{"a":[1,2],"b":"é"}'),
        ([], "[]"),
        ({"q": "a<b & c='d'"}, '{"q":"a\\u003cb \\u0026 c\\u003d\\u0027d\\u0027"}'),
        ("a<b", "a<b"),
    ],
)
def test_stringify(value: Any, expected: str) -> None:
    assert stringify(value) == expected


@pytest.mark.parametrize(
    ("template", "marker", "inside"),
    [
        ('{"a": "X"}', "X", True),
        ('{"a": X}', "X", False),
        ('{"a": "q\\"X"}', "X", True),
        ('{"a": "\\\\", "b": X}', "X", False),
    ],
)
def test_inside_json_string(template: str, marker: str, inside: bool) -> None:
    assert inside_json_string(template, template.index(marker)) is inside
