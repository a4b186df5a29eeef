"""Field semantics of the sandbox's search: how values are found in a document and how a
field is indexed (text tokens, exact keyword, or by value).

Follows the index mapping, and OpenSearch's dynamic mapping for unmapped fields: a string
is `text` analyzed by the standard analyzer (lower-cased word tokens) with an exact
`.keyword` sub-field (`ignore_above: 256`); numbers and booleans compare by value. Used by
`querying.py` and `searching.py`; pure functions and data only.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.sandbox.http import ApiError

_TEXT_TYPES = frozenset({"text", "match_only_text"})
_KEYWORD_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "flat_object"})
IGNORE_ABOVE = 256
"""`ignore_above` of dynamic `.keyword` sub-fields: longer strings are not indexed."""
_TOKEN = re.compile(r"\w+(?:[.'\u2019]\w+)*")


@functools.lru_cache(maxsize=65_536)
def tokens(text: str) -> frozenset[str]:
    """The standard analyzer's terms, approximated: lower-cased Unicode word tokens."""
    return frozenset(t.lower() for t in _TOKEN.findall(text))


def token_list(text: str) -> list[str]:
    """Tokens in order, for phrase queries."""
    return [t.lower() for t in _TOKEN.findall(text)]


@functools.lru_cache(maxsize=4096)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def values_at(source: Any, path: str) -> list[Any]:
    """Every leaf value at a dotted path, walking objects and arrays (nested or not)."""
    # Fast path for the common case, plain objects all the way down: this runs once per
    # document per clause, so it dominates search time.
    obj = source
    for part in _parts(path):
        if type(obj) is not dict or part not in obj:
            break
        obj = obj[part]
    else:
        if type(obj) is not list:
            return [obj]
    out: list[Any] = []
    _collect(source, _parts(path), out)
    return out


def _collect(obj: Any, parts: tuple[str, ...], out: list[Any]) -> None:
    if isinstance(obj, list):
        for item in obj:
            _collect(item, parts, out)
        return
    if not parts:
        out.append(obj)
        return
    if isinstance(obj, dict):
        for cut in range(1, len(parts) + 1):
            # Keys may themselves contain dots (flat_object, dotted JSON keys).
            key = ".".join(parts[:cut]) if cut > 1 else parts[0]
            if key in obj:
                _collect(obj[key], parts[cut:], out)


@dataclasses.dataclass(frozen=True)
class FieldTypes:
    """Explicit field types from an index mapping; unmapped fields are dynamic."""

    types: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_mappings(cls, mappings: Mapping[str, Any]) -> FieldTypes:
        found: dict[str, str] = {}
        _walk(mappings.get("properties", {}), "", found)
        return cls(found)

    def mode(self, field: str) -> tuple[str, str]:
        """(`text` | `keyword` | `exact` | `dynamic`, path in the source) for a query field."""
        explicit = self.types.get(field)
        if explicit is not None:
            return _mode_of(explicit, field)
        base, _, sub = field.rpartition(".")
        if base and self.types.get(field) is None and sub == "keyword":
            owner = self.types.get(base)
            if owner is None or owner in _TEXT_TYPES:
                return "keyword", base
        for prefix, kind in self.types.items():
            if kind == "flat_object" and field.startswith(prefix + "."):
                return "keyword", field
        return "dynamic", field

    def check_sortable(self, field: str, docs: Iterable[Any]) -> None:
        """Refuse a sort on a text field, with OpenSearch's fielddata message."""
        if field in ("_score", "_doc", "_id", "_seq_no"):
            return
        mode, path = self.mode(field)
        if mode == "text" or (
            mode == "dynamic"
            and any(isinstance(v, str) for d in docs for v in values_at(d.source, path))
        ):
            raise ApiError(
                400,
                "Text fields are not optimised for operations that require per-document field "
                "data like aggregations and sorting, so these operations are disabled by "
                "default. Please use a keyword field instead. Alternatively, set fielddata=true "
                f"on [{field}] in order to load field data by uninverting the inverted index. "
                "Note that this can use significant memory.",
                error_type="illegal_argument_exception",
            )


def _walk(properties: Mapping[str, Any], prefix: str, found: dict[str, str]) -> None:
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if not isinstance(spec, Mapping):
            continue
        found[path] = str(spec.get("type", "object"))
        for sub, sub_spec in (spec.get("fields") or {}).items():
            found[f"{path}.{sub}"] = str(sub_spec.get("type", "keyword")) + "@sub"
        _walk(spec.get("properties", {}), f"{path}.", found)


def _mode_of(kind: str, field: str) -> tuple[str, str]:
    if kind.endswith("@sub"):
        # A multi-field such as `name.keyword` reads the parent's value.
        return _mode_of(kind.removesuffix("@sub"), field.rpartition(".")[0])[0], field.rpartition(
            "."
        )[0]
    if kind in _TEXT_TYPES:
        return "text", field
    if kind in _KEYWORD_TYPES:
        return "keyword", field
    return "exact", field


def as_keyword(value: Any) -> str:
    """How a value is indexed as a keyword term (OpenSearch stringifies scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
