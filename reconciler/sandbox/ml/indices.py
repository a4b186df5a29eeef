"""The ML system indices and the store operations every ML handler shares.

Connector, model-group, model and task handlers call these to read and write their documents,
to search with the ML search rules of reference §2.8 (forced `version`/`seq_no_primary_term`,
per-profile handling of a missing index, always-excluded fields) and to order GET bodies the
way the Java `toXContent` does. It must not know about any one resource's validation rules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import ApiError

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request
    from reconciler.sandbox.store import Doc

CONNECTORS = ".plugins-ml-connector"
MODEL_GROUPS = ".plugins-ml-model-group"
MODELS = ".plugins-ml-model"
TASKS = ".plugins-ml-task"
AGENTS = ".plugins-ml-agent"

_NAME = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date", "format": "strict_date_time||epoch_millis"}
# Mapping highlights of reference §1.1: exact-match fields are `keyword`, so a `term` query on
# `algorithm: REMOTE` or `model_state` matches the stored upper-case value.
MAPPINGS: Mapping[str, dict[str, Any]] = {
    CONNECTORS: {
        "properties": {
            "name": _NAME,
            "version": _KEYWORD,
            "protocol": _KEYWORD,
            "access": _KEYWORD,
            "description": {"type": "text"},
            "created_time": _DATE,
            "last_updated_time": _DATE,
        }
    },
    MODEL_GROUPS: {
        "properties": {
            "name": _NAME,
            "access": _KEYWORD,
            "latest_version": {"type": "integer"},
            "description": {"type": "text"},
            "created_time": _DATE,
            "last_updated_time": _DATE,
        }
    },
    MODELS: {
        "properties": {
            "name": _NAME,
            "algorithm": _KEYWORD,
            "model_state": _KEYWORD,
            "model_version": _KEYWORD,
            "connector_id": _KEYWORD,
            "model_group_id": _KEYWORD,
            "is_hidden": {"type": "boolean"},
            "is_enabled": {"type": "boolean"},
            "created_time": _DATE,
            "last_updated_time": _DATE,
        }
    },
    AGENTS: {
        "properties": {
            "name": _NAME,
            "type": _KEYWORD,
            "app_type": _KEYWORD,
            "is_hidden": {"type": "boolean"},
            "created_time": _DATE,
            "last_updated_time": _DATE,
        }
    },
    TASKS: {
        "properties": {
            "model_id": _KEYWORD,
            "task_type": _KEYWORD,
            "function_name": _KEYWORD,
            "state": _KEYWORD,
            "is_async": {"type": "boolean"},
            "create_time": _DATE,
            "last_update_time": _DATE,
        }
    },
}


def now_ms(ctx: Context) -> int:
    """The context clock in epoch milliseconds, as every ML timestamp is stored."""
    return int(ctx.clock() * 1000)


def ordered(source: Mapping[str, Any], order: Iterable[str]) -> dict[str, Any]:
    """`source` with known keys in `order` first, unknown keys after, nulls dropped."""
    keys = list(order)
    result = {key: source[key] for key in keys if source.get(key) is not None}
    result.update({k: v for k, v in source.items() if k not in result and v is not None})
    return result


def put(ctx: Context, index: str, source: Mapping[str, Any], *, doc_id: str | None = None) -> str:
    """Index a whole ML document (creating the index with its mappings first); returns the id."""
    ctx.store.create_index(index, mappings=MAPPINGS.get(index), exist_ok=True)
    return str(ctx.store.index(index, dict(source), id=doc_id)["_id"])


def get_doc(ctx: Context, index: str, doc_id: str) -> Doc | None:
    """The document, or None when it or its index does not exist."""
    if not ctx.store.index_exists(index):
        return None
    return ctx.store.get(index, doc_id)


def docs_where(ctx: Context, index: str, keep: Callable[[Mapping[str, Any]], bool]) -> list[Doc]:
    """All documents of `index` whose source satisfies `keep` (empty when the index is missing)."""
    if not ctx.store.index_exists(index):
        return []
    return [doc for doc in ctx.store.docs(index) if keep(doc.source)]


def search(
    ctx: Context,
    request: Request,
    index: str,
    *,
    excludes: Iterable[str] = (),
    extra_filter: Mapping[str, Any] | None = None,
    missing_index_empty: bool | None = None,
) -> dict[str, Any]:
    """An ML `_search` over `index` with the rules of reference §2.8. A missing index is an
    empty result where the profile says so, unless `missing_index_empty` decides (agents
    never swallow it, consumers reference §4.5)."""
    if request.body is None and "source" not in request.params:
        # `contentOrSourceParamParser`: an ML search needs a body (§2.8).
        raise ApiError(
            400, "request body or source parameter is required", error_type="parse_exception"
        )
    body = copy.deepcopy(request.body) if isinstance(request.body, dict) else {}
    if extra_filter is not None:
        body["query"] = {
            "bool": {"must": [body.get("query", {"match_all": {}})], "filter": [dict(extra_filter)]}
        }
    body["seq_no_primary_term"] = True
    body["version"] = True
    try:
        result = ctx.store.search(index, body)
    except ApiError as err:
        empty = ctx.profile.search_missing_index_empty
        if err.status == 404 and (empty if missing_index_empty is None else missing_index_empty):
            return empty_search()
        raise
    for hit in result.get("hits", {}).get("hits", []):
        for path in excludes:
            _drop_path(hit.get("_source"), path.split("."))
    return result


def empty_search() -> dict[str, Any]:
    """The answer of 2.12+ for a search on an ML index that does not exist yet."""
    return {
        "took": 0,
        "timed_out": False,
        "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
    }


def _drop_path(source: Any, parts: list[str]) -> None:
    if not isinstance(source, dict):
        return
    if len(parts) == 1:
        source.pop(parts[0], None)
        return
    _drop_path(source.get(parts[0]), parts[1:])


def body_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty dict for a missing or non-object body)."""
    return dict(request.body) if isinstance(request.body, dict) else {}


def node_id(ctx: Context) -> str:
    """The ID of the sandbox's single node, as deploy tasks and undeploy answers name it."""
    value = ctx.extras.get("node_id") or ctx.extras.setdefault(
        "ml.node_id", "sandbox-node-0000000001"
    )
    return str(value)
