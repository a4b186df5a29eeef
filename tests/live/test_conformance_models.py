"""Conformance of the remote-model API (reference §6): register, get, search, update, deploy,
undeploy and delete, with every error text reachable without security, per version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.conformance import (
    ML,
    OPENAI_URL,
    World,
    call,
    connector_body,
    reason,
    release,
    unique,
)

REGISTER = f"{ML}/models/_register"
DEPLOYED_DELETE = (
    "Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete"
)


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


def _inline(**overrides: Any) -> dict[str, Any]:
    body = connector_body(**overrides)
    return {k: v for k, v in body.items() if k != "name"} | {"name": "inline"}


def _register(cluster: Any, world: World, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer = call(cluster.client, "POST", REGISTER, body)
    if status == 200:
        world.models.append(answer.get("model_id") or world.task_model_id(answer["task_id"]))
    return status, answer


REGISTER_ERRORS = [
    ("function-name-missing", {"name": "m"}, 400, "model format is null"),
    ("function-name-wrong", {"name": "m", "function_name": "bogus"}, 400, "Wrong function name"),
    ("name-missing", {"function_name": "remote"}, 400, "model name is null"),
    (
        "no-connector",
        {"name": "m", "function_name": "remote"},
        400,
        "You must provide connector content when creating a remote model without connector id!",
    ),
    (
        "inline-without-predict",
        {
            "name": "m",
            "function_name": "remote",
            "connector": _inline(
                actions=[{"action_type": "EXECUTE", "method": "POST", "url": OPENAI_URL}]
            ),
        },
        400,
        "Connector endpoint is required when creating a remote model without connector id!",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [row[1:] for row in REGISTER_ERRORS],
    ids=[row[0] for row in REGISTER_ERRORS],
)
def test_register_errors(cluster: Any, world: World, body: Any, status: int, text: str) -> None:
    rel = release(cluster.version)
    if "EXECUTE" in str(body) and rel < (2, 15):
        text = (
            "No enum constant org.opensearch.ml.common.connector.ConnectorAction.ActionType.EXECUTE"
        )
    got_status, answer = _register(cluster, world, body)
    assert (got_status, reason(answer)) == (status, text)


@pytest.mark.gates("3.2")
def test_register_inline_untrusted(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    url = "https://evil.example/v1"
    inline = _inline(actions=[{"action_type": "PREDICT", "method": "POST", "url": url}])
    status, answer = _register(
        cluster, world, {"name": "m", "function_name": "remote", "connector": inline}
    )
    text = "Connector URL is not matching the trusted connector endpoint regex"
    assert (status, reason(answer)) == (400, f"{text}, URL is: {url}" if rel <= (3, 1) else text)


@pytest.mark.gates("3.1")
def test_register_name_safe_text(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    body = {
        "name": "bad;name",
        "function_name": "remote",
        "connector_id": world.connector(),
        "model_group_id": world.group(),
    }
    status, answer = _register(cluster, world, body)
    if rel < (3, 1):
        assert status == 200
        return
    assert (status, reason(answer)) == (
        400,
        "Validation Failed: 1: Model name can only contain letters, numbers, spaces, and "
        "basic punctuation (.,!?():@-_'/\");",
    )


@pytest.mark.gates("3.7")
def test_register_keeps_provisioned_by_from_3_7(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    base = {"function_name": "remote", "connector_id": world.connector()}
    bad = {**base, "name": unique("m"), "provisioned_by": "osml;x", "model_group_id": world.group()}
    status, answer = _register(cluster, world, bad)
    if rel >= (3, 7):
        assert (status, reason(answer)) == (
            400,
            "Validation Failed: 1: Model provisioned_by field can only contain letters, "
            "numbers, spaces, and basic punctuation (.,!?():@-_'/\");",
        )
    else:
        assert status == 200, answer
    good = {**base, "name": unique("m"), "provisioned_by": "osml", "model_group_id": world.group()}
    assert _register(cluster, world, good)[0] == 200
    body = call(cluster.client, "GET", f"{ML}/models/{world.models[-1]}")[1]
    assert (body.get("provisioned_by") == "osml") is (rel >= (3, 7))


@pytest.mark.gates("2.16")
def test_register_unknown_connector_id(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    world.connector()
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "connector_id": "no-such-connector",
        "model_group_id": world.group(),
    }
    status, answer = _register(cluster, world, body)
    if rel >= (2, 16):
        assert status == 404 and str(reason(answer)).startswith("Failed to find connector")
    else:
        assert status == 200  # accepted; only deploy/predict would fail


def test_register_unknown_group(cluster: Any, world: World) -> None:
    world.group()
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "connector_id": world.connector(),
        "model_group_id": "no-such-group",
    }
    status, answer = _register(cluster, world, body)
    assert (status, reason(answer)) == (500, "Model Group Response is empty for no-such-group")


@pytest.mark.gates("2.10", "2.11")
def test_register_without_group_reuses_or_collides(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    name = unique("model")
    connector_id = world.connector()
    body = {"name": name, "function_name": "remote", "connector_id": connector_id}
    assert _register(cluster, world, body)[0] == 200
    first = call(cluster.client, "GET", f"{ML}/models/{world.models[-1]}")[1]
    world.groups.append(first["model_group_id"])
    status, answer = _register(cluster, world, body)
    if rel >= (2, 11):
        second = call(cluster.client, "GET", f"{ML}/models/{world.models[-1]}")[1]
        assert status == 200 and second["model_group_id"] == first["model_group_id"]
        assert second["model_version"] == "2"
    elif rel >= (2, 10):  # the group-name text was reworded in 2.10 (§5.3)
        assert (status, reason(answer)) == (
            400,
            "The name you provided is already being used by a model group with ID: "
            f"{first['model_group_id']}.",
        )
    else:
        assert (status, reason(answer)) == (
            400,
            f"The name you provided is already being used by another model with ID: "
            f"{first['model_group_id']}. Please provide a different name",
        )


@pytest.mark.gates("2.12", "2.13", "2.14")
def test_get_model_shape(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    extra: dict[str, Any] = (
        {"deploy_setting": {"is_auto_deploy_enabled": False}} if rel >= (2, 13) else {}
    )
    model_id = world.model(**extra)
    status, body = call(cluster.client, "GET", f"{ML}/models/{model_id}")
    assert status == 200
    assert body["algorithm"] == "REMOTE" and body["model_state"] == "REGISTERED"
    assert body["model_version"] == "1"
    assert "model_id" not in body
    assert list(body)[:4] == ["name", "model_group_id", "algorithm", "model_version"]
    assert ("is_hidden" in body) is (rel >= (2, 12))
    if rel >= (2, 14):
        assert body["deploy_setting"] == {"is_auto_deploy_enabled": False, "model_ttl_minutes": -1}


def test_inline_credentials_are_never_returned(cluster: Any, world: World) -> None:
    name = unique("inline-model")
    body = {
        "name": name,
        "function_name": "remote",
        "model_group_id": world.group(),
        "connector": _inline(),
    }
    status, _ = _register(cluster, world, body)
    assert status == 200
    model = call(cluster.client, "GET", f"{ML}/models/{world.models[-1]}")[1]
    assert "credential" not in model["connector"]
    assert model["connector"]["actions"][0]["action_type"] == "PREDICT"
    query = {"query": {"term": {"name.keyword": name}}}
    hits = call(cluster.client, "POST", f"{ML}/models/_search", query)[1]["hits"]["hits"]
    assert "credential" not in hits[0]["_source"]["connector"]


def test_search_remote_models(cluster: Any, world: World) -> None:
    name = unique("model")
    model_id = world.model(name=name)
    query = {
        "query": {
            "bool": {
                "filter": [{"term": {"algorithm": "REMOTE"}}, {"term": {"name.keyword": name}}]
            }
        }
    }
    status, body = call(cluster.client, "POST", f"{ML}/models/_search", query)
    assert status == 200
    assert [hit["_id"] for hit in body["hits"]["hits"]] == [model_id]


@pytest.mark.gates("2.12")
def test_rate_limiter_must_be_positive(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "connector_id": world.connector(),
        "model_group_id": world.group(),
        "rate_limiter": {"limit": -1, "unit": "SECONDS"},
    }
    status, answer = _register(cluster, world, body)
    if rel < (2, 12):  # an unknown field before 2.12, skipped by the parser (§1.4)
        assert status == 200, answer
        return
    assert (status, reason(answer)) == (400, "Limit field must be a positive number.")


def test_register_with_deploy_true(cluster: Any, world: World) -> None:
    model_id = world.model(deploy=True)
    model = world.wait_state(model_id, "DEPLOYED")
    assert model["current_worker_node_count"] >= 1


def _put(cluster: Any, model_id: str, body: Any) -> tuple[int, Any]:
    return call(cluster.client, "PUT", f"{ML}/models/{model_id}", body)


def _needs_update_api(cluster: Any) -> tuple[int, int]:
    rel = release(cluster.version)
    if rel < (2, 12):
        pytest.skip("update model exists from 2.12")
    return rel


@pytest.mark.gates("2.12")
def test_update_model_route_before_2_12(cluster: Any, world: World) -> None:
    if release(cluster.version) >= (2, 12):
        pytest.skip("the route exists")
    status, body = _put(cluster, world.model(), {"name": "x"})
    assert status == 405 and str(reason(body)).startswith("Incorrect HTTP method for uri")


UPDATE_ERRORS = [
    ("empty-body", None, 400, "Update model request has empty body"),
    (
        "both-connectors",
        {"connector_id": "x", "connector": {"description": "y"}},
        400,
        "Model cannot have both stand-alone connector and internal connector. Please check your "
        "update input body.",
    ),
    (
        "unknown-group",
        {"model_group_id": "no-such-group"},
        404,
        "Failed to find the model group with the provided model group id in the update model "
        "input, MODEL_GROUP_ID: no-such-group",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "text"), [r[1:] for r in UPDATE_ERRORS], ids=[r[0] for r in UPDATE_ERRORS]
)
def test_update_errors(cluster: Any, world: World, body: Any, status: int, text: str) -> None:
    _needs_update_api(cluster)
    got = _put(cluster, world.model(), body)
    assert (got[0], reason(got[1])) == (status, text)


def test_update_unknown_model(cluster: Any, world: World) -> None:
    _needs_update_api(cluster)
    world.model()
    status, body = _put(cluster, "no-such-model", {"name": "x"})
    assert (status, reason(body)) == (
        404,
        "Failed to find model to update with the provided model id: no-such-model",
    )


def test_update_connector_id_on_inline_model(cluster: Any, world: World) -> None:
    _needs_update_api(cluster)
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "model_group_id": world.group(),
        "connector": _inline(),
    }
    assert _register(cluster, world, body)[0] == 200
    status, answer = _put(cluster, world.models[-1], {"connector_id": world.connector()})
    assert (status, reason(answer)) == (
        400,
        "This remote does not have a connector_id field, maybe it uses an internal connector.",
    )


@pytest.mark.gates("3.1")
def test_update_inline_connector_on_connector_id_model(cluster: Any, world: World) -> None:
    rel = _needs_update_api(cluster)
    status, answer = _put(cluster, world.model(), {"connector": {"description": "x"}})
    if rel >= (3, 1):
        assert (status, reason(answer)) == (
            400,
            "Cannot update connector settings for this model. The model was created with "
            "a connector_id and does not have an inline connector.",
        )
    else:
        assert status == 500


def test_update_moves_group_and_shows_model_id(cluster: Any, world: World) -> None:
    _needs_update_api(cluster)
    model_id = world.model()
    target = world.group()
    world.model(group_id=target)
    status, body = _put(cluster, model_id, {"model_group_id": target, "description": "moved"})
    assert status == 200 and body["result"] == "updated" and body["_id"] == model_id
    model = call(cluster.client, "GET", f"{ML}/models/{model_id}")[1]
    assert model["model_id"] == model_id
    assert (model["model_group_id"], model["model_version"]) == (target, "2")


def test_deployed_model_may_be_updated(cluster: Any, world: World) -> None:
    _needs_update_api(cluster)
    model_id = world.model()
    world.deploy(model_id)
    status, body = _put(cluster, model_id, {"description": "while deployed"})
    assert status == 200 and body["result"] == "updated"


def test_deploying_model_cannot_be_updated(cluster: Any, world: World) -> None:
    _needs_update_api(cluster)
    sandbox = cluster.require_sandbox()
    model_id = world.model()
    sandbox.faults.configure({"deploy": [{"model": model_id, "outcome": "stuck"}]})
    call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    status, body = _put(cluster, model_id, {"description": "x"})
    assert (status, reason(body)) == (
        409,
        "Model is deploying. Please wait for the model to complete deployment. "
        f"model ID {model_id}",
    )


def test_undeploy_shapes(cluster: Any, world: World) -> None:
    model_id = world.model()
    world.deploy(model_id)
    status, body = call(cluster.client, "POST", f"{ML}/models/{model_id}/_undeploy")
    assert status == 200
    assert [node["stats"] for node in body.values()] == [{model_id: "undeployed"}]
    model = world.wait_state(model_id, "UNDEPLOYED")
    assert model["planning_worker_nodes"] == [] and model["current_worker_node_count"] == 0
    status, body = call(cluster.client, "POST", f"{ML}/models/_undeploy", {})
    assert (status, reason(body)) == (400, "Must set specific model ids to undeploy")


@pytest.mark.gates("2.19")
def test_undeploy_without_a_serving_node_forces_undeployed(cluster: Any, world: World) -> None:
    """2.19: when every node answers `not_found` (no node has the model in its cache), the
    model document is written UNDEPLOYED anyway (§6.10). A model that was never deployed is
    in no node's cache, so it takes that branch on a real cluster as well as in the sandbox."""
    model_id = world.model()
    status, body = call(cluster.client, "POST", f"{ML}/models/{model_id}/_undeploy")
    assert status == 200, body
    assert all(node["stats"] == {model_id: "not_found"} for node in body.values()), body
    model = call(cluster.client, "GET", f"{ML}/models/{model_id}")[1]
    # 2.19.0 forced it only when no node answered at all (TransportUndeployModelsAction at tag
    # 2.19.0.0); the all-`not_found` case is from 2.19.1.
    patch = tuple(int(part) for part in cluster.version.split(".")[:3])
    if patch >= (2, 19, 1):
        assert model["model_state"] == "UNDEPLOYED"
        assert model["planning_worker_node_count"] == 0 and model["planning_worker_nodes"] == []
    else:
        assert model["model_state"] == "REGISTERED"


