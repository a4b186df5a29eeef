"""Finding literal credential headers in plan bodies (`secrets.headers`)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from reconciler.secrets.headers import has_literal_headers, replace_literal_headers

MARKER = {"sealed": True}


def sealed(value: Any, *, path: str = "") -> Any:
    return replace_literal_headers(value, lambda where, name, text: MARKER, path=path)


@pytest.mark.parametrize(
    ("value", "path", "literal"),
    [
        ({"actions": [{"headers": {"Authorization": "Bearer sk-1"}}]}, "", True),
        ({"actions": [{"headers": {"Authorization": "Bearer ${credential.k}"}}]}, "", False),
        ({"actions": [{"headers": {"content-type": "application/json"}}]}, "", False),
        ({"connector": {"headers": {"x-api-key": "k"}}}, "", True),
        ({"headers": {"X-Service-Token": "t"}}, "", True),
        ({"headers": [{"Authorization": "Bearer sk-1"}]}, "", False),
        ({"Authorization": "Bearer sk-1"}, "", False),
        ({"Authorization": "Bearer sk-1"}, "actions[0].headers", True),
        ("Bearer sk-1", "actions[0].headers.Authorization", True),
        ("Bearer ${credential.k}", "actions[0].headers.Authorization", False),
        (None, "", False),
        ([], "", False),
    ],
)
def test_a_literal_is_found_exactly_where_the_replacement_replaces(
    value: Any, path: str, literal: bool
) -> None:
    assert has_literal_headers(value, path=path) is literal
    assert (sealed(value, path=path) != value) is literal


def _random_body(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(["Bearer sk-x", "${credential.k}", "text", 3, None, ""])
    keys = ["headers", "Authorization", "x-api-key", "content-type", "actions", "url", "a"]
    if roll < 0.5:
        return [_random_body(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(keys): _random_body(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_the_quick_check_agrees_with_the_replacement_on_random_bodies() -> None:
    rng = random.Random(18)
    paths = ["", "headers", "actions[0].headers", "actions[0].headers.Authorization", "url"]
    for _ in range(3_000):
        value, path = _random_body(rng), rng.choice(paths)
        assert has_literal_headers(value, path=path) is (sealed(value, path=path) != value), (
            value,
            path,
        )
