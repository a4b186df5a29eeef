"""Dynamic mapping as `GET /{index}/_mapping` shows it (OpenSearch's defaults)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.mappings import put_properties, with_dynamic_fields

TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("hello", TEXT),
        ("2024-05-01", {"type": "date"}),
        ("2024-05-01T10:00:00Z", {"type": "date"}),
        (7, {"type": "long"}),
        (1.5, {"type": "float"}),
        (False, {"type": "boolean"}),
        ([None, "x"], TEXT),
        ([{"a": 1}], {"properties": {"a": {"type": "long"}}}),
    ],
)
def test_dynamic_field_types(value: Any, field: dict[str, Any]) -> None:
    assert with_dynamic_fields({}, [{"f": value}]) == {"properties": {"f": field}}


def test_explicit_fields_win_and_objects_merge_across_documents() -> None:
    mappings = {"properties": {"f": {"type": "keyword"}}}
    sources = [{"f": "x", "o": {"a": 1}}, {"o": {"b": "y"}}, {"n": None}]
    assert with_dynamic_fields(mappings, sources) == {
        "properties": {
            "f": {"type": "keyword"},
            "o": {"properties": {"a": {"type": "long"}, "b": TEXT}},
        }
    }
    assert mappings == {"properties": {"f": {"type": "keyword"}}}


@pytest.mark.parametrize("dynamic", ["false", "strict", False])
def test_no_dynamic_fields_when_dynamic_is_off(dynamic: Any) -> None:
    assert with_dynamic_fields({"dynamic": dynamic}, [{"f": 1}]) == {"dynamic": dynamic}


def test_empty_index_has_an_empty_mapping() -> None:
    assert with_dynamic_fields({}, []) == {}


def test_put_properties_merges() -> None:
    mappings: dict[str, Any] = {"properties": {"o": {"properties": {"a": {"type": "long"}}}}}
    put_properties(mappings, {"properties": {"o": {"properties": {"b": {"type": "keyword"}}}}})
    assert mappings["properties"]["o"]["properties"] == {
        "a": {"type": "long"},
        "b": {"type": "keyword"},
    }
