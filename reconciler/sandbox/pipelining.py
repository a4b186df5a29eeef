"""The ingest and search pipeline APIs: `PUT|GET|DELETE /_ingest/pipeline/{id}` and
`/_search/pipeline/{id}`, with OpenSearch core's validation texts and its 404 `{}` answers
(docs/reference/consumers.md, "CONS", §1-§2).

The server calls `register(router)` once. A PUT body is checked the way `Pipeline.create`
checks it (every processor is built at PUT time, so a bad one refuses the PUT and stores
nothing); processors the release does not know are refused, known ones are checked for the
keys their factory requires (`Profile.consumers`). Bodies are stored verbatim in
`ctx.pipelines`. This module must not know what any model ID means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import ApiError, Response
from reconciler.sandbox.pipelines import PipelineMissingError

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router

_SEARCH_LISTS = ("request_processors", "response_processors", "phase_results_processors")
_RAG_SETTING = "plugins.ml_commons.rag_pipeline_feature_enabled"


def register(router: Router) -> None:
    """Add the pipeline routes of both kinds."""
    for kind, base in (("ingest", "/_ingest/pipeline"), ("search", "/_search/pipeline")):
        router.add("PUT", f"{base}/{{id}}", _put(kind))
        router.add("GET", base, _get(kind))
        router.add("GET", f"{base}/{{id}}", _get(kind))
        router.add("DELETE", f"{base}/{{id}}", _delete(kind))


def _put(kind: str) -> Any:
    def put(ctx: Context, request: Request, *, id: str) -> Response:
        if request.body is None:
            raise parse_error("request body or source parameter is required")
        if not isinstance(request.body, Mapping):
            raise parse_error("request body is required to be a JSON object")
        (check_ingest if kind == "ingest" else check_search)(ctx, id, request.body)
        ctx.pipelines.put(kind, id, request.body)
        return Response(200, {"acknowledged": True})

    return put


def _get(kind: str) -> Any:
    def get(ctx: Context, request: Request, *, id: str | None = None) -> Response:
        found = ctx.pipelines.get(kind, id)
        # CONS §1.3, §2.3: an empty answer is 404 with the body `{}`, not the error envelope.
        return Response(200 if found else 404, found)

    return get


def _delete(kind: str) -> Any:
    def delete(ctx: Context, request: Request, *, id: str) -> Response:
        try:
            ctx.pipelines.delete(kind, id)
        except PipelineMissingError as missing:
            raise ApiError(
                404,
                f"pipeline [{missing.pattern}] is missing",
                error_type="resource_not_found_exception",
            ) from None
        return Response(200, {"acknowledged": True})

    return delete


# -- ingest (CONS §1.2) -----------------------------------------------------------------
def check_ingest(ctx: Context, pipeline_id: str, body: Mapping[str, Any]) -> None:
    """Refuse `body` as `Pipeline.create` would; return silently when it is valid."""
    rest = dict(body)
    _read_string(rest, "description")
    _read_int(rest, "version")
    if rest.get("processors") is None:
        raise config_error("[processors] required property is missing", property_name="processors")
    table = ctx.profile.consumers.ingest_processors
    _check_processors(ctx, _read_list(rest, "processors"), table, unknown=_no_ingest_type)
    on_failure = rest.pop("on_failure", None)
    if on_failure is not None:
        _check_processors(ctx, _as_list("on_failure", on_failure), table, unknown=_no_ingest_type)
    _refuse_leftovers(pipeline_id, rest)
    if on_failure is not None and not on_failure:
        raise parse_error(
            f"pipeline [{pipeline_id}] cannot have an empty on_failure option defined"
        )


def _no_ingest_type(name: str) -> ApiError:
    return config_error(f"No processor type exists with name [{name}]", processor_type=name)


# -- search (CONS §2.2) -----------------------------------------------------------------
def check_search(ctx: Context, pipeline_id: str, body: Mapping[str, Any]) -> None:
    """Refuse `body` as `PipelineWithMetrics.create` would."""
    rest = dict(body)
    _read_string(rest, "description")
    _read_int(rest, "version")
    for list_key in _SEARCH_LISTS:
        if rest.get(list_key) is None:
            rest.pop(list_key, None)
            continue
        table = ctx.profile.consumers.search_processors[list_key]
        _check_processors(ctx, _read_list(rest, list_key), table, unknown=_no_search_type)
    _refuse_leftovers(pipeline_id, rest)


def _no_search_type(name: str) -> ApiError:
    return ApiError(400, f"Invalid processor type {name}", error_type="illegal_argument_exception")


# -- processors -------------------------------------------------------------------------
def _check_processors(
    ctx: Context,
    processors: list[Any],
    table: Mapping[str, tuple[str, ...]],
    *,
    unknown: Any,
) -> None:
    for entry in processors:
        if not isinstance(entry, Mapping):
            raise config_error(f"property isn't a map, but of type [{java_type(entry)}]")
        for name, config in entry.items():
            if name not in table:
                raise unknown(name)
            if not isinstance(config, Mapping):
                raise config_error(
                    f"property isn't a map, but of type [{java_type(config)}]",
                    processor_type=name,
                )
            _check_processor(ctx, name, config, required=table[name])


def _check_processor(
    ctx: Context, name: str, config: Mapping[str, Any], *, required: tuple[str, ...]
) -> None:
    """The checks a processor's factory makes before anything is stored."""
    tag = config.get("tag")
    for key in required:
        if config.get(key) is None:
            raise _missing(name, tag, key)
        if key.endswith("_id") and not isinstance(config[key], str):
            raise config_error(
                f"[{key}] property isn't a string, but of type [{java_type(config[key])}]",
                processor_type=name,
                processor_tag=tag,
                property_name=key,
            )
    if name == "rerank":
        _check_rerank(config, tag)
    elif name == "retrieval_augmented_generation":
        _check_rag(ctx, config, tag)
    nested = config.get("on_failure")
    if isinstance(nested, list):
        table = ctx.profile.consumers.ingest_processors
        _check_processors(ctx, nested, table, unknown=_no_ingest_type)


