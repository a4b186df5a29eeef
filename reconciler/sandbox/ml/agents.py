"""The agent endpoints: register, get, search, update (3.1+) and delete
(docs/reference/consumers.md, "CONS", §4).

Registered by `ml.register`. Agents live in `.plugins-ml-agent`; the routes exist from 2.12
and answer only while `plugins.ml_commons.agent_framework_enabled` is true (false by default
at 2.12). Register checks the body as `MLAgent.validate` does and, like the server, never
looks up the models, connectors or agents the body names. Execute is `agent_executing.py`.
Texts and statuses follow `Profile.consumers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import NoHandlerError, Response
from reconciler.sandbox.ml import failures, indices
from reconciler.sandbox.ml.connector_parsing import text
from reconciler.sandbox.ml.templating import stringify_parameters

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.ml.consumers import ConsumerProfile
    from reconciler.sandbox.store import Doc

BASE = "/_plugins/_ml/agents"
FRAMEWORK_SETTING = "plugins.ml_commons.agent_framework_enabled"
FRAMEWORK_DISABLED = (
    "Agent Framework is currently disabled. To enable it, update the setting "
    f'"{FRAMEWORK_SETTING}" to true.'
)
ORDER = (
    "name",
    "type",
    "description",
    "llm",
    "model",
    "tools",
    "parameters",
    "memory",
    "created_time",
    "last_updated_time",
    "app_type",
    "is_hidden",
)
_TOOL_ORDER = ("type", "name", "description", "parameters", "include_output_in_agent_response")
_NAME_MAX = 128
_UPDATABLE = ("name", "description", "llm", "tools", "parameters", "memory", "app_type")
_HIDDEN_FILTER = {
    "bool": {
        "should": [
            {"term": {"is_hidden": False}},
            {"bool": {"must_not": {"exists": {"field": "is_hidden"}}}},
        ],
        "minimum_should_match": 1,
    }
}


def register(router: Router) -> None:
    """Add the agent routes (execute is added by `agent_executing`)."""
    router.add("POST", f"{BASE}/_register", register_agent)
    router.add("GET", f"{BASE}/_search", search)
    router.add("POST", f"{BASE}/_search", search)
    router.add("GET", f"{BASE}/{{agent_id}}", get)
    router.add("PUT", f"{BASE}/{{agent_id}}", update)
    router.add("DELETE", f"{BASE}/{{agent_id}}", delete)


def require_framework(ctx: Context, request: Request) -> ConsumerProfile:
    """No agent routes before 2.12; a 500 while the agent framework is disabled (CONS §4.1)."""
    gates = ctx.profile.consumers
    if not gates.agents:
        raise NoHandlerError(request.path, request.method)
    if not ctx.settings.get(FRAMEWORK_SETTING):
        raise failures.illegal_state(FRAMEWORK_DISABLED)
    return gates


# -- register ---------------------------------------------------------------------------
def register_agent(ctx: Context, request: Request) -> Response:
    """POST /agents/_register (CONS §4.2)."""
    gates = require_framework(ctx, request)
    agent = parse_agent(gates, indices.body_object(request))
    now = indices.now_ms(ctx)
    agent |= {"created_time": now, "last_updated_time": now, "is_hidden": False}
    agent_id = indices.put(ctx, indices.AGENTS, indices.ordered(agent, ORDER))
    return Response(200, {"agent_id": agent_id})


def parse_agent(gates: ConsumerProfile, body: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a register body, or the first error `MLAgent` would raise."""
    agent: dict[str, Any] = {
        "name": text(body, "name"),
        "type": text(body, "type"),
        "description": text(body, "description"),
        "app_type": text(body, "app_type"),
    }
    if body.get("llm") is not None:
        agent["llm"] = _llm(body["llm"])
    if body.get("model") is not None:
        agent["model"] = body["model"]
    if body.get("tools"):
        agent["tools"] = [_tool(raw) for raw in _list(body["tools"])]
    if body.get("parameters"):
        agent["parameters"] = stringify_parameters(_object(body["parameters"]))
    if body.get("memory") is not None:
        agent["memory"] = _memory(body["memory"])
    _validate(gates, agent)
    return {key: value for key, value in agent.items() if value is not None}


def _validate(gates: ConsumerProfile, agent: Mapping[str, Any]) -> None:
    name, agent_type = agent.get("name"), agent.get("type")
    if name is None:
        raise failures.illegal_argument(gates.agent_name_missing)
    _check_name_length(gates, name)
    if gates.agent_types is not None:
        if agent_type is None:
            raise failures.illegal_argument("Agent type can't be null")
        if agent_type.lower() not in gates.agent_types:
            raise failures.illegal_argument(gates.agent_invalid_type.format(type=agent_type))
        needs_model = agent_type.lower() in gates.agent_llm_required
        if needs_model and agent.get("llm") is None and agent.get("model") is None:
            raise failures.illegal_argument(
                "We need model information for the conversational agent type"
            )
    _check_duplicate_tools(agent.get("tools") or [], gates.agent_duplicate_tool)


def _check_name_length(gates: ConsumerProfile, name: str | None) -> None:
    too_long = name is not None and (not name.strip() or len(name) > _NAME_MAX)
    if gates.agent_name_length_check and too_long:
        raise failures.illegal_argument(
            "Agent name cannot be empty or exceed max length of 128 characters"
        )


def _check_duplicate_tools(tools: list[Mapping[str, Any]], message: str) -> None:
    seen: set[str] = set()
    for tool in tools:
        tool_name = str(tool.get("name") or tool.get("type"))
        if tool_name in seen:
            raise failures.illegal_argument(message.format(name=tool_name))
        seen.add(tool_name)


