"""Server-managed fields and the server's rewrites of what it is sent (§10, §2.7)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.mlcommons.fields import (
    SERVER_MANAGED,
    drop_server_managed,
    normalize_action_type,
    normalize_parameters,
    normalize_version,
    stored_access,
)
from reconciler.resources import Kind


@pytest.mark.parametrize(
    ("kind", "managed", "kept"),
    [
        (
            Kind.CONNECTOR,
            ["owner", "access", "created_time", "last_updated_time"],
            ["name", "parameters"],
        ),
        (Kind.MODEL_GROUP, ["latest_version", "owner", "access"], ["name", "description"]),
        (
            Kind.MODEL,
            ["model_state", "model_version", "algorithm", "model_id", "is_hidden"],
            ["connector_id", "model_config"],
        ),
    ],
)
def test_server_managed(kind: Kind, managed: list[str], kept: list[str]) -> None:
    assert set(managed) <= SERVER_MANAGED[kind]
    document = {field: 1 for field in managed + kept}
    assert drop_server_managed(document, kind=kind) == {field: 1 for field in kept}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (None, {}),
        ({}, {}),
        (
            {"a": "x", "n": 100, "f": 1.0, "b": True},
            {"a": "x", "n": "100", "f": "1.0", "b": "true"},
        ),
        ({"o": {"k": [1, "v"]}}, {"o": '{"k":[1,"v"]}'}),
    ],
)
def test_parameters(parameters: dict[str, Any] | None, expected: dict[str, str]) -> None:
    assert normalize_parameters(parameters) == expected


@pytest.mark.parametrize(
    ("version", "expected"), [(1, "1"), ("1", "1"), (1.0, "1.0"), ("v2", "v2")]
)
def test_version(version: str | int | float, expected: str) -> None:
    assert normalize_version(version) == expected


def test_action_type_and_access() -> None:
    assert normalize_action_type("predict") == "PREDICT"
    assert stored_access("Public") == "public"
    assert stored_access(None) is None
