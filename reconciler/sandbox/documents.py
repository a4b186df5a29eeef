"""The index and document REST API of the sandbox: create/get/delete indices, write, read,
update and delete documents, search, bulk and refresh, with OpenSearch's paths, status
codes and bodies.

osml keeps its own state (locks, records) in an ordinary index through these routes, and
tests use them through opensearch-py. The server calls `register(router)` once. Handlers
delegate all semantics to `Store`; this module only maps HTTP onto it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.http import ApiError, Context, NoHandlerError, Request, Response, Router
from reconciler.sandbox.searching import filter_source

_BULK_ACTIONS = ("index", "create", "update", "delete")
_SEARCH_PARAMS = ("size", "from", "seq_no_primary_term", "version", "track_total_hits")


def register(router: Router) -> None:
    """Add every index/document route."""
    for method, pattern, handler in (
        ("PUT", "/{index}", create_index),
        ("HEAD", "/{index}", index_exists),
        ("GET", "/{index}", get_index),
        ("DELETE", "/{index}", delete_index),
        ("GET", "/{index}/_mapping", get_mapping),
        ("GET", "/_mapping", get_mapping),
        ("PUT", "/{index}/_mapping", put_mapping),
        ("GET", "/{index}/_settings", get_settings),
        ("GET", "/_settings", get_settings),
        ("GET", "/{index}/_settings/{name}", get_settings),
        ("GET", "/_settings/{name}", get_settings),
        ("PUT", "/{index}/_settings", put_settings),
        ("PUT", "/{index}/_doc/{id}", index_doc),
        ("POST", "/{index}/_doc/{id}", index_doc),
        ("POST", "/{index}/_doc", index_doc),
        ("PUT", "/{index}/_create/{id}", create_doc),
        ("POST", "/{index}/_create/{id}", create_doc),
        ("GET", "/{index}/_doc/{id}", get_doc),
        ("DELETE", "/{index}/_doc/{id}", delete_doc),
        ("POST", "/{index}/_update/{id}", update_doc),
        ("GET", "/{index}/_search", search),
        ("POST", "/{index}/_search", search),
        ("GET", "/_search", search),
        ("POST", "/_search", search),
        ("GET", "/{index}/_count", count),
        ("POST", "/{index}/_count", count),
        ("POST", "/{index}/_refresh", refresh),
        ("GET", "/{index}/_refresh", refresh),
        ("POST", "/_refresh", refresh),
    ):
        router.add(method, pattern, handler)
    for method in ("POST", "PUT"):
        router.add(method, "/_bulk", bulk, raw_body=True)
        router.add(method, "/{index}/_bulk", bulk, raw_body=True)


# -- indices ---------------------------------------------------------------------------
def create_index(ctx: Context, request: Request, *, index: str) -> Response:
    _check_name(index, request)
    body = request.body if isinstance(request.body, Mapping) else {}
    ctx.store.create_index(index, mappings=body.get("mappings"), settings=body.get("settings"))
    return Response(200, {"acknowledged": True, "shards_acknowledged": True, "index": index})


def index_exists(ctx: Context, request: Request, *, index: str) -> Response:
    _check_name(index, request)
    return Response(200 if ctx.store.index_exists(index) else 404)


def get_index(ctx: Context, request: Request, *, index: str) -> Response:
    _check_name(index, request)
    return Response(200, {index: ctx.store.index_info(index)})


def get_mapping(ctx: Context, request: Request, *, index: str = "_all") -> Response:
    # A missing concrete index is a 404 `index_not_found_exception`; a glob matching nothing
    # is an empty object, as OpenSearch answers.
    return Response(200, ctx.store.mappings(index))


def put_mapping(ctx: Context, request: Request, *, index: str) -> Response:
    ctx.store.put_mapping(index, _object_body(request))
    return Response(200, {"acknowledged": True})


def get_settings(
    ctx: Context, request: Request, *, index: str = "_all", name: str | None = None
) -> Response:
    flat = request.flag("flat_settings")
    return Response(200, ctx.store.settings(index, names=name, flat=flat))


def put_settings(ctx: Context, request: Request, *, index: str) -> Response:
    ctx.store.put_settings(index, _object_body(request))
    return Response(200, {"acknowledged": True})


def delete_index(ctx: Context, request: Request, *, index: str) -> Response:
    _check_name(index, request)
    ctx.store.delete_index(index)
    return Response(200, {"acknowledged": True})


# -- documents -------------------------------------------------------------------------
def index_doc(ctx: Context, request: Request, *, index: str, id: str | None = None) -> Response:
    _check_name(index, request)
    op_type = request.params.get("op_type", "index")
    result = ctx.store.index(
        index, _object_body(request), id=id, op_type=op_type, **_concurrency(request.params)
    )
    return _written(result)


def create_doc(ctx: Context, request: Request, *, index: str, id: str) -> Response:
    _check_name(index, request)
    return _written(ctx.store.index(index, _object_body(request), id=id, op_type="create"))


def get_doc(ctx: Context, request: Request, *, index: str, id: str) -> Response:
    _check_name(index, request)
    doc = ctx.store.get(index, id)
    if doc is None:
        return Response(404, {"_index": index, "_id": id, "found": False})
    body: dict[str, Any] = {
        "_index": index,
        "_id": id,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
        "found": True,
    }
    source = filter_source(doc.source, _source_spec(request.params))
    if source is not None:
        body["_source"] = source
    return Response(200, body)


def delete_doc(ctx: Context, request: Request, *, index: str, id: str) -> Response:
    _check_name(index, request)
    result = ctx.store.delete(index, id, **_concurrency(request.params))
    return Response(404 if result["result"] == "not_found" else 200, result)


def update_doc(ctx: Context, request: Request, *, index: str, id: str) -> Response:
    _check_name(index, request)
    body = _object_body(request)
    return Response(200, _apply_update(ctx, index, id, body, params=request.params))


def _apply_update(
    ctx: Context, index: str, id: str, body: Mapping[str, Any], *, params: Mapping[str, Any]
) -> dict[str, Any]:
    partial = body.get("doc")
    if not isinstance(partial, Mapping):
        raise ApiError(
            400,
            "Validation Failed: 1: script or doc is missing;",
            error_type="action_request_validation_exception",
        )
    if not ctx.store.index_exists(index) or ctx.store.get(index, id) is None:
        upsert = partial if body.get("doc_as_upsert") is True else body.get("upsert")
        if isinstance(upsert, Mapping):
            return ctx.store.index(index, upsert, id=id, op_type="create")
    return ctx.store.update(index, id, partial, **_concurrency(params))


# -- search ----------------------------------------------------------------------------
def search(ctx: Context, request: Request, *, index: str = "_all") -> Response:
    body = dict(request.body) if isinstance(request.body, Mapping) else {}
    for name in _SEARCH_PARAMS:
        if name in request.params:
            body[name] = _scalar(request.params[name])
    if "sort" in request.params:
        body["sort"] = [_sort_param(part) for part in request.params["sort"].split(",")]
    spec = _source_spec(request.params)
    if spec is not True:
        body["_source"] = spec
    return Response(200, ctx.store.search(index, body))


def count(ctx: Context, request: Request, *, index: str) -> Response:
    body = request.body if isinstance(request.body, Mapping) else {}
    query = {"query": body["query"]} if "query" in body else {}
    result = ctx.store.search(index, {**query, "size": 0, "track_total_hits": True})
    return Response(200, {"count": result["hits"]["total"]["value"], "_shards": result["_shards"]})


def refresh(ctx: Context, request: Request, *, index: str = "_all") -> Response:
    # Every write is visible at once in the sandbox, so refresh has nothing to do.
    if index != "_all" and not ctx.store.index_exists(index):
        ctx.store.search(index, {"size": 0})  # raises index_not_found like OpenSearch
    return Response(200, {"_shards": {"total": 2, "successful": 1, "failed": 0}})


# -- bulk ------------------------------------------------------------------------------
def bulk(ctx: Context, request: Request, *, index: str | None = None) -> Response:
    started = time.perf_counter()
    items = [
        _bulk_item(ctx, action, meta, source, default_index=index)
        for action, meta, source in _bulk_lines(request.raw)
    ]
    errors = any("error" in next(iter(item.values())) for item in items)
    took = int((time.perf_counter() - started) * 1000)
    return Response(200, {"took": took, "errors": errors, "items": items})


def _bulk_lines(raw: bytes) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    lines = [line for line in raw.decode("utf-8").split("\n") if line.strip()]
    parsed: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    position = 0
    while position < len(lines):
        header = _json_line(lines[position], position + 1)
        if len(header) != 1 or next(iter(header)) not in _BULK_ACTIONS:
            raise ApiError(
                400,
                f"Malformed action/metadata line [{position + 1}], expected field [create], "
                f"[delete], [index] or [update] but found [{next(iter(header), '')}]",
                error_type="illegal_argument_exception",
            )
        action, meta = next(iter(header.items()))
        source = None
        if action != "delete":
            position += 1
            if position >= len(lines):
                raise ApiError(400, "The bulk request must be terminated by a newline [\\n]")
            source = _json_line(lines[position], position + 1)
        parsed.append((action, dict(meta or {}), source))
        position += 1
    if not parsed:
        raise ApiError(
            400,
            "Validation Failed: 1: no requests added;",
            error_type="action_request_validation_exception",
        )
    return parsed


def _json_line(line: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ApiError(
            400,
            f"Malformed action/metadata line [{number}], expected START_OBJECT",
            error_type="illegal_argument_exception",
        )
    return value


def _bulk_item(
    ctx: Context,
    action: str,
    meta: Mapping[str, Any],
    source: Mapping[str, Any] | None,
    *,
    default_index: str | None,
) -> dict[str, Any]:
    index = str(meta.get("_index") or default_index or "")
    doc_id = None if meta.get("_id") is None else str(meta["_id"])
    try:
        if not index:
            raise ApiError(
                400,
                "Validation Failed: 1: index is missing;",
                error_type="action_request_validation_exception",
            )
        result = _bulk_apply(
            ctx, action, index=index, doc_id=doc_id, meta=meta, source=source or {}
        )
    except ApiError as exc:
        cause = {"type": exc.error_type, "reason": exc.reason, **exc.extra}
        return {action: {"_index": index, "_id": doc_id, "status": exc.status, "error": cause}}
    status = 201 if result["result"] == "created" else 200
    if result["result"] == "not_found":
        status = 404
    return {action: {**result, "status": status}}


def _bulk_apply(
    ctx: Context,
    action: str,
    *,
    index: str,
    doc_id: str | None,
    meta: Mapping[str, Any],
    source: Mapping[str, Any],
) -> dict[str, Any]:
    concurrency = _concurrency(meta)
    if action in ("index", "create"):
        op_type = "create" if action == "create" else str(meta.get("op_type", "index"))
        return ctx.store.index(index, source, id=doc_id, op_type=op_type, **concurrency)
    if doc_id is None:
        raise ApiError(
            400,
            "Validation Failed: 1: id is missing;",
            error_type="action_request_validation_exception",
        )
    if action == "delete":
        return ctx.store.delete(index, doc_id, **concurrency)
    return _apply_update(ctx, index, doc_id, source, params=meta)


# -- helpers of this module ------------------------------------------------------------
def _check_name(index: str, request: Request) -> None:
    # OpenSearch has no index whose name starts with `_`: such a path is an unknown endpoint.
    if index.startswith("_"):
        raise NoHandlerError(request.path, request.method)
    if request.method in ("PUT", "POST") and index != index.lower():
        raise ApiError(
            400,
            f"Invalid index name [{index}], must be lowercase",
            error_type="invalid_index_name_exception",
            extra={"index_uuid": "_na_", "index": index},
        )


def _object_body(request: Request) -> dict[str, Any]:
    if not isinstance(request.body, Mapping):
        raise ApiError(
            400,
            "Validation Failed: 1: source is missing;",
            error_type="action_request_validation_exception",
        )
    return dict(request.body)


def _written(result: Mapping[str, Any]) -> Response:
    return Response(201 if result["result"] == "created" else 200, dict(result))


def _concurrency(params: Mapping[str, Any]) -> dict[str, int | None]:
    def number(name: str) -> int | None:
        value = params.get(name)
        return None if value is None else int(value)

    return {"if_seq_no": number("if_seq_no"), "if_primary_term": number("if_primary_term")}


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def _sort_param(part: str) -> Any:
    field, _, order = part.partition(":")
    return {field: {"order": order}} if order else field


def _source_spec(params: Mapping[str, str]) -> Any:
    includes = params.get("_source_includes")
    excludes = params.get("_source_excludes")
    if includes or excludes:
        return {
            "includes": includes.split(",") if includes else [],
            "excludes": excludes.split(",") if excludes else [],
        }
    raw = params.get("_source")
    if raw is None or raw == "true":
        return True
    if raw == "false":
        return False
    return raw.split(",")