def test_redeploy_is_idempotent(cluster: Any, world: World) -> None:
    model_id = world.model()
    world.deploy(model_id)
    status, _ = call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert status == 200
    assert world.wait_state(model_id, "DEPLOYED")["model_state"] == "DEPLOYED"


@pytest.mark.gates("2.12")
def test_delete_deployed_model(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    model_id = world.model()
    world.deploy(model_id)
    status, body = call(cluster.client, "DELETE", f"{ML}/models/{model_id}")
    assert (status, reason(body)) == (400 if rel >= (2, 12) else 500, DEPLOYED_DELETE)


@pytest.mark.gates("2.11")
def test_delete_model_and_group_lifetime(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    group_id = world.group()
    model_id = world.model(group_id=group_id)
    status, body = call(cluster.client, "DELETE", f"{ML}/models/{model_id}")
    assert status == 200 and body["result"] == "deleted"
    status, body = call(cluster.client, "DELETE", f"{ML}/models/{model_id}")
    assert (status, reason(body)) == (404, "Failed to find model")
    query = {"query": {"ids": {"values": [group_id]}}}
    hits = call(cluster.client, "POST", f"{ML}/model_groups/_search", query)[1]["hits"]["hits"]
    # 2.9-2.10 deleted the group with its last model; 2.11+ keeps it (§5.7).
    assert len(hits) == (0 if rel < (2, 11) else 1)


@pytest.mark.parametrize(
    ("outcome", "state"), [("failed", "DEPLOY_FAILED"), ("partial", "PARTIALLY_DEPLOYED")]
)
def test_deploy_fault_outcomes(cluster: Any, world: World, outcome: str, state: str) -> None:
    sandbox = cluster.require_sandbox()
    model_id = world.model()
    sandbox.faults.configure({"deploy": [{"model": model_id, "outcome": outcome}]})
    call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert world.wait_state(model_id, state)["model_state"] == state


def test_undeploy_later_fault(cluster: Any, world: World) -> None:
    sandbox = cluster.require_sandbox()
    model_id = world.model()
    sandbox.faults.configure(
        {"deploy": [{"model": model_id, "outcome": "deployed", "undeploy_after": 0.05}]}
    )
    call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert world.wait_state(model_id, "UNDEPLOYED")["model_state"] == "UNDEPLOYED"


def test_bulk_undeploy_route(cluster: Any, world: World) -> None:
    model_id = world.model()
    world.deploy(model_id)
    status, body = call(cluster.client, "POST", f"{ML}/models/_undeploy", {"model_ids": [model_id]})
    assert status == 200
    assert [node["stats"] for node in body.values()] == [{model_id: "undeployed"}]
    world.wait_state(model_id, "UNDEPLOYED")


@pytest.mark.gates("3.1")
def test_text_embedding_model_config(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "connector_id": world.connector(),
        "model_group_id": world.group(),
        "model_config": {"model_type": "text_embedding"},
    }
    status, answer = _register(cluster, world, body)
    if rel < (3, 1):
        assert status == 200
        return
    assert (status, reason(answer)) == (
        400,
        "Embedding dimension must be provided for remote text embedding model",
    )


def test_custom_deployment_plan_refused(cluster: Any, world: World) -> None:
    model_id = world.model()
    status, body = call(
        cluster.client, "POST", f"{ML}/models/{model_id}/_deploy", {"node_ids": ["some-node"]}
    )
    assert (status, reason(body)) == (400, "Don't allow custom deployment plan")


@pytest.mark.gates("2.16")
def test_missing_index_answers(cluster: Any) -> None:
    cluster.require_sandbox()  # a fresh sandbox has no model or group index yet
    status, body = call(cluster.client, "GET", f"{ML}/models/any")
    assert (status, reason(body)) == (404, "Fail to find model")
    body = {
        "name": "m",
        "function_name": "remote",
        "connector_id": "c",
        "model_group_id": "no-group",
    }
    status, answer = call(cluster.client, "POST", REGISTER, body)
    if release(cluster.version) >= (2, 16):
        assert status == 404  # the connector is fetched first (preset interface)
    else:
        assert (status, reason(answer)) == (404, "Model group not found")


def test_model_from_mcp_connector(cluster: Any, world: World) -> None:
    if release(cluster.version) < (3, 3):
        pytest.skip("mcp_streamable_http exists from 3.3")
    mcp = {
        "name": unique("mcp"),
        "version": "1",
        "protocol": "mcp_streamable_http",
        "url": "https://mcp.example/mcp",
        "credential": {"k": "v"},
    }
    status, created = call(cluster.client, "POST", f"{ML}/connectors/_create", mcp)
    assert status == 200
    world.connectors.append(created["connector_id"])
    body = {
        "name": unique("m"),
        "function_name": "remote",
        "connector_id": created["connector_id"],
        "model_group_id": world.group(),
    }
    status, answer = _register(cluster, world, body)
    assert (status, reason(answer)) == (
        400,
        f"Cannot Create a Model from MCP Connector: {created['connector_id']}",
    )


@pytest.mark.gates("2.10")
def test_deploy_with_remote_inference_disabled(cluster: Any, world: World) -> None:
    if release(cluster.version) < (2, 10):
        pytest.skip("the setting exists from 2.10")
    model_id = world.model()
    key = "plugins.ml_commons.remote_inference.enabled"
    cluster.client.cluster.put_settings(body={"transient": {key: False}})
    try:
        status, body = call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    finally:
        cluster.client.cluster.put_settings(body={"transient": {key: None}})
    assert (status, reason(body)) == (
        400,
        "Remote Inference is currently disabled. To enable it, update the setting "
        '"plugins.ml_commons.remote_inference_enabled" to true.',
    )
