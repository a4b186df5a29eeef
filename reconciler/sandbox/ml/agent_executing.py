"""Execute an agent: `POST /_plugins/_ml/agents/{agent_id}/_execute` (consumers reference,
"CONS", §4.8), far enough to prove that an agent's model answers.

Registered by `ml.register`. A `flow` agent runs its tools in order; the sandbox runs
`MLModelTool`, whose predict goes through the ordinary predict path (`predicting.run`: the
model must be deployed or auto-deployable, its connector is rendered and the provider
emulators answer). Other agent types and tool types are refused with a message that says the
sandbox does not run them. Failures use ML Commons' own error body (`ErrorMessage`), not the
OpenSearch envelope, as the real handler does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import ApiError, Response
from reconciler.sandbox.ml import agents, indices, predicting

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router

_PLACEHOLDER = re.compile(r"\$\{parameters\.([^}]+)\}")
_JAVA_CLASSES = {
    "status_exception": "OpenSearchStatusException",
    "illegal_argument_exception": "IllegalArgumentException",
    "illegal_state_exception": "IllegalStateException",
    "resource_not_found_exception": "ResourceNotFoundException",
    "index_not_found_exception": "IndexNotFoundException",
    "m_l_exception": "MLException",
    "m_l_validation_exception": "MLValidationException",
    "m_l_resource_not_found_exception": "MLResourceNotFoundException",
    "script_exception": "ScriptException",
}


class ExecuteError(ApiError):
    """A failure of the execute transport action, rendered as ML Commons' `ErrorMessage`:
    `{"status": S, "error": {"type": <Java class>, "reason": ..., "details": <message>}}`."""

    def __init__(self, status: int, details: str, *, java_class: str) -> None:
        super().__init__(status, details, error_type=java_class)

    def envelope(self) -> dict[str, Any]:
        reason = "Invalid Request" if self.status == 400 else "System Error"
        return {
            "status": self.status,
            "error": {"type": self.error_type, "reason": reason, "details": self.reason},
        }


def register(router: Router) -> None:
    """Add the execute route."""
    router.add("POST", f"{agents.BASE}/{{agent_id}}/_execute", execute)


def execute(ctx: Context, request: Request, *, agent_id: str) -> Response:
    """Run the agent and answer `inference_results` (CONS §4.8)."""
    gates = agents.require_framework(ctx, request)
    body = indices.body_object(request)
    parameters = body.get("parameters")
    if not isinstance(parameters, Mapping):
        raise _bad_request("Agent input data can not be empty.")
    if not ctx.store.index_exists(indices.AGENTS):
        raise ExecuteError(404, "Agent index not found", java_class="ResourceNotFoundException")
    doc = ctx.store.get(indices.AGENTS, agent_id)
    if doc is None:
        java_class, text = gates.agent_execute_missing
        raise ExecuteError(404, text.format(id=agent_id), java_class=java_class)
    agent = doc.source
    agent_type = str(agent.get("type", "")).lower()
    if agent_type != "flow":
        raise _bad_request(
            f"the sandbox executes agents of type flow only, not {agent.get('type')!r}"
        )
    tools = agent.get("tools") or []
    if not tools:
        raise _bad_request("no tool configured")
    inputs = {key: _text(value) for key, value in parameters.items()}
    return Response(200, {"inference_results": [{"output": _run_flow(ctx, tools, inputs)}]})


def _run_flow(
    ctx: Context, tools: list[Mapping[str, Any]], params: dict[str, str]
) -> list[dict[str, Any]]:
    """Each tool in order; later tools see `<tool>.output`. The last tool's output, and every
    tool's marked `include_output_in_agent_response`, are the answer (`MLFlowAgentRunner`)."""
    outputs: list[dict[str, Any]] = []
    for position, tool in enumerate(tools):
        output = _run_tool(ctx, tool, _tool_params(tool, params))
        key = str(tool.get("name") or tool.get("type"))
        if len(tools) == 1:
            # One tool: its output goes straight to the executor, which names it `response`.
            return [] if output is None else [{"name": "response", "result": _result(output)}]
        params[f"{key}.output"] = _result(output)
        if tool.get("include_output_in_agent_response") or position == len(tools) - 1:
            outputs.append({"name": key, "result": _result(output)})
    return outputs


def _tool_params(tool: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, str]:
    """`getToolExecuteParams`: the tool's own parameters, then the request's, with a
    `<type>.` or `<name>.` prefix stripped; `${parameters.x}` in `input` filled."""
    merged = dict(tool.get("parameters") or {})
    prefixes = [f"{tool.get('type')}.", f"{tool.get('name')}." if tool.get("name") else None]
    for key, value in params.items():
        stripped = key
        for prefix in prefixes:
            if prefix and key.startswith(prefix):
                stripped = key.removeprefix(prefix)
        merged[stripped] = value
    if "input" in merged:
        merged["input"] = _PLACEHOLDER.sub(
            lambda m: merged.get(m.group(1), m.group(0)), merged["input"]
        )
    return merged


def _run_tool(ctx: Context, tool: Mapping[str, Any], params: dict[str, str]) -> Any:
    if tool.get("type") != "MLModelTool":
        raise _bad_request(f"the sandbox runs MLModelTool tools only, not {tool.get('type')!r}")
    model_id = params.pop("model_id", None)
    if not model_id:
        raise _bad_request("model_id is required for MLModelTool")
    response_field = params.pop("response_field", "response")
    try:
        answer = predicting.run(ctx, model_id, {"parameters": params})
    except ApiError as err:
        java_class = _JAVA_CLASSES.get(err.error_type, "OpenSearchException")
        raise ExecuteError(err.status, err.reason, java_class=java_class) from None
    results = answer.get("inference_results") or [{}]
    tensors = results[0].get("output") or [{}]
    data = tensors[0].get("dataAsMap") or {}
    return data.get(response_field)


def _result(output: Any) -> str:
    """A tool output as the executor's `result` string: text verbatim, the rest as JSON."""
    if output is None or isinstance(output, str):
        return output or ""
    return json.dumps(output, separators=(",", ":"), ensure_ascii=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _bad_request(details: str) -> ExecuteError:
    return ExecuteError(400, details, java_class="IllegalArgumentException")
