"""Connector templating (reference §2.7, §8.2): stringification, rendering, escaping."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.ml import templating


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("text", "text"),
        (100, "100"),
        (1.5, "1.5"),
        (True, "true"),
        ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
        ([1, "x"], '[1,"x"]'),
        (None, "null"),
    ],
)
def test_parameter_values_are_stored_as_strings(value: Any, stored: str) -> None:
    assert templating.stringify(value) == stored


@pytest.mark.parametrize(
    ("template", "params", "rendered"),
    [
        ("${parameters.a}", {"a": "1"}, "1"),
        ("x-${parameters.a}-${parameters.b}", {"a": "1", "b": "2"}, "x-1-2"),
        ("${parameters.a:-fallback}", {}, "fallback"),
        ("${parameters.a:-fallback}", {"a": "given"}, "given"),
        ('{"t": "${parameters.t:-null}"}', {}, '{"t": null}'),
        ('{"t": "${parameters.t:-null}"}', {"t": "v"}, '{"t": "v"}'),
        ("${parameters.a.toString()}", {"a": 'say "hi"'}, 'say \\"hi\\"'),
        ("${parameters.missing}", {"a": "1"}, "${parameters.missing}"),
        ("${credential.key}", {"key": "1"}, "${credential.key}"),
        (
            "${parameters.api}",
            {"api": "C_${parameters.v}.${parameters.n}", "v": "1", "n": "D"},
            "C_1.D",
        ),
    ],
)
def test_render_substitutes_parameters(
    template: str, params: dict[str, str], rendered: str
) -> None:
    assert templating.render(template, params) == rendered


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"p": 'a "quoted" text'}, {"p": 'a \\"quoted\\" text'}),
        ({"p": "line\nbreak"}, {"p": "line\\nbreak"}),
        ({"p": ["a", "b"]}, {"p": '["a","b"]'}),
        ({"p": '["raw", "json"]'}, {"p": '["raw", "json"]'}),
        ({"n": 3}, {"n": "3"}),
        (
            {"p": 'keep "me"', "no_escape_params": "p"},
            {"p": 'keep "me"', "no_escape_params": "p"},
        ),
    ],
)
def test_request_parameters_are_escaped_unless_opted_out(
    params: dict[str, Any], expected: dict[str, str]
) -> None:
    assert templating.request_parameters(params) == expected


def test_request_parameters_win_over_connector_parameters() -> None:
    merged = templating.merge_parameters({"a": "1", "b": "2"}, {"b": "3"})
    assert merged == {"a": "1", "b": "3"}


def test_leftover_placeholders_are_reported_once_in_order() -> None:
    text = "${parameters.b} ${parameters.a} ${parameters.b}"
    assert templating.leftover_placeholders(text) == ["b", "a"]


def test_credentials_fill_headers_only() -> None:
    headers = {"Authorization": "Bearer ${credential.key}", "X-Other": "${credential.nope}"}
    rendered = templating.render_headers(headers, credential={"key": "s3cret"})
    assert rendered == {"Authorization": "Bearer s3cret", "X-Other": "${credential.nope}"}


@pytest.mark.parametrize(
    ("payload", "valid"),
    [
        ('{"a": 1}', True),
        ("[1, 2]", True),
        ('{"a": 1}\n{"b": 2}\n', True),
        ("not json", False),
        ('{"a": }', False),
    ],
)
def test_payload_must_be_json_or_ndjson(payload: str, valid: bool) -> None:
    assert templating.is_json_payload(payload) is valid
