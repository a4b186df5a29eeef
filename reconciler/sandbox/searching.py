"""The sandbox's search engine: the subset of the OpenSearch query DSL that osml and the ML
APIs use, answering with OpenSearch's exact SearchResponse shape (reference §2.8).

`Store.search` calls `search()` with the documents of the target indices. A query is
compiled once into a closure (`queries.py`-style compile step lives here too) and run over
every document, so a search costs O(n) plus one sort. Field semantics follow OpenSearch's
dynamic mapping: strings are `text` (standard analyzer: lower-cased word tokens) with a
`.keyword` sub-field holding the exact string. This module never mutates documents.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.fields import FieldTypes, values_at
from reconciler.sandbox.http import ApiError
from reconciler.sandbox.querying import Compiled, compile_query

if TYPE_CHECKING:
    from reconciler.sandbox.store import Doc

__all__ = ["filter_source", "search"]

MAX_RESULT_WINDOW = 10_000
"""`index.max_result_window` default; `from + size` above it is refused (a dynamic index
setting: `PUT /{index}/_settings {"index.max_result_window": n}` lowers or raises it)."""
_TOTAL_HITS_DEFAULT = 10_000


@dataclasses.dataclass
class _Hit:
    index: str
    doc: Doc
    order: int
    score: float
    sort: list[Any] | None = None


@dataclasses.dataclass(frozen=True)
class _SortKey:
    field: str
    descending: bool
    missing_first: bool


Target = tuple[str, Mapping[str, "Doc"], FieldTypes]


def search(
    targets: Sequence[Target], body: Mapping[str, Any], *, window: int = MAX_RESULT_WINDOW
) -> dict[str, Any]:
    """Run `body` over the documents of `targets` and answer like OpenSearch's _search;
    `window` is the smallest `index.max_result_window` of the targets."""
    started = time.perf_counter()
    size, offset = _window(body, limit=window)
    hits = _matching(targets, body.get("query"))
    sort = _sort_keys(body.get("sort"), targets, hits)
    _order(hits, sort)
    total = len(hits)  # every match, also on a search_after page, as OpenSearch counts
    if body.get("search_after") is not None:
        hits = _after(hits, sort, body["search_after"], offset=offset)
    page = hits[offset : offset + size]
    scored = not sort or any(k.field == "_score" for k in sort) or body.get("track_scores") is True
    response: dict[str, Any] = {
        "took": int((time.perf_counter() - started) * 1000),
        "timed_out": False,
        "_shards": {"total": len(targets), "successful": len(targets), "skipped": 0, "failed": 0},
        "hits": _hits_block(page, body, total=total, scored=scored),
    }
    return response


def _window(body: Mapping[str, Any], *, limit: int) -> tuple[int, int]:
    size = _int_param(body.get("size", 10), "size")
    offset = _int_param(body.get("from", 0), "from")
    if offset + size > limit:
        raise ApiError(
            400,
            "Result window is too large, from + size must be less than or equal to: "
            f"[{limit}] but was [{offset + size}]. See the scroll api for a more "
            "efficient way to request large data sets. This limit can be set by changing the "
            "[index.max_result_window] index level setting.",
            error_type="illegal_argument_exception",
        )
    return size, offset


def _int_param(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, f"[{name}] must be an integer, found [{value}]", error_type="parsing_exception"
        ) from None
    if number < 0:
        raise ApiError(
            400,
            f"[{name}] parameter cannot be negative, found [{number}]",
            error_type="illegal_argument_exception",
        )
    return number


def _matching(targets: Sequence[Target], query: Any) -> list[_Hit]:
    hits: list[_Hit] = []
    order = 0
    for name, docs, types in targets:
        matcher: Compiled = compile_query(query if query is not None else {"match_all": {}}, types)
        for doc in docs.values():
            score = matcher(doc.source, doc.id)
            if score is not None:
                hits.append(_Hit(name, doc, order, score))
            order += 1
    return hits


def _sort_keys(raw: Any, targets: Sequence[Target], hits: list[_Hit]) -> list[_SortKey]:
    if raw is None:
        return []
    specs = raw if isinstance(raw, list) else [raw]
    keys = [_sort_key(spec) for spec in specs]
    for key in keys:
        for name, _, types in targets:
            # Unmapped fields are typed by their values; only the hits' values matter here.
            types.check_sortable(key.field, (h.doc for h in hits if h.index == name))
    return keys


def _sort_key(spec: Any) -> _SortKey:
    if isinstance(spec, str):
        return _SortKey(spec, spec == "_score", missing_first=False)
    if isinstance(spec, Mapping) and len(spec) == 1:
        field, options = next(iter(spec.items()))
        if isinstance(options, str):
            options = {"order": options}
        if isinstance(options, Mapping):
            order = options.get("order", "desc" if field == "_score" else "asc")
            return _SortKey(
                field, order == "desc", missing_first=options.get("missing") == "_first"
            )
    raise ApiError(400, f"malformed sort [{spec}]", error_type="parsing_exception")


def _sort_value(hit: _Hit, key: _SortKey) -> Any:
    if key.field == "_score":
        return hit.score
    if key.field == "_doc":
        return hit.order
    if key.field == "_id":
        return hit.doc.id
    if key.field == "_seq_no":
        # A metadata field with doc values: sortable, as on OpenSearch (one shard here).
        return hit.doc.seq_no
    values = [
        v for v in values_at(hit.doc.source, key.field.removesuffix(".keyword")) if v is not None
    ]
    if not values:
        return None
    try:
        # OpenSearch sorts multi-valued fields by their min (asc) or max (desc).
        return max(values) if key.descending else min(values)
    except TypeError:
        return values[0]


def _order(hits: list[_Hit], sort: list[_SortKey]) -> None:
    if not sort:
        # Relevance first; ties keep index order, like a single-shard OpenSearch.
        hits.sort(key=lambda h: -h.score)
        return
    for hit in hits:
        hit.sort = [_sort_value(hit, key) for key in sort]
    try:
        # Stable sorts from the last key to the first give a multi-key sort in O(k n log n).
        for position in reversed(range(len(sort))):
            key = sort[position]
            by_key = functools.partial(_hit_key, position=position, key=key)
            hits.sort(key=by_key, reverse=key.descending)
    except TypeError:
        raise ApiError(
            400,
            "sort values of different types cannot be compared",
            error_type="illegal_argument_exception",
        ) from None


def _hit_key(hit: _Hit, *, position: int, key: _SortKey) -> tuple[bool, Any]:
    return _comparable(hit.sort, position, key)


def _comparable(values: list[Any] | None, position: int, key: _SortKey) -> tuple[bool, Any]:
    value = values[position] if values is not None else None
    present = value is not None
    # Missing values go last (or first) whatever the direction, as OpenSearch's `missing`.
    rank = present if key.descending != key.missing_first else not present
    return (rank, value if present else 0)


def _after(hits: list[_Hit], sort: list[_SortKey], after: Any, *, offset: int) -> list[_Hit]:
    if not sort:
        raise ApiError(
            400, "Sort must contain at least one field.", error_type="illegal_argument_exception"
        )
    if offset > 0:
        raise ApiError(
            400,
            "`from` parameter must be set to 0 when `search_after` is used.",
            error_type="illegal_argument_exception",
        )
    if not isinstance(after, list) or len(after) != len(sort):
        count = len(after) if isinstance(after, list) else 1
        raise ApiError(
            400,
            f"search_after has {count} value(s) but sort has {len(sort)}.",
            error_type="illegal_argument_exception",
        )
    for position, hit in enumerate(hits):
        if _compare(hit.sort or [], after, sort) > 0:
            return hits[position:]
    return []


def _compare(values: list[Any], after: list[Any], sort: list[_SortKey]) -> int:
    for value, pivot, key in zip(values, after, sort, strict=True):
        if value == pivot:
            continue
        mine, theirs = _comparable([value], 0, key), _comparable([pivot], 0, key)
        try:
            less = mine < theirs
        except TypeError:
            less = str(mine) < str(theirs)
        if key.descending:
            return 1 if less else -1
        return -1 if less else 1
    return 0


def _hits_block(
    page: list[_Hit], body: Mapping[str, Any], *, total: int, scored: bool
) -> dict[str, Any]:
    block: dict[str, Any] = {}
    track = body.get("track_total_hits", _TOTAL_HITS_DEFAULT)
    if track is not False:
        limit = total if track is True else int(track)
        block["total"] = {"value": min(total, limit), "relation": "eq" if total <= limit else "gte"}
    block["max_score"] = max((h.score for h in page), default=None) if scored else None
    block["hits"] = [_render_hit(h, body, scored=scored) for h in page]
    return block


def _render_hit(hit: _Hit, body: Mapping[str, Any], *, scored: bool) -> dict[str, Any]:
    rendered: dict[str, Any] = {"_index": hit.index, "_id": hit.doc.id}
    if body.get("version") is True:
        rendered["_version"] = hit.doc.version
    if body.get("seq_no_primary_term") is True:
        rendered["_seq_no"] = hit.doc.seq_no
        rendered["_primary_term"] = hit.doc.primary_term
    rendered["_score"] = hit.score if scored else None
    source = filter_source(hit.doc.source, body.get("_source", True))
    if source is not None:
        rendered["_source"] = copy.deepcopy(source)
    if hit.sort is not None:
        rendered["sort"] = list(hit.sort)
    return rendered


def filter_source(source: Mapping[str, Any], spec: Any) -> Mapping[str, Any] | None:
    """Apply a `_source` spec (bool, pattern, list, or includes/excludes); None means omit."""
    if spec is True or spec is None:
        return source
    if spec is False:
        return None
    includes: list[str]
    excludes: list[str] = []
    if isinstance(spec, str):
        includes = [spec]
    elif isinstance(spec, list):
        includes = [str(s) for s in spec]
    elif isinstance(spec, Mapping):
        includes = _patterns(spec.get("includes", spec.get("include")))
        excludes = _patterns(spec.get("excludes", spec.get("exclude")))
    else:
        raise ApiError(400, f"malformed _source [{spec}]", error_type="parsing_exception")
    return _filter(source, "", includes=includes, excludes=excludes)


def _patterns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _filter(
    obj: Mapping[str, Any], prefix: str, *, includes: list[str], excludes: list[str]
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if any(fnmatch.fnmatchcase(path, p) for p in excludes):
            continue
        whole = not includes or any(
            fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") for p in includes
        )
        if isinstance(value, Mapping) and (whole or _below(path, includes)):
            inner = _filter(
                value, f"{path}.", includes=[] if whole else includes, excludes=excludes
            )
            if inner or whole:
                kept[key] = inner
        elif whole:
            kept[key] = value
    return kept


def _below(path: str, includes: Iterable[str]) -> bool:
    # An include like `owner.name` or `owner.*` means we must descend into `owner`.
    return any(p.startswith(path + ".") or p.startswith("*") for p in includes)
