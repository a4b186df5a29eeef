"""Index settings as OpenSearch keeps and shows them, for `PUT /{index}` and
`GET|PUT /{index}/_settings`: every key under `index.`, nested, values as strings.

Used by `store.py`; pure functions and data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Index settings fixed at creation (`IndexMetadata`'s non-dynamic ones a client might send).
_STATIC = frozenset({"number_of_shards", "routing_partition_size", "codec", "uuid"})


def index_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as OpenSearch keeps them: every key under `index.`, nested, values strings
    (`{"index.default_pipeline": "p"}`, `{"default_pipeline": "p"}` and the nested form are
    the same setting)."""
    nested: dict[str, Any] = {}
    for key, value in flat(raw).items():
        parts = key.removeprefix("index.").split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value if value is None or isinstance(value, str) else _text(value)
    return {"index": nested}


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_text(item) for item in value]
    return str(value)


def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def static_keys(settings: Mapping[str, Any]) -> list[str]:
    """The full keys of `settings` (as `index_settings` returns them) that are not dynamic."""
    return sorted(f"index.{key}" for key in flat(settings.get("index", {})) if key in _STATIC)


def flat_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Nested settings (`{"index": {"search": {"default_pipeline": "p"}}}`) as the full
    dotted keys `flat_settings=true` shows (`{"index.search.default_pipeline": "p"}`)."""
    return flat(settings)


def nest_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Full dotted keys back to the nested form `GET /_settings` shows by default."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested
