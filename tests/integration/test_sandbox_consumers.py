"""The model consumers' APIs through opensearch-py over real HTTP: ingest and search
pipelines, the index settings that name them, and agents, with the texts, statuses and 404
shapes of docs/reference/consumers.md ("CONS"). Expectations are keyed on the version the
cluster reports, so the same tests run against a real cluster where they need no sandbox.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch, TransportError

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import TestCluster, client_for
from tests.integration.support import wait_deployed

FRAMEWORK = "plugins.ml_commons.agent_framework_enabled"
SETTING_NAMES = "index.default_pipeline,index.final_pipeline,index.search.default_pipeline"
EMBEDDING = {"text_embedding": {"model_id": "model-1", "field_map": {"text": "vector"}}}


def release(cluster: TestCluster) -> tuple[int, int]:
    major, minor = cluster.version.split(".")[:2]
    return int(major), int(minor)


def error(client: OpenSearch, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Status and body of a request that must fail."""
    with pytest.raises(TransportError) as failure:
        client.transport.perform_request(method, path, body=body)
    return int(failure.value.status_code), failure.value.info


def reason(info: Any) -> tuple[str, str]:
    return info["error"]["type"], info["error"]["reason"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- pipelines (CONS §1, §2) ------------------------------------------------------------
def test_ingest_pipeline_is_stored_verbatim_replaced_whole_and_deleted(
    cluster: TestCluster,
) -> None:
    client, pid = cluster.client, unique("ingest")
    body = {"processors": [EMBEDDING], "description": "embed", "version": 3}
    assert client.ingest.put_pipeline(id=pid, body=body) == {"acknowledged": True}
    assert client.ingest.get_pipeline(id=pid) == {pid: body}
    assert list(client.ingest.get_pipeline(id=f"{pid},absent-pipeline")) == [pid]
    assert pid in client.ingest.get_pipeline()
    replaced = {"processors": [{"set": {"field": "f", "value": "v"}}]}
    client.ingest.put_pipeline(id=pid, body=replaced)
    assert client.ingest.get_pipeline(id=pid) == {pid: replaced}
    assert client.ingest.delete_pipeline(id=pid) == {"acknowledged": True}
    status, info = error(client, "GET", f"/_ingest/pipeline/{pid}")
    assert (status, info) == (404, {})


def test_search_pipeline_round_trip_and_404_shapes(cluster: TestCluster) -> None:
    client, pid = cluster.client, unique("search")
    body = {
        "request_processors": [{"neural_query_enricher": {"default_model_id": "model-1"}}],
        "response_processors": [{"truncate_hits": {"target_size": 5}}],
    }
    if release(cluster) < (2, 11):
        body["request_processors"] = [{"filter_query": {"query": {"match_all": {}}}}]
    assert client.search_pipeline.put(id=pid, body=body) == {"acknowledged": True}
    assert client.search_pipeline.get(id=pid) == {pid: body}
    assert client.search_pipeline.put(id=f"{pid}-empty", body={}) == {"acknowledged": True}
    client.search_pipeline.delete(id=f"{pid}-empty")
    assert client.search_pipeline.delete(id=pid) == {"acknowledged": True}
    # CONS §2.3: the same 404 `{}` as ingest, not the error envelope.
    assert error(client, "GET", f"/_search/pipeline/{pid}") == (404, {})
    status, info = error(client, "DELETE", f"/_search/pipeline/{pid}")
    assert status == 404
    assert reason(info) == ("resource_not_found_exception", f"pipeline [{pid}] is missing")


def test_no_pipelines_at_all_is_404_with_an_empty_object(cluster: TestCluster) -> None:
    cluster.require_sandbox()  # a real cluster may hold pipelines already
    assert error(cluster.client, "GET", "/_ingest/pipeline") == (404, {})
    assert error(cluster.client, "GET", "/_search/pipeline") == (404, {})
    # No pipeline metadata yet: a delete is an acknowledged no-op (CONS §1.3).
    assert cluster.client.ingest.delete_pipeline(id="never") == {"acknowledged": True}


def test_delete_of_a_missing_ingest_pipeline(cluster: TestCluster) -> None:
    client, pid = cluster.client, unique("kept")
    client.ingest.put_pipeline(id=pid, body={"processors": []})
    status, info = error(client, "DELETE", "/_ingest/pipeline/absent-pipeline")
    assert status == 404
    assert reason(info) == ("resource_not_found_exception", "pipeline [absent-pipeline] is missing")
    client.ingest.delete_pipeline(id=pid)


BAD_INGEST = [
    ({"description": "no processors"}, "[processors] required property is missing"),
    ({"processors": [{"nope": {}}]}, "No processor type exists with name [nope]"),
    (
        {"processors": [{"text_embedding": {"field_map": {"a": "b"}}}]},
        "[model_id] required property is missing",
    ),
    (
        {"processors": [{"text_embedding": {"model_id": "m"}}]},
        "[field_map] required property is missing",
    ),
    (
        {"processors": [EMBEDDING], "colour": "red"},
        "pipeline [bad] doesn't support one or more provided configuration parameters [colour]",
    ),
    (
        {"processors": [EMBEDDING], "on_failure": []},
        "pipeline [bad] cannot have an empty on_failure option defined",
    ),
    ({"processors": [], "version": "x1"}, "[version] property cannot be converted to an int [x1]"),
]


@pytest.mark.parametrize(("body", "text"), BAD_INGEST, ids=[t for _, t in BAD_INGEST])
def test_bad_ingest_pipelines_are_refused_and_not_stored(
    cluster: TestCluster, body: dict[str, Any], text: str
) -> None:
    status, info = error(cluster.client, "PUT", "/_ingest/pipeline/bad", body)
    assert (status, reason(info)) == (400, ("parse_exception", text))
    assert error(cluster.client, "GET", "/_ingest/pipeline/bad") == (404, {})


def test_bad_search_pipelines_are_refused(cluster: TestCluster) -> None:
    client = cluster.client
    status, info = error(
        client, "PUT", "/_search/pipeline/bad", {"request_processors": [{"x": {}}]}
    )
    assert (status, reason(info)) == (
        400,
        ("illegal_argument_exception", "Invalid processor type x"),
    )
    status, info = error(client, "PUT", "/_search/pipeline/bad", {"request_processor": []})
    assert (status, info["error"]["reason"]) == (
        400,
        "pipeline [bad] doesn't support one or more provided configuration parameters "
        "[request_processor]",
    )
    if release(cluster) >= (2, 12):
        rag = {"retrieval_augmented_generation": {"model_id": "llm", "context_field_list": []}}
        status, info = error(client, "PUT", "/_search/pipeline/bad", {"response_processors": [rag]})
        assert (status, info["error"]["reason"]) == (
            400,
            "[context_field_list] required property can't be empty.",
        )
        rerank = {"rerank": {"context": {"document_fields": ["text"]}}}
        status, info = error(
            client, "PUT", "/_search/pipeline/bad", {"response_processors": [rerank]}
        )
        assert (status, info["error"]["reason"]) == (
            400,
            "[ml_opensearch] required property is missing",
        )


@pytest.mark.gates("2.11")
def test_sparse_encoding_exists_from_2_11(cluster: TestCluster) -> None:
    body = {"processors": [{"sparse_encoding": {"model_id": "m", "field_map": {"a": "b"}}}]}
    if release(cluster) >= (2, 11):
        cluster.client.ingest.put_pipeline(id="sparse", body=body)
        assert cluster.client.ingest.get_pipeline(id="sparse") == {"sparse": body}
    else:
        status, info = error(cluster.client, "PUT", "/_ingest/pipeline/sparse", body)
        assert status == 400
        assert info["error"]["reason"] == "No processor type exists with name [sparse_encoding]"


@pytest.mark.gates("2.12")
def test_rag_processor_needs_the_rag_feature_flag_before_2_12(cluster: TestCluster) -> None:
    rag = {
        "response_processors": [
            {"retrieval_augmented_generation": {"model_id": "llm", "context_field_list": ["t"]}}
        ]
    }
    if release(cluster) >= (2, 12):
        assert cluster.client.search_pipeline.put(id="rag", body=rag) == {"acknowledged": True}
        return
    status, info = error(cluster.client, "PUT", "/_search/pipeline/rag", rag)
    assert (status, info["error"]["reason"]) == (
        500,
        "plugins.ml_commons.rag_pipeline_feature_enabled is not enabled.",
    )


# -- index settings (CONS §3) -----------------------------------------------------------
def test_default_pipelines_of_every_index_in_one_request(cluster: TestCluster) -> None:
    client = cluster.client
    ingest, plain, search = unique("ingest-idx"), unique("plain-idx"), unique("search-idx")
    client.indices.create(index=ingest, body={"settings": {"index.default_pipeline": "p1"}})
    client.indices.create(index=plain)
    client.indices.create(index=search)
    client.indices.put_settings(
        index=search, body={"index": {"search": {"default_pipeline": "s1"}}}
    )
    answer = client.indices.get_settings(index="_all", name=SETTING_NAMES)
    assert answer[ingest] == {"settings": {"index": {"default_pipeline": "p1"}}}
    assert answer[search] == {"settings": {"index": {"search": {"default_pipeline": "s1"}}}}
    assert plain not in answer  # indices with none of the names are left out
    flat = client.indices.get_settings(
        index="_all", name=SETTING_NAMES, params={"flat_settings": "true"}
    )
    assert flat[search] == {"settings": {"index.search.default_pipeline": "s1"}}
    client.indices.put_settings(index=ingest, body={"index.default_pipeline": "_none"})
    assert client.indices.get_settings(index=ingest, name="index.default_pipeline") == {
        ingest: {"settings": {"index": {"default_pipeline": "_none"}}}
    }


def test_pipelines_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.json"
    with Sandbox("2.19", data=data) as first:
        client = client_for(first)
        client.ingest.put_pipeline(id="embed", body={"processors": [EMBEDDING]})
        client.search_pipeline.put(id="s", body={"request_processors": []})
    with Sandbox("2.19", data=data) as second:
        client = client_for(second)
        assert client.ingest.get_pipeline() == {"embed": {"processors": [EMBEDDING]}}
        assert client.search_pipeline.get() == {"s": {"request_processors": []}}


# -- agents (CONS §4) -------------------------------------------------------------------
def flow_agent(model_id: str, **extra: Any) -> dict[str, Any]:
    tool = {"type": "MLModelTool", "name": "ask", "parameters": {"model_id": model_id}}
    return {"name": "probe", "type": "flow", "tools": [tool], **extra}


def enable_agents(cluster: TestCluster) -> None:
    if release(cluster) < (2, 12):
        pytest.skip("agents start at 2.12")
    cluster.client.cluster.put_settings(body={"persistent": {FRAMEWORK: True}})


@pytest.mark.gates("2.12", "2.13")
def test_agent_routes_and_the_framework_setting(cluster: TestCluster) -> None:
    client, body = cluster.client, flow_agent("m")
    if release(cluster) < (2, 12):
        status, info = error(client, "POST", "/_plugins/_ml/agents/_register", body)
        assert (status, info) == (
            400,
            {
                "error": "no handler found for uri [/_plugins/_ml/agents/_register] and method [POST]"
            },
        )
        return
    if release(cluster) == (2, 12):  # disabled by default at 2.12 only
        status, info = error(client, "POST", "/_plugins/_ml/agents/_register", body)
        assert status == 500
        assert reason(info) == (
            "illegal_state_exception",
            "Agent Framework is currently disabled. To enable it, update the setting "
            '"plugins.ml_commons.agent_framework_enabled" to true.',
        )
        enable_agents(cluster)
    assert client.plugins.ml.register_agents(body=body)["agent_id"]


def test_agent_register_get_search_delete(cluster: TestCluster) -> None:
    enable_agents(cluster)
    client = cluster.client
    body = flow_agent("model-1", description="d", parameters={"k": 5, "nested": {"a": 1}})
    agent_id = client.plugins.ml.register_agents(body=body)["agent_id"]
    stored = client.plugins.ml.get_agent(agent_id=agent_id)
    assert "agent_id" not in stored
    assert (stored["name"], stored["type"], stored["description"]) == ("probe", "flow", "d")
    assert stored["parameters"] == {"k": "5", "nested": '{"a":1}'}  # stringified (CONS §4.2)
    assert stored["tools"] == [
        {
            "type": "MLModelTool",
            "name": "ask",
            "parameters": {"model_id": "model-1"},
            "include_output_in_agent_response": False,
        }
    ]
    assert stored["is_hidden"] is False
    assert stored["created_time"] == stored["last_updated_time"]
    hits = client.plugins.ml.search_agents(body={"query": {"term": {"type": "flow"}}})["hits"]
    assert agent_id in [hit["_id"] for hit in hits["hits"]]
    assert client.plugins.ml.delete_agent(agent_id=agent_id)["result"] == "deleted"
    status, info = error(client, "GET", f"/_plugins/_ml/agents/{agent_id}")
    assert (status, info["error"]["reason"]) == (
        404,
        f"Failed to find agent with the provided agent id: {agent_id}",
    )


def test_agent_reads_before_any_agent_exists(cluster: TestCluster) -> None:
    cluster.require_sandbox()
    enable_agents(cluster)
    status, info = error(cluster.client, "GET", "/_plugins/_ml/agents/x")
    assert (status, info["error"]["reason"]) == (404, "Failed to get agent index")
    status, info = error(
        cluster.client, "POST", "/_plugins/_ml/agents/_search", {"query": {"match_all": {}}}
    )
    assert (status, reason(info)) == (
        404,
        ("index_not_found_exception", "no such index [.plugins-ml-agent]"),
    )


def test_register_does_not_check_the_models_it_names(cluster: TestCluster) -> None:
    enable_agents(cluster)
    body = flow_agent("no-such-model", llm={"model_id": "no-such-llm"})
    assert cluster.client.plugins.ml.register_agents(body=body)["agent_id"]


@pytest.mark.gates("2.13", "3.1", "3.5")
def test_register_validation_texts(cluster: TestCluster) -> None:
    enable_agents(cluster)
    client, now = cluster.client, release(cluster)

    def refused(body: dict[str, Any]) -> str:
        status, info = error(client, "POST", "/_plugins/_ml/agents/_register", body)
        assert status == 400 and info["error"]["type"] == "illegal_argument_exception"
        return str(info["error"]["reason"])

    assert refused({"type": "flow"}) == (
        "Agent name can't be null" if now >= (2, 13) else "agent name is null"
    )
    tool = {"type": "MLModelTool", "parameters": {"model_id": "m"}}
    duplicate = refused({"name": "a", "type": "flow", "tools": [tool, tool]})
    assert duplicate == (
        "Duplicate tool defined in agent configuration"
        if now >= (3, 5)
        else "Duplicate tool defined: MLModelTool"
    )
    assert refused({"name": "a", "type": "flow", "tools": [{"name": "t"}]}) == "tool type is null"
    if now < (2, 13):
        assert client.plugins.ml.register_agents(body={"name": "a", "type": "anything"})
        return
    assert refused({"name": "a", "type": "robot"}) == (
        "Invalid Agent Type" if now >= (3, 5) else "robot is not a valid Agent Type"
    )
    assert refused({"name": "a", "type": "conversational"}) == (
        "We need model information for the conversational agent type"
    )
    long_name = {"name": "n" * 129, "type": "flow"}
    if now >= (3, 1):
        assert refused(long_name) == (
            "Agent name cannot be empty or exceed max length of 128 characters"
        )
    else:
        assert client.plugins.ml.register_agents(body=long_name)["agent_id"]


@pytest.mark.gates("2.13", "2.19")
def test_delete_of_a_missing_agent_per_release(cluster: TestCluster) -> None:
    enable_agents(cluster)
    client, now = cluster.client, release(cluster)
    client.plugins.ml.register_agents(body=flow_agent("m"))  # the index exists
    if now < (2, 13):
        assert client.plugins.ml.delete_agent(agent_id="absent")["result"] == "not_found"
        return
    status, info = error(client, "DELETE", "/_plugins/_ml/agents/absent")
    expected = (
        "Fail to find ml agent"
        if now >= (2, 19)
        else "Failed to find agent with the provided agent id: absent"
    )
    assert (status, reason(info)) == (404, ("status_exception", expected))


@pytest.mark.gates("3.1", "3.4")
def test_agent_update_per_release(cluster: TestCluster) -> None:
    enable_agents(cluster)
    client, now = cluster.client, release(cluster)
    agent_id = client.plugins.ml.register_agents(body=flow_agent("old-model"))["agent_id"]
    path = f"/_plugins/_ml/agents/{agent_id}"
    new_tools = flow_agent("new-model")["tools"]
    if now < (3, 1):
        status, info = error(client, "PUT", path, {"tools": new_tools})
        assert status == 405 and "allowed: [DELETE, GET]" in info["error"]["reason"]
        return
    answer = client.transport.perform_request("PUT", path, body={"tools": new_tools})
    assert (answer["_id"], answer["result"]) == (agent_id, "updated")
    stored = client.plugins.ml.get_agent(agent_id=agent_id)
    assert stored["tools"][0]["parameters"]["model_id"] == "new-model"
    assert stored["name"] == "probe"  # omitted fields are kept
    if now >= (3, 4):
        status, info = error(client, "PUT", path, {"type": "conversational_flow"})
        assert (status, info["error"]["reason"]) == (400, "Agent type cannot be updated")
    else:
        client.transport.perform_request("PUT", path, body={"type": "conversational_flow"})
        assert client.plugins.ml.get_agent(agent_id=agent_id)["type"] == "flow"


# -- execute (CONS §4.8) ----------------------------------------------------------------
def openai_model(client: OpenSearch) -> str:
    connector = {
        "name": "chat",
        "description": "chat",
        "version": 1,
        "protocol": "http",
        "parameters": {"model": "gpt-4o-mini"},
        "credential": {"openAI_key": "sk-dummy"},
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": "https://api.openai.com/v1/chat/completions",
                "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                "request_body": (
                    '{"model": "${parameters.model}", "messages": '
                    '[{"role": "user", "content": "${parameters.question}"}]}'
                ),
            }
        ],
    }
    connector_id = client.plugins.ml.create_connector(body=connector)["connector_id"]
    body = {"name": "chat", "function_name": "remote", "connector_id": connector_id}
    answer = client.transport.perform_request(
        "POST", "/_plugins/_ml/models/_register", params={"deploy": "true"}, body=body
    )
    model_id = (
        answer.get("model_id") or client.plugins.ml.get_task(task_id=answer["task_id"])["model_id"]
    )
    wait_deployed(client, str(model_id))
    return str(model_id)


