"""Compiling the OpenSearch query DSL into per-document matchers, for `searching.py`.

A compiled query is a function `(source, id) -> score | None` (None = no match). How a
field matches (text tokens, exact keyword, value) comes from `fields.py`. Unsupported
query types raise `parsing_exception: unknown query [x]`, as OpenSearch does. Nothing
here mutates a document or knows about indices.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.sandbox.fields import (
    IGNORE_ABOVE,
    FieldTypes,
    as_keyword,
    token_list,
    tokens,
    values_at,
)
from reconciler.sandbox.http import ApiError

Compiled = Callable[[Mapping[str, Any], str], float | None]
"""A compiled query: `(source, doc_id) -> score`, or None when the document does not match."""
Leaf = Callable[[Any], bool]


def _same_value(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool):
        return as_keyword(wanted) == as_keyword(value)
    if isinstance(value, int | float):
        try:
            return float(wanted) == float(value)
        except (TypeError, ValueError):
            return False
    return bool(value == as_keyword(wanted))


def term_leaf(mode: str, wanted: Any) -> Leaf:
    """A predicate on one leaf value for a term query on a field of `mode`."""
    term = as_keyword(wanted)
    if mode == "text":
        return lambda v: isinstance(v, str) and term in tokens(v)
    if mode == "keyword":
        if len(term) > IGNORE_ABOVE:
            # Values longer than `ignore_above` are not indexed, so they can never match.
            return lambda v: False
        return lambda v: v == term if type(v) is str else v is not None and as_keyword(v) == term
    if mode == "exact":
        return lambda v: _same_value(v, wanted)
    # Dynamic: a string was mapped as text, anything else by value.
    return lambda v: (term in tokens(v)) if isinstance(v, str) else _same_value(v, wanted)


class _Compiler:
    """Turns one query object into a `Compiled` function, recursively."""

    def __init__(self, types: FieldTypes) -> None:
        self.types = types

    def compile(self, query: Any) -> Compiled:
        if not isinstance(query, Mapping) or len(query) != 1:
            raise ApiError(
                400, "query malformed, must start with start_object", error_type="parsing_exception"
            )
        name, spec = next(iter(query.items()))
        builder = getattr(self, f"q_{name}", None)
        if builder is None:
            raise ApiError(400, f"unknown query [{name}]", error_type="parsing_exception")
        compiled: Compiled = builder(spec)
        return compiled

    # -- leaf queries ------------------------------------------------------------------
    def q_match_all(self, spec: Any) -> Compiled:
        boost = _boost(spec)
        return lambda source, doc_id: boost

    def q_match_none(self, spec: Any) -> Compiled:
        return lambda source, doc_id: None

    def q_term(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "term", key="value")
        mode, path = self.types.mode(field)
        return _any_leaf(path, term_leaf(mode, options.get("value")), boost=_boost(options))

    def q_terms(self, spec: Any) -> Compiled:
        fields = {k: v for k, v in dict(spec).items() if k != "boost"}
        if len(fields) != 1 or not isinstance(next(iter(fields.values())), list):
            raise ApiError(
                400,
                "[terms] query requires one field with an array of values",
                error_type="parsing_exception",
            )
        field, wanted = next(iter(fields.items()))
        mode, path = self.types.mode(field)
        leaves = [term_leaf(mode, w) for w in wanted]
        return _any_leaf(path, lambda v: any(leaf(v) for leaf in leaves), boost=_boost(spec))

    def q_ids(self, spec: Any) -> Compiled:
        wanted = frozenset(str(v) for v in spec.get("values", []))
        boost = _boost(spec)
        return lambda source, doc_id: boost if doc_id in wanted else None

    def q_exists(self, spec: Any) -> Compiled:
        _, path = self.types.mode(str(spec.get("field")))
        boost = _boost(spec)

        def run(source: Mapping[str, Any], doc_id: str) -> float | None:
            return boost if any(v is not None for v in values_at(source, path)) else None

        return run

    def q_match(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "match", key="query")
        mode, path = self.types.mode(field)
        text = as_keyword(options.get("query"))
        if mode in ("keyword", "exact"):
            return _any_leaf(path, term_leaf(mode, options.get("query")), boost=_boost(options))
        wanted = tokens(text)
        need_all = str(options.get("operator", "or")).lower() == "and"
        boost = _boost(options)

        def run(source: Mapping[str, Any], doc_id: str) -> float | None:
            have: set[str] = set()
            for value in values_at(source, path):
                have |= tokens(value) if isinstance(value, str) else {as_keyword(value).lower()}
            hits = len(wanted & have)
            ok = hits == len(wanted) if need_all else hits > 0
            return boost * hits if ok and wanted else None

        return run

    def q_match_phrase(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "match_phrase", key="query")
        _, path = self.types.mode(field)
        phrase = token_list(as_keyword(options.get("query")))

        def run(source: Mapping[str, Any], doc_id: str) -> float | None:
            for value in values_at(source, path):
                words = token_list(as_keyword(value))
                for start in range(len(words) - len(phrase) + 1):
                    if words[start : start + len(phrase)] == phrase:
                        return _boost(options)
            return None

        return run

    def q_prefix(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "prefix", key="value")
        mode, path = self.types.mode(field)
        start = as_keyword(options.get("value"))
        return _any_leaf(
            path, _pattern_leaf(mode, lambda term: term.startswith(start)), boost=_boost(options)
        )

    def q_wildcard(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "wildcard", key="value")
        mode, path = self.types.mode(field)
        pattern = as_keyword(options.get("value", options.get("wildcard")))
        test = functools.partial(fnmatch.fnmatchcase, pat=pattern)
        return _any_leaf(path, _pattern_leaf(mode, test), boost=_boost(options))

    def q_range(self, spec: Any) -> Compiled:
        field, options = _field_spec(spec, "range", key="gte")
        _, path = self.types.mode(field)
        ops = ("gt", "gte", "lt", "lte")
        bounds: dict[str, Any] = {op: options[op] for op in ops if op in options}
        return _any_leaf(path, lambda v: _in_range(v, bounds), boost=_boost(options))

    # -- compound queries --------------------------------------------------------------
    def q_bool(self, spec: Any) -> Compiled:
        return _compile_bool(spec, self.compile)

    def q_constant_score(self, spec: Any) -> Compiled:
        inner = self.compile(spec.get("filter"))
        boost = _boost(spec)
        return lambda source, doc_id: None if inner(source, doc_id) is None else boost

    def q_nested(self, spec: Any) -> Compiled:
        # Dotted paths already walk nested arrays, so the inner query runs on the whole
        # document. This over-matches only when two clauses hit different nested objects.
        return self.compile(spec.get("query"))


def compile_query(query: Any, types: FieldTypes) -> Compiled:
    """Compile `query` (a query-DSL object) for documents described by `types`."""
    return _Compiler(types).compile(query)


def _clauses(
    spec: Mapping[str, Any], name: str, compile_one: Callable[[Any], Compiled]
) -> list[Compiled]:
    raw = spec.get(name) or []
    return [compile_one(q) for q in (raw if isinstance(raw, list) else [raw])]


def _compile_bool(spec: Any, compile_one: Callable[[Any], Compiled]) -> Compiled:
    if not isinstance(spec, Mapping):
        raise ApiError(400, "[bool] query malformed", error_type="parsing_exception")
    must, filters = _clauses(spec, "must", compile_one), _clauses(spec, "filter", compile_one)
    should, must_not = (
        _clauses(spec, "should", compile_one),
        _clauses(spec, "must_not", compile_one),
    )
    # With no must/filter clause at least one should clause has to match (OpenSearch default).
    default = 0 if must or filters or not should else 1
    needed = _minimum_should_match(spec.get("minimum_should_match"), len(should), default=default)
    boost = _boost(spec)

    def run(source: Mapping[str, Any], doc_id: str) -> float | None:
        score = 0.0
        for clause in must:
            got = clause(source, doc_id)
            if got is None:
                return None
            score += got
        if any(c(source, doc_id) is None for c in filters):
            return None
        if any(c(source, doc_id) is not None for c in must_not):
            return None
        matched = 0
        for clause in should:
            got = clause(source, doc_id)
            if got is not None:
                matched += 1
                score += got
        return score * boost if matched >= needed else None

    return run


def _minimum_should_match(raw: Any, count: int, *, default: int) -> int:
    if raw is None:
        return default
    text = str(raw).strip()
    try:
        if text.endswith("%"):
            percent = int(text[:-1])
            wanted = count * abs(percent) // 100
            return wanted if percent >= 0 else count - wanted
        number = int(text)
    except ValueError:
        raise ApiError(
            400, f"Invalid minimum_should_match [{raw}]", error_type="illegal_argument_exception"
        ) from None
    return number if number >= 0 else max(count + number, 0)


def _field_spec(spec: Any, name: str, *, key: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, Mapping) or not spec:
        raise ApiError(
            400, f"[{name}] query malformed, no field specified", error_type="parsing_exception"
        )
    field, options = next(iter(spec.items()))
    if isinstance(options, Mapping):
        return str(field), dict(options)
    return str(field), {key: options}


def _boost(spec: Any) -> float:
    return float(spec.get("boost", 1.0)) if isinstance(spec, Mapping) else 1.0


def _any_leaf(path: str, leaf: Leaf, *, boost: float) -> Compiled:
    def run(source: Mapping[str, Any], doc_id: str) -> float | None:
        for value in values_at(source, path):
            if leaf(value):
                return boost
        return None

    return run


def _pattern_leaf(mode: str, test: Callable[[str], bool]) -> Leaf:
    if mode in {"keyword", "exact"}:
        return lambda v: v is not None and test(as_keyword(v))
    return lambda v: isinstance(v, str) and any(test(t) for t in tokens(v))


def _in_range(value: Any, bounds: Mapping[str, Any]) -> bool:
    if value is None or isinstance(value, bool):
        return False
    checks = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    try:
        if isinstance(value, int | float):
            return all(checks[op](value, float(bound)) for op, bound in bounds.items())
        return all(checks[op](str(value), str(bound)) for op, bound in bounds.items())
    except (TypeError, ValueError):
        return False
