"""Offline checks of IngestPipeline, SearchPipeline and Agent manifests: references by
name, the processors the consumers contract fixes, agent types per version.

Each row: a small manifest set, the target versions, and the exact problems
(path, severity, message) it must produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests.checking import check
from reconciler.manifests.loading import load_manifests, read_manifests
from reconciler.manifests.references import find_references, replace_references
from reconciler.mlcommons.versions import Version
from reconciler.resources import Kind, ResourceKey
from tests.unit.manifests.checkcases import (
    ALL_VERSIONS,
    Row,
    assert_case,
    case_params,
    connector,
    envelope,
    error,
    model,
)


def ingest(name: str = "embed", *processors: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return envelope("IngestPipeline", name, {"processors": list(processors), **spec})


def search(name: str = "search", **spec: Any) -> dict[str, Any]:
    return envelope("SearchPipeline", name, spec)


def agent(meta: str = "helper", **spec: Any) -> dict[str, Any]:
    return envelope("Agent", meta, {"type": "flow", **spec})


def ref(text: str) -> dict[str, str]:
    return {"ref": text}


def embedding(model_id: Any = None, **config: Any) -> dict[str, Any]:
    body = {"model_id": model_id or ref("Model/chat"), "field_map": {"text": "vector"}}
    return {"text_embedding": {**body, **config}}


def tool(model_id: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "MLModelTool",
        "parameters": {"model_id": model_id or ref("Model/chat")},
        **extra,
    }


def probed(document: dict[str, Any], **probe: Any) -> dict[str, Any]:
    body = {"parameters": {"question": "ready?"}, **probe}
    return {**document, "lifecycle": {"probe": body}}


BASE = [connector(), model()]
ALL_AGENTS = ("2.13", "2.19", "3.1", "3.8")
AT = "spec.processors[0].text_embedding"

CASES: list[tuple[str, tuple[str, ...], list[dict[str, Any]], list[Row]]] = [
    ("clean consumers", ALL_AGENTS,
     [*BASE, ingest("embed", embedding()),
      search(request_processors=[{"neural_query_enricher": {"default_model_id": ref("Model/chat")}}]),
      agent(tools=[tool()], llm={"model_id": ref("Model/chat")})], []),
    ("raw ids are fine", ("2.9",), [ingest("embed", embedding("abcdef"))], []),
    ("misspelt model", ("3.8",), [*BASE, ingest("embed", embedding(ref("Model/caht")))],
     [error(f"{AT}.model_id", "Model/caht is not defined; did you mean Model/chat?")]),
    ("unknown agent and connector", ("3.8",),
     [*BASE, agent(tools=[tool(), {"type": "AgentTool", "parameters": {"agent_id": ref("Agent/x")}},
                          {"type": "ConnectorTool", "parameters": {"connector_id": ref("connector/nope")}}])],
     [error("spec.tools[1].parameters.agent_id", "Agent/x is not defined"),
      error("spec.tools[2].parameters.connector_id", "connector/nope is not defined")]),
    ("wrong kinds and shapes", ("3.8",),
     [*BASE, ingest("embed", embedding(ref("ModelGroup/team")), ),
      search(response_processors=[{"rerank": {"ml_opensearch": {"model_id": {"ref": "Model/chat", "id": "x"}},
                                              "context": {"document_fields": ["t"]}}}])],
     [error(f"{AT}.model_id", "ModelGroup/team: a reference names a Model, Connector or Agent, not a ModelGroup"),
      error("spec.response_processors[0].rerank.ml_opensearch.model_id",
            "Model/chat: a reference has the single key `ref`, not also id")]),
    ("an agent naming itself", ("3.8",),
     [*BASE, agent(tools=[{"type": "AgentTool", "parameters": {"agent_id": ref("Agent/helper")}}])],
     [error("spec.tools[0].parameters.agent_id", "Agent/helper: an agent cannot reference itself")]),
    # --- processors the contract fixes (CONS §5) ---
    ("required keys", ("3.8",),
     [*BASE, ingest("embed", {"text_embedding": {"field_map": {}}}, {"ml_inference": {}}),
      search(response_processors=[{"retrieval_augmented_generation": {"model_id": ref("Model/chat"),
                                                                       "context_field_list": []}},
                                  {"rerank": {"ml_opensearch": {}, "context": {}}}])],
     [error(AT, "text_embedding needs model_id"),
      error("spec.processors[1].ml_inference", "ml_inference needs model_id"),
      error("spec.response_processors[0].retrieval_augmented_generation.context_field_list",
            "context_field_list must not be empty"),
      error("spec.response_processors[1].rerank.ml_opensearch", "rerank needs ml_opensearch.model_id"),
      error("spec.response_processors[1].rerank.context", "rerank needs context.document_fields")]),
    ("processors by release", ("2.10",),
     [ingest("p", {"sparse_encoding": {"model_id": "m", "field_map": {}}}),
      search(request_processors=[{"neural_query_enricher": {}}])],
     [error("spec.processors[0].sparse_encoding", "processor sparse_encoding needs ML Commons 2.11+ (target is 2.10)"),
      error("spec.request_processors[0].neural_query_enricher",
            "processor neural_query_enricher needs ML Commons 2.11+ (target is 2.10)")]),
    ("not a processor", ("3.8",), [ingest("p", {"set": {}, "remove": {}}), ingest("q", on_failure=[])],
     [error("spec.processors[0]", "a processor is a mapping with exactly one key, its type"),
      error("spec.on_failure", "the server refuses an empty on_failure list")]),
    ("other processors are the server's business", ("3.8",),
     [ingest("p", {"set": {"field": "a", "value": 1}}, {"my_plugin_processor": {}})], []),
    # --- agents (CONS §4.2) ---
    ("agents before 2.12", ("2.9",), [agent()],
     [error("spec.type", "the Agent kind needs ML Commons 2.12+ (target is 2.9)")]),
    ("agent types by release", ("2.19",), [agent(type="plan_execute_and_reflect", llm={"model_id": "m"})],
     [error("spec.type", "agent type plan_execute_and_reflect is not one of 2.19's: flow, conversational, conversational_flow")]),
    ("plan_execute_and_reflect from 3.0", ("3.1", "3.8"),
     [agent(type="plan_execute_and_reflect", llm={"model_id": "m"})], []),
    ("conversational needs llm", ALL_AGENTS, [agent(type="conversational")],
     [error("spec.type", "a conversational agent needs llm (the model that reasons)")]),
    ("tools", ("3.8",), [agent(tools=[tool("m"), tool("n"), {"name": "x"}, {"type": "MLModelTool", "name": "b"}],
                                llm={"parameters": {}})],
     [error("spec.llm", "llm needs model_id"),
      error("spec.tools[1]", "tool MLModelTool is defined twice (also tools[0]); give one a different name"),
      error("spec.tools[2]", "a tool needs a type"),
      error("spec.tools[3]", "an MLModelTool needs parameters.model_id")]),
    ("long names from 3.1", ("3.1", "3.8"), [agent(name="n" * 129)],
     [error("spec.name", "agent names are at most 128 characters")]),
    ("long names before 3.1", ("2.19",), [agent(name="n" * 129)], []),
    # --- agent probes (CONS §4.8) ---
    ("probed flow agents", ("2.12", *ALL_AGENTS), [*BASE, probed(agent(tools=[tool()]))], []),
    ("probed types by release", ("2.12",),
     [probed(agent(type="conversational_flow"))],
     [error("lifecycle.probe", "agents of type conversational_flow cannot be probed on 2.12 "
            "(probes execute flow, conversational agents)")]),
    ("plan_execute_and_reflect is probed from 3.0", ("2.19",),
     [probed(agent(type="plan_execute_and_reflect", llm={"model_id": "m"}))],
     [error("spec.type", "agent type plan_execute_and_reflect is not one of 2.19's: flow, "
            "conversational, conversational_flow"),
      error("lifecycle.probe", "agents of type plan_execute_and_reflect cannot be probed on 2.19 "
            "(probes execute flow, conversational, conversational_flow agents)")]),
    ("newer types are not probed", ("3.8",),
     [probed(agent(type="ag_ui")), probed(agent("v2", type="conversational_v2"))],
     [error("lifecycle.probe", "agents of type ag_ui cannot be probed on 3.8 (probes execute "
            "flow, conversational, conversational_flow, plan_execute_and_reflect agents)"),
      error("lifecycle.probe", "agents of type conversational_v2 cannot be probed on 3.8 (probes "
            "execute flow, conversational, conversational_flow, plan_execute_and_reflect agents)")]),
]  # fmt: skip


@pytest.mark.parametrize(("documents", "version", "expected"), case_params(CASES))
def test_consumer_checks(
    tmp_path: Path, documents: list[dict[str, Any]], version: str, expected: list[Row]
) -> None:
    assert_case(tmp_path, documents, version, expected)


LOCATED = """\
apiVersion: osml/v1
kind: IngestPipeline
metadata:
  name: embed-docs
