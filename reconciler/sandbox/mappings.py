"""Index mappings as `GET /{index}/_mapping` shows them: the explicit mapping plus the fields
OpenSearch would have added by dynamic mapping for what the documents hold.

Dynamic mapping follows OpenSearch's defaults: a string is `text` with a `.keyword` sub-field
(`ignore_above: 256`) unless it looks like a date (`date`, date detection is on by default);
an integer is `long`, a fraction `float`, a boolean `boolean`, an object gets `properties`,
an array takes the type of its first non-null element and `null` adds nothing. A mapping with
`dynamic: false` or `strict` gains no fields. Used by `store.py`; pure functions only.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.sandbox.fields import IGNORE_ABOVE

# `strict_date_optional_time`, the first of the default `dynamic_date_formats`.
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": IGNORE_ABOVE}}}


def with_dynamic_fields(
    mappings: Mapping[str, Any], sources: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """`mappings` with a property for every field of `sources` it does not map yet."""
    merged = copy.deepcopy(dict(mappings))
    if str(merged.get("dynamic", "true")).lower() in ("false", "strict"):
        return merged
    properties = merged.setdefault("properties", {})
    for source in sources:
        _add_object(properties, source)
    if not properties:
        del merged["properties"]
    return merged


def _add_object(properties: dict[str, Any], obj: Mapping[str, Any]) -> None:
    for name, value in obj.items():
        field = _field(value)
        if field is None:
            continue
        existing = properties.get(name)
        if existing is None:
            properties[name] = field
        elif "properties" in field and "type" not in existing:
            _add_object(existing.setdefault("properties", {}), _first_object(value))


def _field(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        first = next((item for item in value if item is not None), None)
        return _field(first)
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    if isinstance(value, Mapping):
        inner: dict[str, Any] = {}
        _add_object(inner, value)
        return {"properties": inner}
    if _DATE.fullmatch(str(value)):
        return {"type": "date"}
    return copy.deepcopy(_TEXT)


def _first_object(value: Any) -> Mapping[str, Any]:
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, Mapping)), {})
    return value if isinstance(value, Mapping) else {}


def put_properties(mappings: dict[str, Any], body: Mapping[str, Any]) -> None:
    """`PUT /{index}/_mapping`: new properties are added, existing ones kept (deep merge)."""
    for key, value in body.items():
        if key == "properties" and isinstance(value, Mapping):
            _merge(mappings.setdefault("properties", {}), value)
        else:
            mappings[key] = copy.deepcopy(value)


def _merge(target: dict[str, Any], new: Mapping[str, Any]) -> None:
    for name, field in new.items():
        current = target.get(name)
        if isinstance(current, dict) and isinstance(field, Mapping):
            for key, value in field.items():
                if key == "properties" and isinstance(value, Mapping):
                    _merge(current.setdefault("properties", {}), value)
                else:
                    current[key] = copy.deepcopy(value)
        else:
            target[name] = copy.deepcopy(field)