def test_flow_agent_runs_its_model_through_predict(cluster: TestCluster) -> None:
    cluster.require_sandbox()  # the model's provider is the sandbox's OpenAI emulator
    enable_agents(cluster)
    if release(cluster) < (2, 12):
        return
    client = cluster.client
    model_id = openai_model(client)
    agent = flow_agent(model_id)
    agent["tools"][0]["parameters"]["response_field"] = "choices"
    agent_id = client.plugins.ml.register_agents(body=agent)["agent_id"]
    answer = client.plugins.ml.execute_agent(
        agent_id=agent_id, body={"parameters": {"question": "is the model there"}}
    )
    [output] = answer["inference_results"][0]["output"]
    assert output["name"] == "response"
    assert "(sandbox OpenAI emulator) You said: is the model there" in output["result"]


def test_execute_errors_use_the_ml_error_body(cluster: TestCluster) -> None:
    enable_agents(cluster)
    client, now = cluster.client, release(cluster)
    empty = client.plugins.ml.register_agents(body={"name": "empty", "type": "flow"})["agent_id"]
    status, info = error(
        client, "POST", f"/_plugins/_ml/agents/{empty}/_execute", {"parameters": {}}
    )
    assert (status, info) == (
        400,
        {
            "status": 400,
            "error": {
                "type": "IllegalArgumentException",
                "reason": "Invalid Request",
                "details": "no tool configured",
            },
        },
    )
    status, info = error(client, "POST", "/_plugins/_ml/agents/absent/_execute", {"parameters": {}})
    assert (status, info["status"], info["error"]["reason"]) == (404, 404, "System Error")
    assert info["error"]["details"] == (
        "Failed to find agent with the provided agent id: absent"
        if now >= (2, 19)
        else "Agent not found"
    )


def test_execute_reports_a_model_that_is_not_deployed(cluster: TestCluster) -> None:
    cluster.require_sandbox()
    enable_agents(cluster)
    client = cluster.client
    agent_id = client.plugins.ml.register_agents(body=flow_agent("no-such-model"))["agent_id"]
    status, info = error(
        client, "POST", f"/_plugins/_ml/agents/{agent_id}/_execute", {"parameters": {"q": "x"}}
    )
    # The predict's own 404 (reference §6), in the execute error body.
    assert (status, info["status"], info["error"]["type"]) == (
        404,
        404,
        "OpenSearchStatusException",
    )
    assert info["error"]["details"].endswith("model id: no-such-model")