def _check_rerank(config: Mapping[str, Any], tag: Any) -> None:
    # NS RerankProcessorFactory: `ml_opensearch` (a map with `model_id`) and `context`
    # (a map with `document_fields`) are both required.
    reranker = config.get("ml_opensearch")
    if not isinstance(reranker, Mapping):
        raise _missing("rerank", tag, "ml_opensearch")
    if reranker.get("model_id") is None:
        raise _missing("rerank", tag, "model_id")
    context = config.get("context")
    if not isinstance(context, Mapping):
        raise _missing("rerank", tag, "context")


def _check_rag(ctx: Context, config: Mapping[str, Any], tag: Any) -> None:
    # MLC GenerativeQAResponseProcessor.Factory: the feature flag first, then the fields.
    if not ctx.settings.get(_RAG_SETTING):
        raise ApiError(500, f"{_RAG_SETTING} is not enabled.", error_type="m_l_exception")
    fields = config.get("context_field_list")
    if fields is None:
        raise _missing("retrieval_augmented_generation", tag, "context_field_list")
    if isinstance(fields, list) and not fields:
        raise config_error(
            "[context_field_list] required property can't be empty.",
            processor_type="retrieval_augmented_generation",
            processor_tag=tag,
            property_name="context_field_list",
        )


def _missing(name: str, tag: Any, key: str) -> ApiError:
    return config_error(
        f"[{key}] required property is missing",
        processor_type=name,
        processor_tag=tag,
        property_name=key,
    )


# -- ConfigurationUtils -----------------------------------------------------------------
def _read_string(rest: dict[str, Any], key: str) -> None:
    value = rest.pop(key, None)
    if value is not None and not isinstance(value, str):
        raise config_error(
            f"[{key}] property isn't a string, but of type [{java_type(value)}]",
            property_name=key,
        )


def _read_int(rest: dict[str, Any], key: str) -> None:
    value = rest.pop(key, None)
    if value is None:
        return
    text = java_text(value)
    try:
        int(text, 10)
    except ValueError:
        raise config_error(
            f"[{key}] property cannot be converted to an int [{text}]", property_name=key
        ) from None


def _read_list(rest: dict[str, Any], key: str) -> list[Any]:
    return _as_list(key, rest.pop(key))


def _as_list(key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise config_error(
            f"[{key}] property isn't a list, but of type [{java_type(value)}]", property_name=key
        )
    return value


def _refuse_leftovers(pipeline_id: str, rest: Mapping[str, Any]) -> None:
    if rest:
        raise parse_error(
            f"pipeline [{pipeline_id}] doesn't support one or more provided configuration "
            f"parameters [{', '.join(rest)}]"
        )


def config_error(reason: str, **metadata: Any) -> ApiError:
    """`ConfigurationUtils.newConfigurationException`: a 400 `parse_exception` carrying the
    processor's type, tag and property as extra fields (inferred rendering, CONS §1.2)."""
    extra = {key: value for key, value in metadata.items() if value is not None}
    return ApiError(400, reason, error_type="parse_exception", extra=extra)


def parse_error(reason: str) -> ApiError:
    """`OpenSearchParseException`: 400."""
    return ApiError(400, reason, error_type="parse_exception")


def java_type(value: Any) -> str:
    """The Java class a JSON value parses to, as the texts of `ConfigurationUtils` name it."""
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "java.util.ArrayList"
    return "java.util.HashMap"


def java_text(value: Any) -> str:
    """`value.toString()` in Java for a JSON value (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