def _llm(raw: Any) -> dict[str, Any]:
    spec = _object(raw)
    model_id = text(spec, "model_id")
    if model_id is None:
        raise failures.illegal_argument("model id is null")
    llm: dict[str, Any] = {"model_id": model_id}
    if spec.get("parameters"):
        llm["parameters"] = stringify_parameters(_object(spec["parameters"]))
    return llm


def _tool(raw: Any) -> dict[str, Any]:
    spec = _object(raw)
    tool_type = text(spec, "type")
    if tool_type is None:
        raise failures.illegal_argument("tool type is null")
    tool: dict[str, Any] = {
        "type": tool_type,
        "name": text(spec, "name"),
        "description": text(spec, "description"),
    }
    if spec.get("parameters"):
        tool["parameters"] = stringify_parameters(_object(spec["parameters"]))
    tool["include_output_in_agent_response"] = spec.get("include_output_in_agent_response") is True
    for extra in ("attributes", "config", "runtime_resources"):
        if spec.get(extra) is not None:
            tool[extra] = spec[extra]
    return indices.ordered(tool, _TOOL_ORDER)


def _memory(raw: Any) -> dict[str, Any]:
    spec = _object(raw)
    if text(spec, "type") is None:
        # MLMemorySpec's constructor really says "agent name" here (CONS §4.2).
        raise failures.illegal_argument("agent name is null")
    return {key: spec[key] for key in spec if spec[key] is not None}


def _object(value: Any) -> dict[str, Any]:
    # A non-object where the parser expects one: Jackson refuses the token. The exact text
    # is the sandbox's choice (docs/sandbox.md, "Known differences").
    if not isinstance(value, Mapping):
        raise failures.illegal_argument("Failed to parse agent: expected an object")
    return dict(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- get / search -----------------------------------------------------------------------
def load(ctx: Context, agent_id: str) -> Doc:
    """The agent document, or the GET errors of CONS §4.4."""
    if not ctx.store.index_exists(indices.AGENTS):
        raise failures.status(404, "Failed to get agent index")
    doc = ctx.store.get(indices.AGENTS, agent_id)
    if doc is None:
        raise failures.status(404, f"Failed to find agent with the provided agent id: {agent_id}")
    return doc


def get(ctx: Context, request: Request, *, agent_id: str) -> Response:
    """GET /agents/{id}: the stored agent, without its ID (CONS §4.3)."""
    require_framework(ctx, request)
    return Response(200, indices.ordered(load(ctx, agent_id).source, ORDER))


def search(ctx: Context, request: Request) -> Response:
    """GET|POST /agents/_search: hidden agents filtered out; a missing index is a 404 (§4.5)."""
    require_framework(ctx, request)
    result = indices.search(
        ctx, request, indices.AGENTS, extra_filter=_HIDDEN_FILTER, missing_index_empty=False
    )
    return Response(200, result)


# -- update (3.1+) ----------------------------------------------------------------------
def update(ctx: Context, request: Request, *, agent_id: str) -> Response:
    """PUT /agents/{id} (CONS §4.6): given fields replace the stored ones."""
    gates = ctx.profile.consumers
    if gates.agents and not gates.agent_update:
        raise failures.method_not_allowed(request, "DELETE, GET")
    require_framework(ctx, request)
    body = indices.body_object(request)
    with ctx.lock:
        doc = indices.get_doc(ctx, indices.AGENTS, agent_id)
        if doc is None:
            raise failures.status(404, f"Failed to get agent with ID {agent_id}")
        changes = _update_fields(gates, body, original=doc.source)
        changes["last_updated_time"] = indices.now_ms(ctx)
        result = ctx.store.update(indices.AGENTS, agent_id, changes)
    return Response(200, result)


def _update_fields(
    gates: ConsumerProfile, body: Mapping[str, Any], *, original: Mapping[str, Any]
) -> dict[str, Any]:
    wanted_type = text(body, "type")
    changed = wanted_type is not None and wanted_type != original.get("type")
    if gates.agent_type_update_refused and changed:
        raise failures.illegal_argument("Agent type cannot be updated")
    changes = {
        key: _update_value(key, body[key], body=body)
        for key in _UPDATABLE
        if body.get(key) is not None
    }
    _check_name_length(gates, changes.get("name"))
    memory_type = (changes.get("memory") or {}).get("type", "conversation_index")
    if memory_type != "conversation_index":
        raise failures.illegal_argument(f"Invalid memory type: {memory_type}")
    _check_duplicate_tools(changes.get("tools") or [], "Duplicate tool defined: {name}")
    return changes


def _update_value(key: str, raw: Any, *, body: Mapping[str, Any]) -> Any:
    if key == "llm":
        return _llm(raw)
    if key == "tools":
        return [_tool(item) for item in _list(raw)]
    if key == "parameters":
        return stringify_parameters(_object(raw))
    if key == "memory":
        return _memory(raw)
    return text(body, key)


# -- delete -----------------------------------------------------------------------------
def delete(ctx: Context, request: Request, *, agent_id: str) -> Response:
    """DELETE /agents/{id}: the raw DeleteResponse, or the release's not-found (CONS §4.4)."""
    gates = require_framework(ctx, request)
    with ctx.lock:
        if not ctx.store.index_exists(indices.AGENTS):
            if gates.agent_delete_index_text is not None:
                raise failures.status(404, gates.agent_delete_index_text)
            ctx.store.delete(indices.AGENTS, agent_id)  # the index's own 404
        exists = ctx.store.get(indices.AGENTS, agent_id) is not None
        if not exists and gates.agent_delete_missing is not None:
            raise failures.status(404, gates.agent_delete_missing.format(id=agent_id))
        return Response(200, ctx.store.delete(indices.AGENTS, agent_id))