spec:
  processors:
    - text_embedding:
        model_id: {ref: Model/embeding}
        field_map: {text: vector}
"""


def test_dangling_reference_is_located(tmp_path: Path) -> None:
    file = tmp_path / "pipelines.yaml"
    file.write_text(LOCATED, encoding="utf-8")
    problems = check(load_manifests([file]), version=Version.parse("3.8"))
    assert [str(p).replace(str(tmp_path), "m") for p in problems] == [
        "m/pipelines.yaml:8:19: IngestPipeline/embed-docs: spec.processors[0].text_embedding."
        "model_id: Model/embeding is not defined"
    ]


def test_spec_is_exactly_the_server_body(tmp_path: Path) -> None:
    file = tmp_path / "agent.yaml"
    file.write_text(
        "apiVersion: osml/v1\nkind: Agent\nmetadata: {name: a}\nspec: {type: flow, tool: []}\n",
        encoding="utf-8",
    )
    reading = read_manifests([file])
    assert not reading.manifests.documents
    assert any("tool" in str(problem) for problem in reading.problems)


def test_references_are_found_and_replaced() -> None:
    spec = {
        "processors": [{"text_embedding": {"model_id": ref("Model/e"), "field_map": {}}}],
        "tools": [{"parameters": {"agent_id": ref("Agent/x"), "n": [ref("Connector/c")]}}],
    }
    found = find_references(spec)
    assert [(r.path, r.key) for r in found] == [
        (("processors", 0, "text_embedding", "model_id"), ResourceKey(Kind.MODEL, "e")),
        (("tools", 0, "parameters", "agent_id"), ResourceKey(Kind.AGENT, "x")),
        (("tools", 0, "parameters", "n", 0), ResourceKey(Kind.CONNECTOR, "c")),
    ]
    ids = {"Model/e": "m-1", "Agent/x": "a-1", "Connector/c": "c-1"}
    replaced = replace_references(spec, lambda key: ids[str(key)])
    assert replaced["processors"][0]["text_embedding"]["model_id"] == "m-1"
    assert replaced["tools"][0]["parameters"] == {"agent_id": "a-1", "n": ["c-1"]}
    assert spec["tools"][0]["parameters"]["agent_id"] == ref("Agent/x")  # a copy
    with pytest.raises(ValueError, match="not a ModelGroup"):
        replace_references({"x": ref("ModelGroup/g")}, lambda key: "")


def test_every_version_accepts_a_clean_pipeline(tmp_path: Path) -> None:
    for version in ALL_VERSIONS:
        assert_case(tmp_path, [*BASE, ingest("embed", embedding())], version, [])


PROBE_SHAPES = """\
apiVersion: osml/v1
kind: Agent
metadata: {name: empty}
spec: {type: flow}
lifecycle:
  probe:
    parameters: {}
---
apiVersion: osml/v1
kind: Agent
metadata: {name: shapes}
spec: {type: flow}
lifecycle:
  probe:
    parameters: {question: ready?}
    timeout: 0
    expect: {outputs: true, exists: ["$.inference_results[0"], embedding_dimension: 3}
"""


def test_bad_agent_probes_name_file_line_and_resource(tmp_path: Path) -> None:
    file = tmp_path / "agents.yaml"
    file.write_text(PROBE_SHAPES, encoding="utf-8")
    reading = read_manifests([file])
    assert not reading.manifests.documents
    shown = [str(p).replace(str(tmp_path), "m") for p in reading.problems]
    assert any(
        line.startswith("m/agents.yaml:7:") and "Agent/empty" in line
        and "lifecycle.probe.parameters" in line
        for line in shown
    ), shown
    for field in ("timeout", "expect.exists", "expect.embedding_dimension"):
        assert any(
            line.startswith("m/agents.yaml:") and "Agent/shapes" in line
            and f"lifecycle.probe.{field}" in line
            for line in shown
        ), (field, shown)
