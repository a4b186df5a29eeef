"""Conformance of the task API (reference §7) and of the tasks register/deploy leave (§6.5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.conformance import ML, World, call, poll, reason, release, unique


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


def _register(cluster: Any, world: World) -> dict[str, Any]:
    body = {
        "name": unique("model"),
        "function_name": "remote",
        "connector_id": world.connector(),
        "model_group_id": world.group(),
    }
    status, answer = call(cluster.client, "POST", f"{ML}/models/_register", body)
    assert status == 200
    return dict(answer)


def _task_when(cluster: Any, task_id: str, *states: str) -> dict[str, Any]:
    for _ in poll():
        status, task = call(cluster.client, "GET", f"{ML}/tasks/{task_id}")
        if status == 200 and task["state"] in states:
            return dict(task)
    raise AssertionError(f"task {task_id} never reached {states}")


@pytest.mark.gates("2.11")
def test_register_response_and_task(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    answer = _register(cluster, world)
    if rel >= (2, 11):
        assert list(answer) == ["task_id", "status", "model_id"]
    else:
        assert list(answer) == ["task_id", "status"]
    assert answer["status"] == "CREATED"
    task = _task_when(cluster, answer["task_id"], "COMPLETED")
    world.models.append(task["model_id"])
    assert task["task_type"] == "REGISTER_MODEL"
    assert task["function_name"] == "REMOTE"
    assert task["is_async"] is False
    assert "task_id" not in task
    if "model_id" in answer:
        assert task["model_id"] == answer["model_id"]


@pytest.mark.gates("2.11")
def test_deploy_response_and_task(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    model_id = world.model()
    status, answer = call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert status == 200
    if rel >= (2, 11):
        assert answer["task_type"] == "DEPLOY_MODEL" and answer["status"] == "COMPLETED"
    else:
        assert answer["status"] == "CREATED" and "task_type" not in answer
    task = _task_when(cluster, answer["task_id"], "COMPLETED")
    assert task["task_type"] == "DEPLOY_MODEL"
    assert task["model_id"] == model_id
    assert task["is_async"] is True
    assert isinstance(task["worker_node"], list) and task["worker_node"]
    world.wait_state(model_id, "DEPLOYED")


@pytest.mark.gates("2.12")
def test_unknown_task(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    _register(cluster, world)  # the task index exists
    status, body = call(cluster.client, "GET", f"{ML}/tasks/no-such-task")
    if rel >= (2, 12):
        assert (status, reason(body)) == (404, "Failed to find task")
    else:
        assert (status, reason(body)) == (500, "Fail to find task")


def test_search_and_delete_finished_task(cluster: Any, world: World) -> None:
    answer = _register(cluster, world)
    task = _task_when(cluster, answer["task_id"], "COMPLETED")
    world.models.append(task["model_id"])
    query = {"query": {"term": {"model_id": task["model_id"]}}}
    status, body = call(cluster.client, "POST", f"{ML}/tasks/_search", query)
    assert status == 200
    assert answer["task_id"] in [hit["_id"] for hit in body["hits"]["hits"]]
    status, body = call(cluster.client, "DELETE", f"{ML}/tasks/{answer['task_id']}")
    assert status == 200 and body["result"] == "deleted"


def test_running_task_cannot_be_deleted(cluster: Any, world: World) -> None:
    sandbox = cluster.require_sandbox()
    model_id = world.model()
    sandbox.faults.configure({"deploy": [{"model": model_id, "outcome": "stuck"}]})
    answer = call(cluster.client, "POST", f"{ML}/models/{model_id}/_deploy")[1]
    status, body = call(cluster.client, "DELETE", f"{ML}/tasks/{answer['task_id']}")
    assert (status, reason(body)) == (
        500,
        "Task cannot be deleted in running state. Try after some time.",
    )
