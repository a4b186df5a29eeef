"""Conformance of the model-group API (reference §5): texts, statuses and shapes per version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.conformance import ML, World, call, reason, release, unique

REGISTER = f"{ML}/model_groups/_register"
ACCESS_OFF = (
    "You cannot specify model access control parameters because the Security plugin "
    "or model access control is disabled on your cluster."
)
OLD_TAKEN = (
    "The name you provided is already being used by another model with ID: {id}. "
    "Please provide a different name"
)


@pytest.fixture
def world(cluster: Any) -> Iterator[World]:
    w = World(cluster.client, cluster.version)
    yield w
    w.close()


def test_register_answers_id_and_created(cluster: Any, world: World) -> None:
    status, body = call(cluster.client, "POST", REGISTER, {"name": unique("group")})
    world.groups.append(body["model_group_id"])
    assert status == 200
    assert list(body) == ["model_group_id", "status"] and body["status"] == "CREATED"


@pytest.mark.gates("2.12")
def test_register_without_name(cluster: Any) -> None:
    rel = release(cluster.version)
    status, body = call(cluster.client, "POST", REGISTER, {"description": "no name"})
    if rel >= (2, 12):
        assert (status, reason(body)) == (500, "model group name must not be null")
    else:
        assert (status, reason(body)) == (400, "model group name is null")


@pytest.mark.gates("3.1")
@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "bad;name"), ("description", "semi;colon")],
)
def test_register_safe_text(cluster: Any, world: World, field: str, value: str) -> None:
    rel = release(cluster.version)
    body = {"name": unique("group"), field: value}
    status, answer = call(cluster.client, "POST", REGISTER, body)
    if rel < (3, 1):
        world.groups.append(answer["model_group_id"])
        assert status == 200
        return
    label = "Model group name" if field == "name" else "Model group description"
    assert (status, reason(answer)) == (
        400,
        f"Validation Failed: 1: {label} can only contain letters, numbers, spaces, and basic "
        "punctuation (.,!?():@-_'/\");",
    )


@pytest.mark.gates("2.10")
def test_register_duplicate_name(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    name = unique("group")
    first = world.group(name)
    status, body = call(cluster.client, "POST", REGISTER, {"name": name})
    text = (
        f"The name you provided is already being used by a model group with ID: {first}."
        if rel >= (2, 10)
        else OLD_TAKEN.format(id=first)
    )
    assert (status, reason(body)) == (400, text)


@pytest.mark.parametrize(
    "extra",
    [{"access_mode": "public"}, {"add_all_backend_roles": False}, {"backend_roles": ["ml"]}],
    ids=["access_mode", "add_all_false", "backend_roles"],
)
def test_register_access_fields_without_security(cluster: Any, extra: dict[str, Any]) -> None:
    status, body = call(cluster.client, "POST", REGISTER, {"name": unique("group"), **extra})
    assert (status, reason(body)) == (400, ACCESS_OFF)


@pytest.mark.gates("2.12")
def test_get_group(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    group_id = world.group()
    status, body = call(cluster.client, "GET", f"{ML}/model_groups/{group_id}")
    if rel < (2, 12):
        assert status == 405  # the route does not exist; PUT and DELETE do on this path
        return
    assert status == 200
    assert body["latest_version"] == 0 and body["access"] == "public"
    assert "model_group_id" not in body and "owner" not in body
    assert list(body)[:2] == ["name", "latest_version"]
    status, body = call(cluster.client, "GET", f"{ML}/model_groups/missing-group")
    assert (status, reason(body)) == (
        404,
        "Failed to find model group with the provided model group id: missing-group",
    )


def test_search_group_by_exact_name(cluster: Any, world: World) -> None:
    name = unique("group")
    group_id = world.group(name)
    query = {"query": {"term": {"name.keyword": name}}}
    status, body = call(cluster.client, "POST", f"{ML}/model_groups/_search", query)
    assert status == 200
    assert [hit["_id"] for hit in body["hits"]["hits"]] == [group_id]


def test_update_group(cluster: Any, world: World) -> None:
    group_id = world.group()
    new_name = unique("renamed")
    path = f"{ML}/model_groups/{group_id}"
    status, body = call(cluster.client, "PUT", path, {"name": new_name, "description": "d"})
    assert (status, body) == (200, {"status": "Updated"})
    # Blank name/description are ignored rather than clearing the field (§5.6).
    assert call(cluster.client, "PUT", path, {"name": " ", "description": ""})[0] == 200
    hits = call(
        cluster.client,
        "POST",
        f"{ML}/model_groups/_search",
        {"query": {"term": {"name.keyword": new_name}}},
    )[1]["hits"]["hits"]
    assert hits[0]["_source"]["description"] == "d"


def test_update_rename_collision_uses_old_wording(cluster: Any, world: World) -> None:
    taken = unique("group")
    taken_id = world.group(taken)
    group_id = world.group()
    status, body = call(cluster.client, "PUT", f"{ML}/model_groups/{group_id}", {"name": taken})
    assert (status, reason(body)) == (400, OLD_TAKEN.format(id=taken_id))


def test_update_access_fields_without_security(cluster: Any, world: World) -> None:
    group_id = world.group()
    status, body = call(
        cluster.client, "PUT", f"{ML}/model_groups/{group_id}", {"access_mode": "private"}
    )
    assert (status, reason(body)) == (400, ACCESS_OFF)


def test_update_unknown_group(cluster: Any, world: World) -> None:
    world.group()
    status, body = call(cluster.client, "PUT", f"{ML}/model_groups/missing", {"name": "x"})
    assert status == 404
    assert reason(body) == "Failed to find model group with the provided model group id: missing"


@pytest.mark.gates("2.19")
def test_delete_group_with_models(cluster: Any, world: World) -> None:
    rel = release(cluster.version)
    group_id = world.group()
    world.model(group_id=group_id)
    status, body = call(cluster.client, "DELETE", f"{ML}/model_groups/{group_id}")
    text = "Cannot delete the model group when it has associated model versions"
    assert (status, reason(body)) == (409 if rel >= (2, 19) else 500, text)


def test_delete_unknown_and_existing_group(cluster: Any, world: World) -> None:
    group_id = world.group()
    status, body = call(cluster.client, "DELETE", f"{ML}/model_groups/unknown-group")
    assert status == 200 and body["result"] == "not_found"
    status, body = call(cluster.client, "DELETE", f"{ML}/model_groups/{group_id}")
    assert status == 200 and body["result"] == "deleted"


def test_latest_version_counts_registered_models(cluster: Any, world: World) -> None:
    group_id = world.group()
    first = world.model(group_id=group_id)
    second = world.model(group_id=group_id)
    versions = [
        call(cluster.client, "GET", f"{ML}/models/{m}")[1]["model_version"] for m in (first, second)
    ]
    assert versions == ["1", "2"]
    query = {"query": {"ids": {"values": [group_id]}}}
    hit = call(cluster.client, "POST", f"{ML}/model_groups/_search", query)[1]["hits"]["hits"][0]
    assert hit["_source"]["latest_version"] == 2


@pytest.mark.gates("3.1")
def test_register_blank_name(cluster: Any, world: World) -> None:
    status, body = call(cluster.client, "POST", REGISTER, {"name": "   "})
    if release(cluster.version) < (3, 1):
        world.groups.append(body["model_group_id"])
        assert status == 200
        return
    assert (status, reason(body)) == (
        400,
        "Validation Failed: 1: Model group name is required and cannot be null or blank;",
    )


def test_update_with_empty_body(cluster: Any, world: World) -> None:
    status, body = call(cluster.client, "PUT", f"{ML}/model_groups/{world.group()}")
    assert (status, reason(body)) == (500, "Model group request has empty body")


@pytest.mark.gates("2.12", "2.19")
def test_get_before_the_index_exists(cluster: Any) -> None:
    cluster.require_sandbox()  # a fresh sandbox has no model-group index yet
    rel = release(cluster.version)
    if rel < (2, 12):
        pytest.skip("GET model group exists from 2.12")
    status, body = call(cluster.client, "GET", f"{ML}/model_groups/any")
    if rel >= (2, 19):
        assert (status, reason(body)) == (404, "Failed to find model group index")
    else:
        assert (status, reason(body)) == (500, "Fail to find model group index")
